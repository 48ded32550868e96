"""Workbooks as odd tools write them and as attackers do: a wrong size tag, a far cell, damage,
a part that expands without end. Each is read right or refused with a ValidationError naming it."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Member, ValidationError
from recsys.ingest.loaders import read_batch

HEADER = ["id", "name", "roles", "org"]
ROWS = [["m1", "李志刚", "党员", "hxny.fdgs"], ["m2", "王桂兰", "党员", "hxny.fdgs"]]


def workbook(rows=ROWS, far: tuple[int, int] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    if far is not None:
        sheet.cell(row=far[0], column=far[1], value="z")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rewrite_sheet(data: bytes, change, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with its first sheet's XML (or another ``part``) replaced by ``change(xml)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            body = old.read(info)
            new.writestr(info, change(body) if info.filename == part else body)
    return out.getvalue()


def read(tmp_path, data: bytes):
    path = tmp_path / "members.xlsx"
    path.write_bytes(data)
    return read_batch(path, Member)


@pytest.mark.parametrize("ref", [b"A1:B2", b"A1", b"A1:D2"])
def test_every_row_and_column_is_read_whatever_the_size_tag_says(tmp_path, ref):
    def tag(xml: bytes) -> bytes:
        changed, n = re.subn(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="' + ref + b'"/>', xml)
        assert n == 1
        return changed

    data = rewrite_sheet(workbook(), tag)
    batch = read(tmp_path, data)
    assert [(m.id, m.name, m.org) for m in batch.records] == [("m1", "李志刚", "hxny.fdgs"), ("m2", "王桂兰", "hxny.fdgs")]


def test_one_cell_at_the_last_row_and_column_is_read_as_a_stray_value_not_walked_to(tmp_path):
    # Its size tag claims 1,048,576 x 16,384 cells; reading them all took hours.
    with pytest.raises(ValidationError) as found:
        read(tmp_path, workbook(far=(1048576, 16384)))
    assert any(p.line == 1048576 and "column 16384" in str(p) for p in found.value.problems)


_READ_APART = """
import sys
from recsys import Member, ValidationError
from recsys.ingest.loaders import read_batch
try:
    read_batch(sys.argv[1], Member)
except ValidationError as exc:
    print("refused:", exc)
