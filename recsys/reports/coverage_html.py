"""The coverage report as one self-contained HTML page for editors: a dashboard that reads
like a report.

Titles and names come first, ids beside them in brackets. Every table sorts by a click on its
heading, follows the unit and date filters at the top, and downloads as CSV (the rows shown);
the whole report downloads as one ``.xlsx`` workbook embedded in the page (a sheet per table,
:mod:`recsys.reports.coverage_tables`). Charts are HTML and SVG whose text the browser draws in
its own fonts, so nothing depends on a font installed on the server, and the page needs no
file or network beyond itself. Tables scroll sideways in their own box on a phone (390 px)
rather than squeezing into one-character columns.

:func:`cjk_font` stays for the evaluation's plots (matplotlib).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import numpy as np

from recsys.exceptions import MissingExtraError, SetupError, ValidationError
from recsys.files import write_file
from recsys.reports.coverage import CoverageReport
from recsys.reports.coverage_tables import Table, coverage_tables, workbook

__all__ = ["render_html", "write_html", "cjk_font", "CJK_FONTS", "SECTIONS", "XLSX_TYPE"]

#: Fonts tried, in order, for the Chinese labels of matplotlib charts (the evaluation's plots).
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
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cjk_font(font_path: str | os.PathLike[str] | None = None):
    """The FontProperties of the CJK font, registered with matplotlib's font manager."""
    try:
        from matplotlib import font_manager
    except ImportError:
        raise MissingExtraError("the coverage page's charts", "charts") from None

    if font_path is not None and not Path(font_path).exists():  # the caller's choice: the caller's mistake
        raise ValidationError(f"no font file at {font_path}; give a CJK font file (.ttc, .ttf, .otf)",
                              field="font_path")
    candidates = [font_path] if font_path is not None else [p for p in CJK_FONTS if Path(p).exists()]
    if not candidates:  # the installation's: a server fault, not the request's
        raise SetupError(f"no CJK font for the chart labels (tried {', '.join(CJK_FONTS)}); install "
                         "fonts-wqy-microhei (apt-get install fonts-wqy-microhei) or pass font_path")
    path = str(candidates[0])
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path)


def _e(value: object) -> str:
    return html.escape(str(value))


