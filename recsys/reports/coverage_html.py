"""The coverage report as one self-contained HTML page for editors.

Charts are drawn with matplotlib's object API (no pyplot state, so the service may render pages
from several threads) and inlined as SVG whose glyphs are paths: the page needs no file, font or
network beyond itself. Chinese labels use the CJK font given by path (WenQuanYi Micro Hei by
default), registered with matplotlib's font manager, because matplotlib's default fonts have no
Chinese glyphs and would draw boxes.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsys.reports.coverage import NEVER_SERVED_REASONS, REACH_FLAGS, CoverageReport, ItemRef
from recsys.exceptions import MissingExtraError, ValidationError

__all__ = ["render_html", "write_html", "cjk_font", "CJK_FONTS", "SECTIONS"]

#: Fonts tried, in order, for the Chinese labels of the charts.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
#: Section ids of the page and their Chinese headings, in order.
SECTIONS = {
    "gaps": "缺口与建议",
    "supply": "供给与需求",
    "health": "内容健康度",
    "exposure": "曝光情况",
    "duplicates": "疑似重复内容",
    "reach": "未覆盖党员（按支部）",
}
_GAP_KINDS = {"supply": "学时不足", "unreachable": "无可学内容", "kind": "缺少类型", "level": "缺少层次"}


def cjk_font(font_path: str | os.PathLike[str] | None = None):
    """The FontProperties of the CJK font, registered with matplotlib's font manager."""
    try:
        from matplotlib import font_manager
    except ImportError:
        raise MissingExtraError("the coverage page's charts", "charts") from None

    candidates = [font_path] if font_path is not None else [p for p in CJK_FONTS if Path(p).exists()]
    if not candidates or not Path(candidates[0]).exists():
        raise ValidationError(
            f"no CJK font for the chart labels (tried {font_path or ', '.join(CJK_FONTS)}); install "
            "fonts-wqy-microhei or pass font_path", field="font_path"
        )
    path = str(candidates[0])
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _heatmap(report: CoverageReport, font) -> str:
    from matplotlib.figure import Figure

    roles = sorted({(c.role, c.role_name) for c in report.supply})
    topics = sorted({c.topic for c in report.supply})
    if not roles or not topics:
        return "<p>没有角色的必修要求或没有党员，无从比较。</p>"
    ratio = np.full((len(roles), len(topics)), np.nan)
    short = np.zeros_like(ratio)
    for c in report.supply:
        r, t = roles.index((c.role, c.role_name)), topics.index(c.topic)
        ratio[r, t] = c.supply_hours / c.target_hours if c.target_hours else np.nan
        short[r, t] = len(c.short_members)
    fig = Figure(figsize=(1.2 + 0.9 * len(topics), 0.9 + 0.45 * len(roles)))
    ax = fig.add_subplot()
    im = ax.imshow(np.clip(ratio, 0, 3), cmap="RdYlGn", vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(topics)), labels=topics, fontproperties=font, rotation=35, ha="right")
    ax.set_yticks(range(len(roles)), labels=[n for _, n in roles], fontproperties=font)
    for r in range(len(roles)):
        for t in range(len(topics)):
            if not np.isnan(ratio[r, t]):
                label = f"{ratio[r, t]:.1f}×" + (f"\n缺{int(short[r, t])}人" if short[r, t] else "")
                ax.text(t, r, label, ha="center", va="center", fontsize=7, fontproperties=font)
    ax.set_title("可学学时 ÷ 人均目标学时（<1 为不足）", fontproperties=font)
    fig.colorbar(im, ax=ax, fraction=0.03)
    return _svg(fig)