"""


@pytest.mark.parametrize("change", [
    lambda xml: re.sub(rb'\br="([A-Z0-9]+)"', rb"r='\1'", xml),  # single quotes
    lambda xml: re.sub(rb'<row r="[0-9]+"', b"<row", xml),  # rows not saying their number
    lambda xml: xml.replace(b'<row r="1048576"', b'<row r="4"'),  # a row's tag saying another
    lambda xml: xml.replace(b'r="XFD1048576"', b'r="xfd1048576"'),  # letters in lower case
    lambda xml: xml.replace(b'r="XFD1048576"', b'r = "XFD1048576"'),
], ids=["single-quotes", "rows-unnumbered", "row-says-4", "lower-case", "spaced"])
def test_a_far_cell_however_its_place_is_written_is_never_held_whole(tmp_path, change):
    # Held whole, the sheet would be 17 billion cells: the process ends, no error to catch. Read
    # in a process of its own, so that a failure here is this test's, not the whole run's.
    import subprocess
    import sys

    path = tmp_path / "members.xlsx"
    path.write_bytes(rewrite_sheet(workbook(far=(1048576, 16384)), change))
    done = subprocess.run([sys.executable, "-c", _READ_APART, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("refused:") and "column 16384" in done.stdout


@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_a_sheet_damaged_after_the_workbook_opens_is_refused_by_name(tmp_path, damage):
    rows = [[f"m{n}", "党员甲", "党员", "hxny.fdgs"] for n in range(400)]
    if damage == "cut":
        data = rewrite_sheet(workbook(rows), lambda xml: xml[: len(xml) // 2])
    else:  # bytes of the sheet's compressed stream changed: its checksum no longer holds
        data = bytearray(workbook(rows))
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            info = z.getinfo("xl/worksheets/sheet1.xml")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
        data[start:start + 8] = bytes(b ^ 0x5A for b in data[start:start + 8])
        data = bytes(data)
    with pytest.raises(ValidationError, match="damaged workbook|not an Excel"):
        read(tmp_path, data)


def test_a_workbook_that_expands_far_beyond_its_size_is_refused(tmp_path):
    padding = b"<!--" + b" " * (40 << 20) + b"-->"
    data = rewrite_sheet(workbook(), lambda xml: xml.replace(b"<sheetData>", padding + b"<sheetData>", 1))
    assert len(data) < 1 << 20
    with pytest.raises(ValidationError, match=r"members.xlsx: the workbook expands to 40 MiB") as refused:
        read(tmp_path, data)
    assert "not an Excel" not in str(refused.value)  # said once, not wrapped in another error


def test_a_branch_merged_over_its_members_is_every_members_branch(tmp_path):
    """A roster merges 所在支部 down over a branch's members; only the range's first cell holds
    the code. A blank cell not merged is left as it is."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["党员编号", "姓名", "所在支部", "备注"])
    for row in (("m1", "张伟", "hx.b1", "a"), ("m2", "李娜", None, None), ("m3", "王强", None, "b"),
                ("m4", "赵敏", "hx.b2", None), ("m5", "刘洋", None, None), ("m6", "陈静", None, None)):
        ws.append(list(row))
    ws.merge_cells("C2:C4")
    ws.merge_cells("C5:C6")
    ws.merge_cells("D2:D3")  # merged down too, but a note: filled as the sheet shows it
    path = tmp_path / "roster.xlsx"
    book.save(path)
    with pytest.raises(ValidationError) as err:
        read_batch(path, Member)  # m6, below the second range and not merged, has no branch
    assert [(p.line, p.field) for p in err.value.problems] == [(7, "org")]
    ws.merge_cells("C5:C7")
    book.save(path)
    batch = read_batch(path, Member)
    assert [(m.id, m.org) for m in batch.records] == [("m1", "hx.b1"), ("m2", "hx.b1"), ("m3", "hx.b1"),
                                                      ("m4", "hx.b2"), ("m5", "hx.b2"), ("m6", "hx.b2")]


