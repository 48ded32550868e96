"""The coverage report as an editor sees it: the HTML file from ``recsys coverage --html`` and the
``/coverage`` page of a real ``recsys serve``, opened in real headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright); plus ``GET /v1/coverage`` over HTTP.

Chinese must render: the width of a Chinese string in the page's font must equal its width in
WenQuanYi Micro Hei and be full-width (one em per character), and the charts' labels must be drawn
with that font's glyphs. Screenshots go to pytest's ``tmp_path`` and to ``evaluation/out/``.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openpyxl
import pytest

from service_support import REPO, bearer, chromium, seeded_live_server

SECTIONS = ("gaps", "supply", "health", "exposure", "duplicates", "reach")
OUT = REPO / "evaluation" / "out"

#: Width of a probe string in a given font, measured by the browser.
_PROBE = """(font) => {
  const s = document.createElement('span');
  s.style.font = '20px ' + font; s.style.whiteSpace = 'nowrap'; s.style.position = 'absolute';
  s.textContent = '党员教育覆盖';
  document.body.appendChild(s);
  const w = s.getBoundingClientRect().width; s.remove(); return w;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live ``recsys serve`` over the two-tenant world, with lists served to two members."""
    with seeded_live_server(tmp_path_factory.mktemp("coverage-live")) as (live, keys, client):
        for member in ("m-a", "m-a2"):
            r = client.get(f"/v1/members/{member}/daily", params={"day": "2026-06-01"}, headers=bearer(keys.a))
            assert r.status_code == 200, r.text
        yield live, keys


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _check_page(page, shot: Path, tmp_path: Path) -> None:
    assert page.title().startswith("内容覆盖报告")
    for section in SECTIONS:
        assert page.locator(f"section#{section} h2").is_visible(), section
    # Charts are HTML and SVG whose text the browser draws: no glyph paths, no server font.
    heat = page.locator("#supply-heatmap table.heat")
    assert heat.count() == 1 and "安全生产" in heat.inner_text()
    assert page.locator("#exposure-chart svg text").count() >= 3
    assert "近90天被推送次数" in page.locator("#exposure-chart").inner_text()
    assert page.locator("#supply-heatmap path, #exposure-chart path").count() == 0
    page_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    width = page.evaluate(_PROBE, page_font)
    wqy = page.evaluate(_PROBE, '"WenQuanYi Micro Hei"')
    assert width == pytest.approx(wqy, abs=0.5)
    assert width == pytest.approx(6 * 20, abs=2)  # six full-width characters at 20px
    title = page.locator("#title")
    assert title.inner_text() == "内容覆盖报告"
    # The heading itself, as laid out: its text is six full-width glyphs of its font size.
    text_width, size = title.evaluate("""e => { const r = document.createRange(); r.selectNodeContents(e);
        return [r.getBoundingClientRect().width, parseFloat(getComputedStyle(e).fontSize)]; }""")
    assert text_width == pytest.approx(6 * size, abs=2)
    # Titles first, ids as secondary text: the never-pushed table names items by title.
    never = page.locator("#t-never tbody tr").first.locator("td").first
    assert never.locator("small").count() == 1 and not never.inner_text().startswith("[")
    page.screenshot(path=str(tmp_path / shot.name), full_page=True)
    OUT.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / shot.name, shot)
    assert shot.stat().st_size > 10_000


def _shown_rows(page, table: str) -> list[list[str]]:
    return page.locator(f"#{table} tbody tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")


def test_html_report_file_in_chromium(server, browser, tmp_path):
    live, _ = server
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "coverage", "--store", str(live.store), "--encoder", "tfidf",
         "--day", "2026-06-01", "--html", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "内容覆盖" in done.stdout and str(report) in done.stdout
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report.as_uri())
    _check_page(page, OUT / "coverage-report.png", tmp_path)
    # Branches of both tenants: the CLI sees the whole store.
    reach = page.locator("section#reach").inner_text()
    assert "hxny.fdgs.zb-yunxing" in reach and "zjjt.zb1" in reach
    page.close()


def test_served_page_for_admin_keys(server, browser, tmp_path):
    live, keys = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    response = page.goto(f"{live.url}/coverage?key={keys.admin}&day=2026-06-01")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    _check_page(page, OUT / "coverage-page.png", tmp_path)
    reach = page.locator("section#reach").inner_text()
    assert "hxny.fdgs.zb-yunxing" in reach and "zjjt" not in reach  # the admin key's tenant only
    page.close()


def test_page_refuses_other_keys(server):
    live, keys = server
    with httpx.Client(base_url=live.url, timeout=60) as client:
        assert client.get("/coverage").status_code == 401
        assert client.get("/coverage", params={"key": "nonsense"}).status_code == 401
        assert client.get("/coverage", params={"key": keys.revoked}).status_code == 401
        denied = client.get("/coverage", params={"key": keys.a})
        assert denied.status_code == 403 and "admin" in denied.json()["error"]["message"]
        assert client.get("/coverage", headers=bearer(keys.admin)).status_code == 200


def test_json_report_is_scoped_to_the_tenant(server):
    live, keys = server
    with httpx.Client(base_url=live.url, timeout=60) as client:
        a = client.get("/v1/coverage", params={"day": "2026-06-01"}, headers=bearer(keys.a))
        b = client.get("/v1/coverage", params={"day": "2026-06-01"}, headers=bearer(keys.b))
        assert client.get("/v1/coverage").status_code == 401
        bad = client.get("/v1/coverage", params={"day": "June"}, headers=bearer(keys.a))
    assert a.status_code == 200 and b.status_code == 200
    a, b = a.json(), b.json()
    assert a["org"] == "hxny" and b["org"] == "zjjt"
    assert set(a["reach"]["branch_members"]) == {"hxny.fdgs.zb-yunxing", "hxny.jt"}
    assert set(b["reach"]["branch_members"]) == {"zjjt.zb1"}
    assert a["counts"]["served_lists_90"] == 2 and b["counts"]["served_lists_90"] == 0
    ids_b = {c["id"] for refs in b["duplicates"]["clusters"] for c in refs["items"]} | set(b["exposure"]["served"]["90"])
    assert not {"a-item", "a-branch-item"} & ids_b  # hxny's items stay hidden from zjjt
    assert bad.status_code == 422 and "day" in bad.text
    with httpx.Client(base_url=live.url, timeout=60) as client:
        unit = client.get("/v1/coverage", params={"day": "2026-06-01", "org": "hxny.jt"}, headers=bearer(keys.a))
        outside = client.get("/v1/coverage", params={"org": "zjjt"}, headers=bearer(keys.a))
        typo = client.get("/v1/coverage", params={"org": "hxny.jtt"}, headers=bearer(keys.a))
        page = client.get("/coverage", params={"key": keys.admin, "org": "hxny.jt", "day": "2026-06-01"})
    assert unit.status_code == 200 and set(unit.json()["reach"]["branch_members"]) == {"hxny.jt"}
    assert outside.status_code == 404
    assert typo.status_code == 404 and "hxny.jtt" in typo.text  # not an empty report without gaps
    assert page.status_code == 200 and "hxny.jt" in page.text and "zb-yunxing" not in page.text


def _report_file(live, tmp_path) -> Path:
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "coverage", "--store", str(live.store), "--encoder", "tfidf",
         "--day", "2026-06-01", "--html", str(report), "--xlsx", str(tmp_path / "report.xlsx")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "report.xlsx" in done.stdout
    return report


def test_dashboard_filters_sorts_and_exports(server, browser, tmp_path):
    live, _ = server
    report = _report_file(live, tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page.goto(report.as_uri())
    everyone = _shown_rows(page, "t-reach")
    assert {r[0] for r in everyone} == {"hxny.fdgs.zb-yunxing", "hxny.jt", "zjjt.zb1"}
    members = _shown_rows(page, "t-members")
    assert members and all("[" in r[1] and not r[1].startswith("m-") for r in members)  # names, ids beside
    # The .xlsx holds every table, with the rows the page shows (before any filter).
    href = page.locator("#xlsx").get_attribute("href")
    assert href.startswith("data:application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;base64,")
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
    sheet = book["未覆盖党员（按支部）"]
    rows = [[str(c) if not isinstance(c, float) else f"{c:g}" for c in r] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert rows == everyone
    heads = [c.value for c in sheet[1]]
    assert heads == page.locator("#t-reach thead th").all_inner_texts()
    assert {"缺口与建议", "供给与需求", "近90天从未推送", "需要关注的党员"} <= set(book.sheetnames)
    # The command line's --xlsx writes the same sheets.
    written = openpyxl.load_workbook(tmp_path / "report.xlsx")
    assert written.sheetnames == book.sheetnames
    assert list(written["未覆盖党员（按支部）"].values) == list(sheet.values)
    never = book["近90天从未推送"]
    assert [r[0] for r in never.iter_rows(min_row=2, values_only=True)] == [r[0] for r in _shown_rows(page, "t-never")]
    # The unit filter changes the tables.
    page.select_option("#unit", "zjjt")
    assert [r[0] for r in _shown_rows(page, "t-reach")] == ["zjjt.zb1"]
    assert {r[0] for r in _shown_rows(page, "t-members")} <= {"zjjt.zb1"}
    assert "1 行" in page.locator("#t-reach").locator("xpath=../preceding-sibling::div[1]").inner_text()
    # CSV of the rows shown, with a byte-order mark for Excel.
    with page.expect_download() as got:
        page.locator("button.csv[data-table='t-reach']").click()
    text = Path(got.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0] == heads and [row[0] for row in lines[1:]] == ["zjjt.zb1"]
    page.select_option("#unit", "")
    assert len(_shown_rows(page, "t-reach")) == 3
    # Sorting: a click on 党员数 orders the rows by it, a second click reverses them.
    header = page.locator("#t-reach thead th", has_text="党员数")
    header.click()
    ascending = [float(r[1]) for r in _shown_rows(page, "t-reach")]
    assert ascending == sorted(ascending) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(r[1]) for r in _shown_rows(page, "t-reach")] == sorted(ascending, reverse=True)
    page.close()


def test_dashboard_reads_on_a_phone(server, browser, tmp_path):
    live, keys = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    assert page.goto(f"{live.url}/coverage?key={keys.admin}&day=2026-06-01").status == 200
    # Nothing pushes the page sideways: wide tables scroll in their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # And no column is squeezed to a character or two.
    narrowest = page.evaluate("""() => Math.min(...Array.from(document.querySelectorAll('table.data td'),
                                  td => td.getBoundingClientRect().width))""")
    assert narrowest >= 50
    page.screenshot(path=str(tmp_path / "coverage-phone.png"), full_page=True)
    assert (tmp_path / "coverage-phone.png").stat().st_size > 10_000
    page.close()