def _heatmap(report: CoverageReport) -> str:
    """Role × topic: the hours the median member of the role can take over the target, as a
    coloured HTML table."""
    roles = sorted({(c.role, c.role_name) for c in report.supply})
    topics = sorted({c.topic for c in report.supply})
    if not roles or not topics:
        return "<p>没有角色的必修要求或没有党员，无从比较。</p>"
    cells = {(c.role, c.topic): c for c in report.supply}
    out = ["<table class='heat'><caption>可学学时中位数 ÷ 每人最高目标学时（小于 1 为不足；线下活动按名额分摊）</caption><thead><tr><th>角色</th>",
           *(f"<th>{_e(t)}</th>" for t in topics), "</tr></thead><tbody>"]
    for role, name in roles:
        out.append(f"<tr><th>{_e(name)}</th>")
        for topic in topics:
            c = cells.get((role, topic))
            if c is None or not c.target_hours:
                out.append("<td class='none'>—</td>")
                continue
            ratio = c.supply_hours / c.target_hours
            hue = round(min(ratio, 2.0) * 60)  # 0 red (nothing) → 60 yellow (just enough) → 120 green
            short = f"<br><span>缺 {len(c.short_members)} 人</span>" if c.short_members else ""
            out.append(f"<td style='background:hsl({hue},70%,80%)' data-ratio='{ratio:.3f}'>{ratio:.1f}×{short}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _histogram(report: CoverageReport) -> str:
    """How many items were shown how often in 90 days (never shown live items at 0), as SVG."""
    counts = report.served.get(90, {})
    live = [i for i, r in report.never_served.items() if r not in ("expired", "unpublished")]
    values = np.array(list(counts.values()) + [0] * len(live), dtype=int)
    if not len(values):
        return "<p>没有可统计的内容。</p>"
    top = int(values.max())
    edges = np.arange(0, top + 2) if top < 20 else np.linspace(0, top + 1, 21).round().astype(int)
    hist, _ = np.histogram(values, bins=edges)
    width, height, left, bottom = 640, 260, 48, 44
    bar = (width - left - 10) / len(hist)
    peak = max(int(hist.max()), 1)
    parts = [f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='曝光分布'>",
             f"<text x='{width / 2}' y='16' text-anchor='middle' class='title'>曝光分布（近90天基尼系数 "
             f"{report.gini.get(90, 0):.2f}）</text>"]
    for n, (count, lo, hi) in enumerate(zip(hist, edges[:-1], edges[1:])):
        h = (height - bottom - 28) * count / peak
        x, y = left + n * bar, height - bottom - h
        label = f"{lo}" if hi - lo == 1 else f"{lo}–{hi - 1}"
        parts.append(f"<rect x='{x + 1:.1f}' y='{y:.1f}' width='{bar - 2:.1f}' height='{h:.1f}'>"
                     f"<title>推送 {label} 次：{count} 条</title></rect>")
        if count:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{y - 3:.1f}' text-anchor='middle'>{count}</text>")
        if len(hist) <= 12 or n % max(1, len(hist) // 10) == 0:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{height - bottom + 16}' text-anchor='middle'>{label}</text>")
    parts.append(f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}'/>")
    parts.append(f"<text x='{width / 2}' y='{height - 6}' text-anchor='middle'>近90天被推送次数</text>")
    parts.append(f"<text x='14' y='{(height - bottom) / 2}' text-anchor='middle' "
                 f"transform='rotate(-90 14 {(height - bottom) / 2})'>内容条数</text></svg>")
    return "".join(parts)


#: Rows a table of the page holds; the workbook holds them all. A group's members to look after
#: ran to 283,000 rows, a page of 60 MB no browser on an office PC or a phone opens in time.
PAGE_ROWS = 5000


def _table(table: Table, *, heading: bool = True) -> str:
    shown = table.rows[:PAGE_ROWS]
    tools = (f"<div class='tools'><span class='count'>{len(shown)} 行</span>"
             f"<button type='button' class='csv' data-table='{table.key}'>导出 CSV</button></div>")
    title = f"<h3>{_e(table.title)}</h3>" if heading else ""
    if not table.rows:
        return f"{title}<p class='ok' id='{table.key}-empty'>{_e(table.empty)}</p>"
    more = (f"<p class='more' id='{table.key}-more'>本表共 {len(table.rows)} 行，页面列出前 {PAGE_ROWS} 行："
            "筛选、排序和导出 CSV 只含这些行；全部各行请点“导出 Excel（全部表格）”。</p>"
            if len(table.rows) > PAGE_ROWS else "")
    out = [title, more, tools, f"<div class='scroll'><table class='data' id='{table.key}' "
           f"data-title='{_e(table.title)}'><thead><tr>",
           *(f"<th scope='col' tabindex='0' aria-sort='none'>{_e(h)}</th>" for h in table.head),
           "</tr></thead><tbody>"]
    for n, row in enumerate(shown):
        attrs = ""
        if table.orgs and table.orgs[n]:
            attrs += f" data-org='{_e(table.orgs[n])}'"
        if table.dates and table.dates[n]:
            attrs += f" data-date='{_e(table.dates[n])}'"
        cells = []
        for c in row:
            value = f" data-value='{c.value}'" if c.value is not None else ""
            sub = f" <small>[{_e(c.sub)}]</small>" if c.sub else ""
            cells.append(f"<td{value}>{_e(c.text)}{sub}</td>")
        out.append(f"<tr{attrs}>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _units(report: CoverageReport) -> list[str]:
    """Every unit of the report's branches, parents included (``hxny``, ``hxny.fdgs`` ...)."""
    found = set()
    for branch in report.branch_members:
        parts = branch.split(".")
        found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return sorted(found)


_SCRIPT = r"""
(function () {
  'use strict';
  var unit = document.getElementById('unit'), from = document.getElementById('from'), to = document.getElementById('to');
  function within(org, u) { return !u || !org || org === u || org.indexOf(u + '.') === 0; }
  function apply() {
    document.querySelectorAll('table.data').forEach(function (t) {
      var shown = 0;
      t.querySelectorAll('tbody tr').forEach(function (tr) {
        var d = tr.dataset.date;
        var ok = within(tr.dataset.org, unit.value) && !(d && from.value && d < from.value) && !(d && to.value && d > to.value);
        tr.hidden = !ok; if (ok) shown++;
      });
      t.parentNode.previousElementSibling.querySelector('.count').textContent = shown + ' 行';
    });
  }
  [unit, from, to].forEach(function (el) { el.addEventListener('input', apply); el.addEventListener('change', apply); });
  function key(td) {
    var v = td.dataset.value;
    return v !== undefined ? parseFloat(v) : td.textContent.trim();
  }
  document.querySelectorAll('table.data thead th').forEach(function (th) {
    function sort() {
      var table = th.closest('table'), body = table.tBodies[0];
      var col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var up = th.getAttribute('aria-sort') !== 'ascending';
      th.parentNode.querySelectorAll('th').forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[col]), y = key(b.cells[col]);
        var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'zh-CN');
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } });
  });
  function csvCell(text) { return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text; }
  document.querySelectorAll('button.csv').forEach(function (b) {
    b.addEventListener('click', function () {
      var t = document.getElementById(b.dataset.table);
      var lines = [Array.prototype.map.call(t.tHead.rows[0].cells, function (c) { return csvCell(c.textContent.trim()); }).join(',')];
      Array.prototype.forEach.call(t.tBodies[0].rows, function (r) {
        if (!r.hidden) lines.push(Array.prototype.map.call(r.cells, function (c) { return csvCell(c.textContent.trim()); }).join(','));
      });
      // A byte-order mark, so that Excel on a Chinese Windows reads the file as UTF-8.
      var blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob); a.download = t.dataset.title + '.csv';
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    });
  });
  apply();
})();
"""

_STYLE = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1em 1.5em; color: #222; line-height: 1.5; }
h1 { color: #b71c1c; margin: .3em 0; } h2 { border-bottom: 2px solid #b71c1c; padding-bottom: .2em; margin-top: 1.5em; }
h3 { margin: 1em 0 .3em; font-size: 1.05em; }
nav { display: flex; flex-wrap: wrap; gap: .3em 1em; } nav a { color: #b71c1c; }
.filters { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center; background: #fbe9e7; padding: .6em .8em;
           border-radius: .4em; margin: .8em 0; }
.filters label { white-space: nowrap; } .filters select, .filters input { font: inherit; max-width: 14em; }
.filters a.xlsx { margin-left: auto; background: #b71c1c; color: #fff; padding: .3em .8em; border-radius: .3em;
                  text-decoration: none; white-space: nowrap; }
.tools { display: flex; gap: 1em; align-items: center; justify-content: space-between; margin: .2em 0; color: #666; }
.tools button { font: inherit; font-size: .9em; padding: .2em .7em; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid #eee; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
/* As wide as the text wants, up to a readable line; wider than the screen, the box scrolls. */
table.data { width: max-content; min-width: 100%; }
table.data th, table.data td { min-width: 4.5em; max-width: 24em; }
table.data td:first-child { min-width: 8em; }
table.data thead th { background: #fbe9e7; cursor: pointer; position: sticky; top: 0; white-space: nowrap; }
table.data th[aria-sort="ascending"]::after { content: " ▲"; } table.data th[aria-sort="descending"]::after { content: " ▼"; }
td[data-value] { text-align: right; font-variant-numeric: tabular-nums; }
small { color: #777; } .ok { color: #2e7d32; }
table.heat { width: auto; margin: .5em 0; } table.heat td { text-align: center; min-width: 4em; }
table.heat td span { font-size: .85em; color: #8b1a1a; } table.heat caption { text-align: left; color: #555; }
.chart { overflow-x: auto; } .chart svg { width: 100%; max-width: 640px; height: auto; }
.chart svg text { font-size: 12px; fill: #333; } .chart svg .title { font-size: 14px; }
.chart svg rect { fill: #c0392b; } .chart svg line { stroke: #555; }
@media (max-width: 600px) { body { padding: .5em .7em; } table { font-size: 13px; } .filters a.xlsx { margin-left: 0; } }
"""


def render_html(report: CoverageReport, *, font_path: str | os.PathLike[str] | None = None) -> str:
    """The report as a self-contained HTML page (Chinese): filters, sortable tables with CSV
    downloads, the whole report as an embedded ``.xlsx``, and charts drawn by the browser.

    Args:
        report: The coverage report.
        font_path: Ignored (the browser draws every text in its own fonts); kept so callers that
            passed one keep working.
    """
    del font_path
    scope = report.org_name(report.org)
    tables = coverage_tables(report)
    every = [t for section in tables.values() for t in section]
    xlsx = base64.b64encode(workbook(every)).decode("ascii")
    bodies = {key: "".join(_table(t, heading=len(section) > 1) for t in section) for key, section in tables.items()}
    bodies["supply"] = f"<div class='chart' id='supply-heatmap'>{_heatmap(report)}</div>" + bodies["supply"]
    bodies["exposure"] = (
        f"<p>近30天基尼系数 {report.gini.get(30, 0):.2f}，近90天 {report.gini.get(90, 0):.2f}；"
        f"近90天推送清单 {report.counts.get('served_lists_90', 0)} 份（列表中的内容和随清单告知的线下活动都计为推送）。</p>"
        f"<div class='chart' id='exposure-chart'>{_histogram(report)}</div>" + bodies["exposure"])
    bodies["duplicates"] = (f"<p>相似度阈值 {report.duplicate_threshold}（与推荐时判定“同一内容”的阈值一致；"
                            f"编码器 {_e(report.encoder)}）。</p>" + bodies["duplicates"])
    nav = "".join(f"<a href='#{k}'>{_e(v)}</a>" for k, v in SECTIONS.items())
    sections = "".join(f"<section id='{k}'><h2>{_e(v)}</h2>{bodies[k]}</section>" for k, v in SECTIONS.items())
    units = "".join(f"<option value='{_e(u)}'>{_e(report.org_name(u))}</option>" for u in _units(report))
    counts = report.counts
    filename = f"内容覆盖报告-{report.org_name(report.org) if report.org else '全部'}-{report.day}.xlsx"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>内容覆盖报告 · {_e(scope)} · {report.day}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style></head><body>
<h1 id="title">内容覆盖报告</h1>
<p id="summary">范围：{_e(scope)} · 截至 {report.day} · 内容 {counts.get('items', 0)} 条（在架 {counts.get('live_items', 0)} 条）·
党员 {counts.get('members', 0)} 名 · 缺口 {len(report.gaps)} 项</p>
<form class="filters" id="filters" onsubmit="return false">
<label>单位 <select id="unit"><option value="">全部单位</option>{units}</select></label>
<label>活动日期 从 <input type="date" id="from"></label><label>至 <input type="date" id="to"></label>
<a class="xlsx" id="xlsx" download="{_e(filename)}" href="data:{XLSX_TYPE};base64,{xlsx}">导出 Excel（全部表格）</a>
</form>
<nav>{nav}</nav>
{sections}
<script>{_SCRIPT}</script>
</body></html>
"""


def write_html(report: CoverageReport, path: str | os.PathLike[str], **kwargs) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    try:
        write_file(out, render_html(report, **kwargs))  # whole or not at all
    except OSError as exc:
        raise ValidationError(f"cannot write the report: {exc.strerror}", source=str(out)) from None
    return out