def test_rows_kept_free_inside_a_merged_range_stay_blank(tmp_path):
    """A template merges 所在支部 over a branch and rows kept free for newcomers: those rows are
    blank rows, not members with a branch and nothing else."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["党员编号", "姓名", "所在支部"])
    for row in (("m1", "张伟", "hx.b1"), ("m2", "李娜", None), (None, None, None), (None, None, None), ("m3", "王强", "hx.b2")):
        ws.append(list(row))
    ws.merge_cells("C2:C5")
    path = tmp_path / "roster.xlsx"
    book.save(path)
    assert [(m.id, m.org) for m in read_batch(path, Member).records] == [("m1", "hx.b1"), ("m2", "hx.b1"), ("m3", "hx.b2")]


def test_a_roster_as_exported_is_read_below_its_title_after_an_instructions_sheet(tmp_path):
    # 填表说明 first, then the roster under a title merged across it and the export's date; the
    # branch merged down over its members.
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "填表说明"
    notes.append(["1. 党员编号在本单位内唯一；2. 所在支部按组织全称填写。"])
    sheet = book.create_sheet("党员名单")
    sheet.append(["华兴能源发电公司党员花名册"])
    sheet.merge_cells("A1:D1")
    sheet.append(["制表单位：发电公司党委", None, "截至2026年11月"])
    sheet.append(["党员编号", "姓名", "身份", "所在支部"])
    sheet.append(["m1", "李志刚", "党员", "hxny.fdgs"])
    sheet.append(["m2", "王桂兰", "党员", None])
    sheet.append(["m3", "赵刚", "不存在的身份", "hxny.fdgs"])
    sheet.merge_cells("D4:D5")
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as exc:
        read(tmp_path, out.getvalue())
    assert exc.value.line == 6 and exc.value.field == "roles"  # lines as the sheet numbers them
    sheet.delete_rows(6)
    out = io.BytesIO()
    book.save(out)
    batch = read(tmp_path, out.getvalue())
    assert [(m.id, m.name, m.org) for m in batch.records] == [("m1", "李志刚", "hxny.fdgs"), ("m2", "王桂兰", "hxny.fdgs")]


def test_a_workbook_without_a_table_on_any_sheet_names_its_sheets(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按模板填写"])
    book.create_sheet("汇总").append(["单位", "人数", "备注"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError, match=r"sheet '汇总': .*; the workbook's sheets are 填表说明, 汇总: give another "
                                              r"with --sheet"):
        read(tmp_path, out.getvalue())


@pytest.mark.parametrize("written", [
    None,
    ("sheet", lambda xml: re.sub(rb' s="([0-9]+)"', rb" s='\1'", xml)),  # either quotes
    ("sheet", lambda xml: re.sub(rb' s="([0-9]+)"', rb' s = "\1"', xml)),
    ("sheet", lambda xml: re.sub(rb'<c r="[A-Z]+[0-9]+"', b"<c", xml)),  # cells placed by their order
    ("styles", lambda xml: re.sub(rb"(<cellXfs[^>]*>)<xf [^>]*?(/>|>.*?</xf>)", rb"\1<xf/>", xml, count=1)),
], ids=["as-written", "single-quotes", "spaced", "unplaced", "bare-default-style"])
def test_an_id_shown_with_leading_zeros_is_read_as_shown(tmp_path, written):
    # Typed as numbers in cells formatted 0000, the ids read 0001, 0002 as the sheet shows them,
    # however the tool wrote the cells' and styles' tags.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["党员编号", "姓名", "所在支部", "每日学习时长"])
    for n, name in enumerate(["李志刚", "王桂兰"], start=1):
        sheet.append([n, name, "hxny.fdgs", 30])
        sheet.cell(row=n + 1, column=1).number_format = "0000"
        sheet.cell(row=n + 1, column=4).number_format = "0"
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if written is not None:
        part, change = written

        def changed(xml: bytes) -> bytes:
            assert change(xml) != xml
            return change(xml)

        data = rewrite_sheet(data, changed, "xl/worksheets/sheet1.xml" if part == "sheet" else "xl/styles.xml")
    batch = read(tmp_path, data)
    assert [(m.id, m.daily_minutes) for m in batch.records] == [("0001", 30), ("0002", 30)]


def test_a_table_away_from_the_corner_keeps_its_lines_columns_and_formats(tmp_path):
    # A title in B1, the header in B3, column A left empty; the ids typed 7 and 8 in 0000 cells,
    # their style written before their place as some tools write it. A bad branch is found at
    # the sheet's own row 5.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B1"] = "发电公司党员花名册"
    for r, row in enumerate([HEADER, [7, "李志刚", "党员", "hxny.fdgs"], [8, "王桂兰", "党员", ""]], start=3):
        for c, value in enumerate(row, start=2):
            sheet.cell(row=r, column=c, value=value)
        if r > 3:
            sheet.cell(row=r, column=2).number_format = "0000"
    out = io.BytesIO()
    book.save(out)

    def swap(xml: bytes) -> bytes:
        changed, n = re.subn(rb'<c r="(B[45])" s="([0-9]+)"', rb'<c s="\2" r="\1"', xml)
        assert n == 2
        return changed

    swapped = rewrite_sheet(out.getvalue(), swap)
    with pytest.raises(ValidationError) as err:
        read(tmp_path, swapped)
    assert [(p.line, p.record, p.field) for p in err.value.problems] == [(5, "0008", "org")]
    book.active["E5"] = "hxny.fdgs"
    out = io.BytesIO()
    book.save(out)
    assert [(m.id, m.name) for m in read(tmp_path, out.getvalue()).records] == [("0007", "李志刚"), ("0008", "王桂兰")]


def test_a_length_exported_as_a_clock_is_its_minutes(tmp_path):
    # A video portal's 时长: 00:45:00 as text or a time cell, a duration over a day's hours; a
    # started minute counts whole. 15:30 alone could be either reading, so it is refused.
    import datetime as dt

    from recsys import Item

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号", "标题", "类型", "时长", "发布日期"])
    for n, length in enumerate(["00:45:00", dt.time(0, 12, 34), dt.timedelta(hours=1, minutes=30), "1:05:00"]):
        sheet.append([f"v{n}", f"视频课程{n}", "视频", length, dt.date(2026, 11, 1)])
        if isinstance(length, dt.time):
            sheet.cell(row=n + 2, column=4).number_format = "h:mm:ss"
    path = tmp_path / "items.xlsx"
    book.save(path)
    assert [it.minutes for it in read_batch(path, Item).records] == [45, 13, 90, 65]
    # Excel's long time format, a Chinese one, a note in the format: seconds shown all the same.
    for fmt in ("[$-x-systime]h:mm:ss AM/PM", '[DBNum1][$-804]h"时"mm"分"ss"秒"', 'mm:ss" (时长)"'):
        sheet.cell(row=3, column=4).number_format = fmt
        book.save(path)
        assert [it.minutes for it in read_batch(path, Item).records] == [45, 13, 90, 65], fmt
    sheet.cell(row=3, column=4).number_format = "h:mm:ss"
    # A time cell without seconds shows 15:30 too: refused alike, not read as 930 minutes.
    for length in ("15:30", dt.time(15, 30)):
        sheet.append(["v9", "视频课程9", "视频", length, dt.date(2026, 11, 1)])
        sheet.cell(row=sheet.max_row, column=4).number_format = "h:mm"
        book.save(path)
        with pytest.raises(ValidationError, match=r"minutes.*00:15:00.*got '15:30'"):
            read_batch(path, Item)
        sheet.delete_rows(sheet.max_row)


def old_workbook(path, rows, *, merges=(), formats=None, title=None):
    """An Excel 97-2003 .xls at ``path``: ``rows`` from the top (or below a merged ``title``),
    ``merges`` of (first row, last row, column) to write merged down, ``formats`` a number format
    per (row, column)."""
    import xlwt  # a dev dependency: the tests of .xls need it, never skipped

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("党员名单")
    top = 0
    if title is not None:
        sheet.write_merge(0, 0, 0, len(rows[0]) - 1, title)
        top = 1
    merged = {(first, col) for first, _, col in merges}
    covered = {(r, col) for first, last, col in merges for r in range(first + 1, last + 1)}
    styles = {}
    for r, row in enumerate(rows, start=top):
        for c, value in enumerate(row):
            if (r, c) in covered:
                continue
            fmt = (formats or {}).get((r, c))
            style = styles.setdefault(fmt, xlwt.easyxf(num_format_str=fmt)) if fmt else xlwt.Style.default_style
            if (r, c) in merged:
                first, last, _ = next(m for m in merges if m[0] == r and m[2] == c)
                sheet.write_merge(first, last, c, c, value, style)
            else:
                sheet.write(r, c, value, style)
    book.save(str(path))
    return path


def test_an_old_excel_roster_is_read_as_a_new_one(tmp_path):
    # An HR system's .xls: a title above the header, ids in a 0000 format, the branch merged down,
    # a joining date as a date cell and one kept to the month.
    import datetime as dt

    rows = [["党员编号", "姓名", "所在支部", "入党时间", "每日学习时长", "性别"],
            [1, "王强", "hxny.fdgs.zb1", dt.date(2005, 7, 1), 30, "男"],
            [2, "李娜", None, "2010.07", 20, "女"]]
    path = old_workbook(tmp_path / "花名册.xls", rows, merges=[(2, 3, 2)], formats={(2, 0): "0000", (3, 0): "0000",
                                                                                 (2, 3): "yyyy-mm-dd"},
                        title="华兴能源发电公司党员花名册")
    batch = read_batch(path, Member)
    assert [(m.id, m.name, m.org, m.joined, m.daily_minutes) for m in batch.records] == [
        ("0001", "王强", "hxny.fdgs.zb1", dt.date(2005, 7, 1), 30), ("0002", "李娜", "hxny.fdgs.zb1", dt.date(2010, 7, 1), 20)]
    assert batch.encoding is None and [w.message[:14] for w in batch.warnings] == ["表头中的 “性别” 不是党员"]
    # A mistake is named by the sheet's own row.
    bad = old_workbook(tmp_path / "bad.xls", [rows[0], [3, "赵刚", "hxny.fdgs.zb1", "2005年13月", 30, "男"]], title="花名册")
    with pytest.raises(ValidationError) as exc:
        read_batch(bad, Member)
    assert exc.value.line == 3 and exc.value.field == "joined"


def test_a_workbook_is_known_by_its_bytes_whatever_its_name(tmp_path):
    xlsx = tmp_path / "名单.csv"
    xlsx.write_bytes(workbook())  # an .xlsx saved with a .csv name
    assert [m.id for m in read_batch(xlsx, Member).records] == ["m1", "m2"]
    named_new = tmp_path / "名单.xlsx"
    old_workbook(tmp_path / "old.xls", [HEADER, *ROWS]).rename(named_new)  # an .xls named .xlsx
    assert [m.id for m in read_batch(named_new, Member).records] == ["m1", "m2"]
    page = tmp_path / "导出.xls"
    page.write_text("<html><body><table><tr><td>党员编号</td></tr></table></body></html>", encoding="utf-8")
    with pytest.raises(ValidationError, match="web page .* save it as .xlsx"):
        read_batch(page, Member)
    page.write_text("  <html><body><table><tr><td>党员编号</td></tr></table></body></html>", encoding="utf-16")
    with pytest.raises(ValidationError, match="web page .* save it as .xlsx"):  # in UTF-16 too
        read_batch(page, Member)
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(ValidationError, match=r"broken.xls: not an Excel .xls workbook"):
        read_batch(broken, Member)


def test_a_roster_sheet_with_a_wrong_header_is_refused_by_name_not_passed_over(tmp_path):
    # The roster's header lacks 党员编号 (人员代码); the example sheet after it has every column:
    # reading the example in its place would write 张三（示例） and drop the roster.
    book = openpyxl.Workbook()
    roster = book.active
    roster.title = "党员名单"
    for row in (["人员代码", "姓名", "所在支部"], ["0001", "李志刚", "hxny.fdgs"], ["0002", "王桂兰", "hxny.fdgs"]):
        roster.append(row)
    example = book.create_sheet("填写示例")
    example.append(["党员编号", "姓名", "所在支部"])
    example.append(["0001", "张三（示例）", "hxny.fdgs"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError, match=r"members.xlsx:1: sheet '党员名单': the header row has no column 'id'"):
        read(tmp_path, out.getvalue())


def test_a_tab_separated_export_with_commas_in_its_cells_is_split_on_tabs(tmp_path):
    rows = "".join(f"m{n}\t张三{n}\thxny.yx\t党史,理论,政策,廉政,党建,经济\n" for n in range(3))
    path = tmp_path / "members.csv"
    path.write_text("编号\t姓名\t所在支部\t兴趣\n" + rows, encoding="utf-8")
    assert [m.interests[:2] for m in read_batch(path, Member).records] == [("党史", "理论")] * 3


def test_a_joining_month_typed_into_a_number_cell_is_read_or_said_ambiguous(tmp_path):
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["党员编号", "姓名", "所在支部", "入党时间"])
    sheet.append(["m1", "李志刚", "hxny.fdgs", 2005.07])
    sheet.append(["m2", "王桂兰", "hxny.fdgs", 2010.12])
    out = io.BytesIO()
    book.save(out)
    assert [m.joined for m in read(tmp_path, out.getvalue()).records] == [dt.date(2005, 7, 1), dt.date(2010, 12, 1)]
    sheet.append(["m3", "赵刚", "hxny.fdgs", 2010.1])  # 2010.1 or 2010.10 typed: January or October
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError, match="may be January or October"):
        read(tmp_path, out.getvalue())


def test_text_saved_with_an_excel_name_is_read_as_text(tmp_path):
    path = tmp_path / "导出.xls"
    path.write_bytes("编号\t姓名\t所在支部\nm1\t李志刚\thxny.fdgs\n".encode("gb18030"))
    assert [(m.id, m.name) for m in read_batch(path, Member).records] == [("m1", "李志刚")]


def formula_roster(tmp_path, *, value: bytes | None = None, text: bool = False):
    """A roster whose daily_minutes of m1 is the formula ``=20+10``, as a program writes it (no
    value kept), or with ``value`` kept as Excel does (``text``: the value is text)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append([*HEADER, "daily_minutes", ""])
    ws.append([*ROWS[0], "=20+10", "=1+1"])  # the last under no header
    ws.append([*ROWS[1], 15])
    out = io.BytesIO()
    book.save(out)

    def keep(xml: bytes) -> bytes:
        cell = b'<c r="E2"' + (b' t="str"' if text else b"") + b"><f>20+10</f><v>" + value + b"</v></c>"
        changed, n = re.subn(rb'<c r="E2"><f>20\+10</f><v ?/></c>', cell, xml)
        assert n == 1
        return changed

    data = out.getvalue() if value is None else rewrite_sheet(out.getvalue(), keep)
    path = tmp_path / "roster.xlsx"
    path.write_bytes(data)
    return path


