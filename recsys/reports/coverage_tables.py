"""The coverage report as tables: what the editors' page shows and what they download.

Every section of :class:`~recsys.reports.coverage.CoverageReport` becomes one or more
:class:`Table` s of plain cells: titles and names first, ids beside them in brackets. The page
(:mod:`recsys.reports.coverage_html`) draws them; :func:`workbook` writes them to one ``.xlsx``
with a sheet per table (editors live in Excel), and :func:`table_csv` one table to CSV, so a
download holds exactly the text the page shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.pipeline.explain import number_text
from recsys.reports.coverage import NEVER_SERVED_REASONS, REACH_FLAGS, CoverageReport, ItemRef

__all__ = ["Cell", "Table", "coverage_tables", "workbook", "table_csv", "GAP_KINDS"]

GAP_KINDS = {"supply": "学时不足", "unreachable": "无可学内容", "kind": "缺少类型", "level": "缺少层次"}


@dataclass(frozen=True)
class Cell:
    """One cell: its text, an id shown beside it (secondary), and the value it sorts by.

    Attributes:
        text: What the cell says (a title, a name, a figure).
        sub: An id shown after the text in brackets, or None.
        value: A number to sort and export by (None: sort by the text).
    """

    text: str
    sub: str | None = None
    value: float | None = None

    @property
    def plain(self) -> str:
        """The cell as one string, as the page shows it and the downloads hold it."""
        return f"{self.text} [{self.sub}]" if self.sub else self.text


@dataclass(frozen=True)
class Table:
    """One table of the page and one sheet of the workbook.

    Attributes:
        key: Its id on the page (``t-gaps`` ...).
        title: Its Chinese name (the sheet's name, the CSV's file name).
        head: Column headings.
        rows: The rows of cells.
        orgs: Per row, the unit it belongs to (for the unit filter), or empty.
        dates: Per row, a day (``YYYY-MM-DD``, for the date filter), or empty.
        empty: What the page says when there are no rows.
    """

    key: str
    title: str
    head: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    orgs: tuple[str | None, ...] = ()
    dates: tuple[str | None, ...] = ()
    empty: str = "无。"


def _n(value: float) -> Cell:
    shown = number_text(value) if isinstance(value, float) else str(value)
    return Cell(shown, value=float(value))


def _item(ref: ItemRef) -> Cell:
    return Cell(ref.title, ref.id)


def _org(report: CoverageReport, org: str) -> Cell:
    """An organisation by its display name, its code beside it; by its code where it has none."""
    name = report.org_names.get(org)
    return Cell(name, org) if name else Cell(org)


def _items(refs: Sequence[ItemRef], sep: str = "、") -> Cell:
    return Cell(sep.join(f"{r.title} [{r.id}]" for r in refs) or "—")


def coverage_tables(report: CoverageReport) -> dict[str, list[Table]]:
    """The report's tables, by section of the page (``gaps``, ``supply``, ``health``, ``exposure``,
    ``duplicates``, ``reach``), in the order the page shows them."""
    t = report.title
    gaps = Table(
        "t-gaps", "缺口与建议", ("类型", "主题", "涉及角色", "影响人数", "问题", "建议编写", "可调整或扩充的相近内容"),
        tuple((Cell(GAP_KINDS[g.kind]), Cell(g.topic), Cell("、".join(g.role_names) or "全体"), _n(g.members_hurt),
               Cell(g.detail), Cell(g.commission), _items(g.closest)) for g in report.gaps),
        empty="未发现缺口。",
    )
    supply = Table(
        "t-supply", "供给与需求", ("角色", "主题", "党员数", "每人最高目标学时", "总需求学时", "线上学时（中位数）", "线下学时（中位数）",
                              "可学学时÷目标", "不足人数"),
        tuple((Cell(c.role_name, c.role), Cell(c.topic), _n(c.members), _n(c.target_hours), _n(c.demand_hours),
               _n(round(sum(c.online_hours.values()), 2)), _n(round(sum(c.offline_hours.values()), 2)),
               _n(round(c.supply_hours / c.target_hours, 2) if c.target_hours else 0.0), _n(len(c.short_members)))
              for c in report.supply),
        empty="没有需要比较的角色与主题。",
    )
    topics = sorted(set(report.missing_kinds) | set(report.missing_levels))
    missing = Table(
        "t-missing", "缺少的类型与层次", ("主题", "缺少类型", "缺少层次"),
        tuple((Cell(topic), Cell("、".join(report.missing_kinds.get(topic, ())) or "—"),
               Cell("、".join(f"{lv}级" for lv in report.missing_levels.get(topic, ())) or "—")) for topic in topics),
        empty="每个必修主题的类型和层次齐全。",
    )
    stale = Table("t-stale", "陈旧的时效性内容", ("内容",), tuple((_item(r),) for r in report.stale),
                  empty="无陈旧的形势政策内容。")
    expiring = Table("t-expiring", "即将过期", ("内容", "剩余天数"),
                     tuple((_item(r), _n(int(r.value or 0))) for r in report.expiring), empty="30天内没有过期的内容。")
    acts = [(org, a) for org, rows in report.offline_upcoming.items() for a in rows]
    upcoming = Table(
        "t-upcoming", "未来30天线下活动", ("组织", "活动", "开始", "地点", "名额", "已报名", "剩余"),
        tuple((_org(report, org), Cell(a["title"], a["id"]), Cell(a["starts"][:16].replace("T", " ")), Cell(a["location"]),
               _n(a["capacity"]) if a["capacity"] is not None else Cell("不限"), _n(a["enrolled"]),
               _n(a["remaining"]) if a["remaining"] is not None else Cell("不限")) for org, a in acts),
        orgs=tuple(None if org == "共享" else org for org, _ in acts), dates=tuple(a["starts"][:10] for _, a in acts),
        empty="未来30天没有线下活动。",
    )
    chains = Table(
        "t-chains", "前置链条问题", ("内容", "问题"),
        tuple((Cell(t(i), i), Cell("前置内容不存在：" + "、".join(m))) for i, m in report.broken_prerequisites.items())
        + tuple((Cell("、".join(f"{t(i)} [{i}]" for i in c)), Cell("前置关系成环")) for c in report.prerequisite_cycles),
        empty="前置链条完整。",
    )
    counts90 = report.served.get(90, {})
    never = Table(
        "t-never", "近90天从未推送", ("内容", "原因"),
        tuple((Cell(t(i), i), Cell(NEVER_SERVED_REASONS[r])) for i, r in report.never_served.items()),
        empty="所有内容近90天都推送过。",
    )
    rarely = Table("t-rarely", "很少推送", ("内容", "近90天推送次数"),
                   tuple((_item(r), _n(int(r.value or 0))) for r in report.rarely_served), empty="没有很少推送的内容。")
    served = Table("t-served", "推送次数", ("内容", "近30天", "近90天"),
                   tuple((Cell(t(i), i), _n(report.served.get(30, {}).get(i, 0)), _n(n))
                         for i, n in sorted(counts90.items(), key=lambda x: (-x[1], x[0]))),
                   empty="近90天没有推送记录。")
    duplicates = Table(
        "t-duplicates", "疑似重复内容", ("内容", "条数", "最低相似度"),
        tuple((_items(refs, " ≈ "), _n(len(refs)), Cell(f"{s:.3f}", value=round(s, 3))) for refs, s in report.duplicates),
        empty=f"未发现疑似重复（阈值 {report.duplicate_threshold}）。",
    )
    flags = list(REACH_FLAGS)
    branches = list(report.reach)
    reach = Table(
        "t-reach", "未覆盖党员（按支部）", ("支部", "党员数", *REACH_FLAGS.values()),
        tuple((_org(report, b), _n(report.branch_members.get(b, 0)), *(_n(len(report.reach[b][k])) for k in flags))
              for b in branches),
        orgs=tuple(branches), empty="范围内没有党员。",
    )
    people: dict[tuple[str, str], list[str]] = {}
    for b, found in report.reach.items():
        for k in flags:
            for m in found[k]:
                people.setdefault((b, m), []).append(REACH_FLAGS[k])
    members = Table(
        "t-members", "需要关注的党员", ("支部", "党员", "情况"),
        tuple((_org(report, b), Cell(report.name(m), m), Cell("；".join(why))) for (b, m), why in sorted(people.items())),
        orgs=tuple(b for b, _ in sorted(people)), empty="每名党员都在学习。",
    )
    return {"gaps": [gaps], "supply": [supply], "health": [missing, stale, expiring, upcoming, chains],
            "exposure": [never, rarely, served], "duplicates": [duplicates], "reach": [reach, members]}


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "表"
    base, n = name, 2
    while name in used:
        name = f"{base[:28]}({n})"
        n += 1
    used.add(name)
    return name


def workbook(tables: Sequence[Table], *, title: str = "内容覆盖报告") -> bytes:
    """Every table as a sheet of one ``.xlsx`` workbook: the headings, then one row per table row,
    numbers as numbers and every other cell as the page shows it.

    Text is written as text, whatever it holds: the control characters a workbook cannot hold
    are left out (one in a member's name made the whole report fail), and text beginning with
    ``=`` stays text rather than a formula Excel would run (a name is no place for a formula).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Written row by row, never held: a group's table of members runs to 300,000 rows, and a
    # sheet kept in memory found its last row by walking every cell, once per row added.
    book = Workbook(write_only=True)
    used: set[str] = set()
    bold = Font(bold=True)

    def cell(sheet, value: str | float | None, font: Font | None = None):
        if not isinstance(value, str):
            return value
        out = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        out.data_type = "s"  # after the value: assigning "=..." makes a formula
        if font is not None:
            out.font = font
        return out

    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        sheet.freeze_panes = "A2"
        for n, heading in enumerate(table.head, start=1):  # widths before the rows, as the file has them
            longest = max([len(heading), *(len(r[n - 1].plain) for r in table.rows)])
            sheet.column_dimensions[get_column_letter(n)].width = min(60, 4 + 1.8 * longest)
        sheet.append([cell(sheet, h, bold) for h in table.head])
        for row in table.rows:
            sheet.append([cell(sheet, c.value if c.value is not None and c.sub is None else c.plain) for c in row])
    book.properties.title = title
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def table_csv(table: Table) -> str:
    """One table as CSV text (the page's CSV button makes the same from the rows it shows)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(table.head)
    for row in table.rows:
        writer.writerow([c.plain for c in row])
    return buf.getvalue()