def _histogram(report: CoverageReport, font) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    counts = report.served.get(90, {})
    live = [i for i, r in report.never_served.items() if r not in ("expired", "unpublished")]
    values = list(counts.values()) + [0] * len(live)
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    if values:
        top = max(values)
        ax.hist(values, bins=np.arange(0, top + 2) - 0.5 if top < 30 else 30, color="#c0392b")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 ticks
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("近90天被推送次数", fontproperties=font)
    ax.set_ylabel("内容条数", fontproperties=font)
    ax.set_title(f"曝光分布（基尼系数 {report.gini.get(90, 0):.2f}）", fontproperties=font)
    return _svg(fig)


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    if not rows:
        return f"<p class='ok'>{_e(empty)}</p>"
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(report: CoverageReport, *, font_path: str | os.PathLike[str] | None = None) -> str:
    """The report as a self-contained HTML page (Chinese), with inline SVG charts.

    Args:
        report: The coverage report.
        font_path: A CJK font file for the chart labels; default: the first of :data:`CJK_FONTS`
            that exists.

    Raises:
        ValidationError: if no CJK font is found.
    """
    font = cjk_font(font_path)
    scope = report.org or "全部组织"

    def refs(items: Sequence[ItemRef]) -> str:
        return "、".join(f"{_e(r.title)}<small>[{_e(r.id)}]</small>" for r in items) or "—"

    gaps = _table(
        ["类型", "主题", "影响人数", "问题", "建议编写", "可调整或扩充的相近内容"],
        [(_e(_GAP_KINDS[g.kind]), _e(g.topic), g.members_hurt, _e(g.detail), _e(g.commission), refs(g.closest))
         for g in report.gaps],
        "未发现缺口。",
    )
    supply = _table(
        ["角色", "主题", "党员数", "人均目标学时", "总需求学时", "线上学时(1/2/3级)", "线下学时(1/2/3级)", "不足人数"],
        [(_e(c.role_name), _e(c.topic), c.members, c.target_hours, c.demand_hours,
          " / ".join(str(v) for v in c.online_hours.values()), " / ".join(str(v) for v in c.offline_hours.values()),
          len(c.short_members)) for c in report.supply],
        "没有需要比较的角色与主题。",
    )
    health = "".join([
        "<h3>缺少的内容类型与层次</h3>",
        _table(["主题", "缺少类型", "缺少层次"],
               [(_e(t), _e("、".join(report.missing_kinds.get(t, ())) or "—"),
                 _e("、".join(f"{lv}级" for lv in report.missing_levels.get(t, ())) or "—"))
                for t in sorted(set(report.missing_kinds) | set(report.missing_levels))], "每个必修主题的类型和层次齐全。"),
        "<h3>时效性内容已陈旧</h3>", _table(["内容"], [(refs([r]),) for r in report.stale], "无陈旧的形势政策内容。"),
        "<h3>即将过期（30天内）</h3>",
        _table(["内容", "剩余天数"], [(refs([r]), int(r.value or 0)) for r in report.expiring], "无即将过期的内容。"),
        "<h3>未来30天线下活动</h3>",
        _table(["组织", "活动", "开始", "地点", "名额", "已报名", "剩余"],
               [(_e(b), refs([ItemRef(a["id"], a["title"])]), _e(a["starts"][:16]),
                 _e(a["location"]), _e(a["capacity"] if a["capacity"] is not None else "不限"), a["enrolled"],
                 _e(a["remaining"] if a["remaining"] is not None else "不限"))
                for b, acts in report.offline_upcoming.items() for a in acts], "未来30天没有线下活动。"),
        "<h3>前置链条问题</h3>",
        _table(["内容", "问题"],
               [(_e(i), _e("前置内容不存在：" + "、".join(m))) for i, m in report.broken_prerequisites.items()]
               + [("、".join(_e(i) for i in c), "前置关系成环") for c in report.prerequisite_cycles],
               "前置链条完整。"),
    ])
    never = [(i, r) for i, r in report.never_served.items()]
    exposure = "".join([
        f"<p>近30天基尼系数 {report.gini.get(30, 0):.2f}，近90天 {report.gini.get(90, 0):.2f}；"
        f"近90天推送清单 {report.counts.get('served_lists_90', 0)} 份。</p>",
        f"<div class='chart' id='exposure-chart'>{_histogram(report, font)}</div>",
        "<h3>近90天从未推送</h3>",
        _table(["内容", "原因"], [(_e(i), _e(NEVER_SERVED_REASONS[r])) for i, r in never], "所有内容近90天都推送过。"),
        "<h3>很少推送</h3>",
        _table(["内容", "次数"], [(refs([r]), int(r.value or 0)) for r in report.rarely_served], "没有很少推送的内容。"),
    ])
    duplicates = _table(
        ["内容", "最低相似度"], [(refs(refs_), f"{s:.3f}") for refs_, s in report.duplicates],
        f"未发现疑似重复（阈值 {report.duplicate_threshold}）。",
    )
    flags = list(REACH_FLAGS)
    reach = _table(
        ["支部", "党员数", *REACH_FLAGS.values()],
        [(_e(b), report.branch_members.get(b, 0),
          *(f"<span title='{_e('、'.join(f[k]))}'>{len(f[k])}</span>" + (f"<small>{_e('、'.join(f[k]))}</small>" if f[k] else "")
            for k in flags))
         for b, f in report.reach.items()],
        "范围内没有党员。",
    )
    bodies = {
        "gaps": gaps,
        "supply": f"<div class='chart' id='supply-heatmap'>{_heatmap(report, font)}</div>{supply}",
        "health": health,
        "exposure": exposure,
        "duplicates": f"<p>相似度阈值 {report.duplicate_threshold}（{_e(report.encoder)}）。</p>{duplicates}",
        "reach": reach,
    }
    nav = "".join(f"<a href='#{k}'>{_e(v)}</a>" for k, v in SECTIONS.items())
    sections = "".join(f"<section id='{k}'><h2>{_e(v)}</h2>{bodies[k]}</section>" for k, v in SECTIONS.items())
    counts = report.counts
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>内容覆盖报告 · {_e(scope)} · {report.day}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }}
h1 {{ color: #b71c1c; }} h2 {{ border-bottom: 2px solid #b71c1c; padding-bottom: .2em; }}
nav a {{ margin-right: 1em; }} table {{ border-collapse: collapse; width: 100%; margin: .5em 0 1em; font-size: 14px; }}
th, td {{ border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }}
th {{ background: #fbe9e7; }} small {{ color: #777; margin-left: 2px; }} .ok {{ color: #2e7d32; }}
.chart svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1 id="title">内容覆盖报告</h1>
<p id="summary">范围：{_e(scope)} · 截至 {report.day} · 内容 {counts.get('items', 0)} 条（在架 {counts.get('live_items', 0)} 条）·
党员 {counts.get('members', 0)} 名 · 缺口 {len(report.gaps)} 项</p>
<nav>{nav}</nav>
{sections}
</body></html>
"""


def write_html(report: CoverageReport, path: str | os.PathLike[str], **kwargs) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    try:
        out.write_text(render_html(report, **kwargs), encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot write the report: {exc.strerror}", source=str(out)) from None
    return out