def test_a_formula_the_workbook_keeps_no_value_for_is_refused_by_line_and_column(tmp_path):
    """A workbook written by a program keeps a formula without its value; read as empty, the
    member's daily time would have been left unset without a word."""
    with pytest.raises(ValidationError) as err:
        read_batch(formula_roster(tmp_path), Member)
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "daily_minutes")]
    assert "'daily_minutes' holds a formula whose value was never calculated" in str(err.value)
    assert "save it" in str(err.value)


def test_a_formula_with_its_value_kept_reads_as_the_value(tmp_path):
    batch = read_batch(formula_roster(tmp_path, value=b"30"), Member)
    assert [(m.id, m.daily_minutes) for m in batch.records] == [("m1", 30), ("m2", 15)]


def test_a_formula_whose_value_is_empty_text_is_an_empty_cell(tmp_path):
    batch = read_batch(formula_roster(tmp_path, value=b"", text=True), Member)
    default = Member(id="x", name="x", roles=("member",), org="o").daily_minutes
    assert [(m.id, m.daily_minutes) for m in batch.records] == [("m1", default), ("m2", 15)]


def test_a_formula_cut_from_its_value_where_the_sheet_is_read_in_chunks_still_reads_as_its_value(tmp_path):
    """The sheet's XML is read a megabyte at a time; a chunk ending just after a formula, before
    its kept value, must not make the cell one with no value."""
    path = formula_roster(tmp_path, value=b"30")

    def cut_after_formula(xml: bytes) -> bytes:
        at = xml.index(b'<c r="E2">')
        end = xml.index(b"</f>", at) + len(b"</f>")
        return xml[:at] + b" " * ((1 << 20) - end) + xml[at:]  # whitespace between cells: no change

    data = rewrite_sheet(path.read_bytes(), cut_after_formula)
    batch = read(tmp_path, data)
    assert [(m.id, m.daily_minutes) for m in batch.records] == [("m1", 30), ("m2", 15)]


