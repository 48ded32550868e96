"""The coverage workbook writes every text as text: control characters left out, nothing run as a formula."""

from __future__ import annotations

import io

import openpyxl

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
