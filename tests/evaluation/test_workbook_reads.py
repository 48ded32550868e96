"""The workbook-reading benchmark runs end to end at a small size and reports both readers."""

from __future__ import annotations

import json

from evaluation import workbook_reads


def test_both_readers_read_the_export_alike_and_each_stands_beside_the_floor(tmp_path):
    results = workbook_reads.main(["--rows", "300", "--repeats", "1", "--out", str(tmp_path)])
    assert results["events"] == 300
    assert results["calamine_ratio"] > 0 and results["openpyxl_ratio"] > 0
    stored = json.loads((tmp_path / "workbook_reads.json").read_text(encoding="utf-8"))
    assert stored["rows"] == 300
    report = (tmp_path / "workbook_reads.md").read_text(encoding="utf-8")
    assert "Both reads gave the same 300 events." in report and "openpyxl a row at a time" in report
