"""The coverage workbook writes every text as text: control characters left out, nothing run as a formula."""

from __future__ import annotations

import io

import openpyxl
import pytest

from recsys.reports.coverage_tables import Cell, Table, workbook


def test_names_with_control_characters_or_formulas_are_written_as_plain_text():
    rows = ((Cell("王\x0b五", sub="m1"), Cell("1", value=1.0)),
            (Cell("=HYPERLINK(\"http://x\",\"点此\")"), Cell("2", value=2.0)),
            (Cell("李\x00四"), Cell("-3", value=-3.0)))
    data = workbook([Table("t-members", "需要关注的党员", ("党员", "次数"), rows)])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["需要关注的党员"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["党员", "次数"], ["王五 [m1]", 1], ["=HYPERLINK(\"http://x\",\"点此\")", 2], ["李四", -3]]
    assert sheet["A3"].data_type == "s" and sheet["B3"].data_type == "n"


def test_a_long_table_is_listed_in_part_on_the_page_and_whole_in_the_workbook(monkeypatch):
    # A group's members to look after run to hundreds of thousands of rows: the page lists the
    # first PAGE_ROWS and says where the rest are; the workbook holds every row, its headings bold
    # above them, the view frozen below the headings and each column as wide as its text.
    from recsys.reports import coverage_html

    rows = tuple((Cell(f"第{n}支部"), Cell(f"党员{n}", sub=f"m{n:05d}")) for n in range(12))
    table = Table("t-members", "需要关注的党员", ("支部", "党员"), rows)
    monkeypatch.setattr(coverage_html, "PAGE_ROWS", 5)
    page = coverage_html._table(table)
    assert page.count("<tr>") == 1 + 5 and "m00004" in page and "m00005" not in page
    assert "本表共 12 行，页面列出前 5 行" in page and "<span class='count'>5 行</span>" in page
    sheet = openpyxl.load_workbook(io.BytesIO(workbook([table])))["需要关注的党员"]
    assert sheet.max_row == 13 and sheet["B13"].value == "党员11 [m00011]"
    assert sheet["A1"].font.b and not sheet["A2"].font.b and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width == pytest.approx(4 + 1.8 * len("党员11 [m00011]"))
    # Short tables say nothing of it.
    assert "本表共" not in coverage_html._table(Table("t-x", "表", ("a",), rows[:3]))