def test_a_formula_with_no_value_in_a_column_left_out_refuses_nothing(tmp_path):
    """A roster's computed 年龄 (=YEAR(TODAY())-...) is no field: ignored with the other columns
    that are none, not a reason to refuse the roster."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append([*HEADER, "年龄"])
    ws.append([*ROWS[0], "=2026-1975"])
    ws.append([*ROWS[1], "=2026-1968"])
    out = io.BytesIO()
    book.save(out)
    batch = read(tmp_path, out.getvalue())
    assert [m.id for m in batch.records] == ["m1", "m2"]
    assert any("年龄" in w.message for w in batch.warnings)


def test_rows_of_formulas_with_no_value_below_the_records_are_blank_rows(tmp_path):
    """A template fills its formulas down rows no one has filled in yet: no records, as before
    the formulas were looked at."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append([*HEADER, "daily_minutes"])
    for row in ROWS:
        ws.append([*row, 20])
    for n in range(4, 9):
        ws.append([None, None, None, None, f'=IF(A{n}="","",20)'])
    out = io.BytesIO()
    book.save(out)
    batch = read(tmp_path, out.getvalue())
    assert [(m.id, m.daily_minutes) for m in batch.records] == [("m1", 20), ("m2", 20)]


def test_a_roster_of_formulas_alone_is_refused_not_read_as_empty(tmp_path):
    """Every cell a formula pulling from another sheet (=源数据!A2), saved by a program: the rows
    are the records, and none can be read; left out as blank rows, the roster read as empty."""
    book = openpyxl.Workbook()
    ws = book.active
    source = book.create_sheet("源数据")
    for row in [HEADER, *ROWS]:
        source.append(row)
    ws.append(HEADER)
    for n in (2, 3):
        ws.append([f"=源数据!{c}{n}" for c in "ABCD"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as err:
        read(tmp_path, out.getvalue())
    assert {(p.line, p.field) for p in err.value.problems} >= {(2, "id"), (3, "id")}
    assert "never calculated" in str(err.value)


@pytest.mark.parametrize("cut", [4, -100])  # the chunk ends just after the formula, or inside it
def test_a_long_formula_with_no_value_across_a_chunk_edge_is_still_refused(tmp_path, cut):
    """A nested formula of 5 KB (Excel allows 8,192 characters) whose cell straddles the edge of
    a megabyte of the sheet's XML."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append([*HEADER, "daily_minutes"])
    ws.append([*ROWS[0], "=" + "+".join(["0"] * 2500) + "+45"])
    ws.append([*ROWS[1], 15])
    out = io.BytesIO()
    book.save(out)

    def pad(xml: bytes) -> bytes:
        at = xml.index(b'<c r="E2"')
        edge = xml.index(b"</f>", at) + cut
        return xml[:at] + b" " * ((1 << 20) - edge) + xml[at:]

    with pytest.raises(ValidationError) as err:
        read(tmp_path, rewrite_sheet(out.getvalue(), pad))
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "daily_minutes")]


def test_summary_rows_of_an_export_are_left_out_with_one_warning(tmp_path):
    # A roster exported with 序号, a 小计 per branch and 合计 at the end: each had refused the
    # whole file as a member with no id.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "党员编号", "姓名", "身份", "所在支部"])
    sheet.append([1, "m1", "李志刚", "党员", "hxny.fdgs.zb1"])
    sheet.append([2, "m2", "王桂兰", "党员", "hxny.fdgs.zb1"])
    sheet.append(["小 计", None, "2人", None, None])
    sheet.append([3, "m3", "赵刚", "党员", "hxny.fdgs.zb2"])
    sheet.append([None] * 5)
    sheet.append(["合计：", None, "3人"])
    out = io.BytesIO()
    book.save(out)
    batch = read(tmp_path, out.getvalue())
    assert [m.id for m in batch.records] == ["m1", "m2", "m3"]
    totals = [w for w in batch.warnings if "汇总行" in w.message]
    assert len(totals) == 1 and totals[0].line == 4
    assert "2 行是合计、小计等汇总行（第 4、7 行）" in totals[0].message
    # A row that names a member is a record, whatever else it says: still refused when invalid.
    sheet.append(["合计", "m4", None, "党员", "hxny.fdgs.zb2"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as exc:
        read(tmp_path, out.getvalue())
    assert exc.value.line == 8 and exc.value.field == "name"


# -- the two readers of an .xlsx agree ---------------------------------------------------------
# A sheet is read whole by calamine, and a row at a time by openpyxl when it reaches too far to
# hold (a stray cell at the last row and column). Both must read every sheet alike.

_WHOLE_SECONDS = dict(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2030, 12, 31))
_NUMBER_FORMATS = st.sampled_from([None, "0000", "000000", "0.00", "0", "@"])
#: A cell's value and its number format, as exports hold them: numbers in number formats,
#: dates and times in theirs.
_CELL = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(st.integers(-(2**40), 2**40), _NUMBER_FORMATS),
    st.tuples(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: not f.is_integer()), _NUMBER_FORMATS),
    st.tuples(st.text(alphabet="党员支部ab1 -0", max_size=6), st.sampled_from([None, "@"])),
    st.tuples(st.booleans(), st.none()),
    st.tuples(st.sampled_from(["#N/A", "#REF!", "#DIV/0!", "#VALUE!"]), st.none()),  # errors: blank
    st.tuples(st.datetimes(**_WHOLE_SECONDS).map(lambda t: t.replace(microsecond=0)),
              st.sampled_from([None, "yyyy-mm-dd h:mm:ss", "yyyy/m/d h:mm"])),
    st.tuples(st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)), st.sampled_from([None, "yyyy-mm-dd", "yyyy年m月d日"])),
    st.tuples(st.times().map(lambda t: t.replace(microsecond=0)), st.sampled_from([None, "h:mm", "h:mm:ss", "mm:ss"])),
    st.tuples(st.timedeltas(dt.timedelta(0), dt.timedelta(days=5)).map(
        lambda d: dt.timedelta(seconds=int(d.total_seconds()))), st.none()),
)


def _both_readings(data: bytes, monkeypatch) -> tuple[dict, dict]:
    from recsys.ingest import tables

    def cells() -> dict:
        _, sheets = tables._workbook(data, "s.xlsx", None)
        rows = {}
        for n, row in sheets[0][1]():
            # Text of spaces alone is blank (openpyxl writes it without xml:space="preserve",
            # which calamine honours and Excel never does).
            kept = [None if isinstance(v, str) and not v.strip() else v for v in row]
            while kept and kept[-1] is None:
                kept.pop()
            if kept:
                rows[n] = kept
        return rows

    whole = cells()
    with monkeypatch.context() as m:
        m.setattr(tables, "_MOST_CELLS", -1)
        return whole, cells()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_CELL, max_size=6), min_size=1, max_size=8),
       corner=st.tuples(st.integers(0, 3), st.integers(0, 3)), merge=st.data())
def test_calamine_reads_every_sheet_as_openpyxl_row_by_row_does(rows, corner, merge, monkeypatch):
    book = openpyxl.Workbook()
    sheet = book.active
    for r, row in enumerate(rows, start=1 + corner[0]):
        for c, (value, fmt) in enumerate(row, start=1 + corner[1]):
            cell = sheet.cell(row=r, column=c, value=value)
            if fmt is not None:
                cell.number_format = fmt
    width = max((len(r) for r in rows), default=0)
    if width and len(rows) > 2:  # a range merged down one column, below the first row
        col = merge.draw(st.integers(1, width)) + corner[1]
        first = merge.draw(st.integers(2, len(rows) - 1)) + corner[0]
        last = merge.draw(st.integers(first + 1, len(rows) + corner[0]))
        sheet.merge_cells(start_row=first, start_column=col, end_row=last, end_column=col)
    out = io.BytesIO()
    book.save(out)
    whole, streamed = _both_readings(out.getvalue(), monkeypatch)
    assert whole == streamed


def test_a_sheet_whose_xml_is_not_found_is_read_a_row_at_a_time():
    # How far it reaches is unknown: held whole, a stray cell far out would end the process.
    from recsys.ingest import tables

    data = workbook(far=(1048576, 16384))
    assert tables._sheet_marks(data, None).span is None
    assert tables._sheet_marks(data, "xl/worksheets/sheet1.xml").span == 1048576 * 16384
