"""From the bytes of a file to rows: text encodings, CSV, JSON, JSONL and Excel workbooks.

Each reader returns ``(line, row)`` pairs, where ``line`` is where a person finds the record
again (the file's line, the sheet's row, the position in a JSON list) and ``row`` maps field
names to what the file holds, plus the problems that stop a row from being read at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import operator
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recsys.exceptions import ValidationError

__all__ = ["FORMATS", "TABLES", "decode", "table_rows", "SCHEDULE_COLUMNS", "OptionNames"]

#: File formats by suffix (a workbook is known by its first bytes too, whatever its name).
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".xlsx": "xlsx", ".xls": "xls"}
#: The formats read as tables: a header row of columns, then a record a row.
TABLES = ("csv", "xlsx", "xls")
#: The first bytes of a workbook: an .xlsx (a zip archive), an Excel 97-2003 .xls (OLE2).
_ZIP, _OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Columns that hold an offline item's schedule (also as ``schedule.starts`` ...).
SCHEDULE_COLUMNS = ("starts", "ends", "location", "capacity")
#: Encodings a Chinese export comes in, tried after UTF-8 when the detector cannot decide.
_CHINESE = "gb18030"

Rows = list[tuple[int, Any]]


@dataclass(frozen=True)
class OptionNames:
    """How the caller of a reader gives the options a refusal points to: the command line's flags
    by default (the HTTP service names its own: ``?sheet=``, a ``charset``)."""

    sheet: str = "--sheet"
    encoding: str = "--encoding"


def decode(data: bytes, encoding: str | None = None, *, source: str,
           names: OptionNames = OptionNames()) -> tuple[str, str]:
    """The text of ``data`` and the encoding it was read with.

    UTF-8 (with or without a byte-order mark) is taken when the bytes are valid UTF-8; then
    GB18030 (the superset of GBK and GB2312 that Python decodes them with) when the bytes read as
    Chinese text in it; otherwise charset-normalizer decides. GB18030 goes before the detector:
    on a short GBK export (a header and a few names) it guessed Big5 or Korean as often as not,
    and the names were stored garbled. ``encoding`` forces one (``big5`` for a Big5 export).

    Raises:
        ValidationError: the bytes are not text in the encoding forced or detected.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise ValidationError(f"unknown encoding {encoding!r}; try utf-8 or gb18030", source=source) from None
        except UnicodeDecodeError as exc:
            raise ValidationError(f"not {encoding} text ({exc.reason} at byte {exc.start})", source=source) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data, "utf-8-sig", source, names), "UTF-8 (with BOM)"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        _refuse_encoded_surrogate(data, exc, source)
    text = _as_chinese(data)
    if text is not None:
        return text, _CHINESE.upper()
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    name = best.encoding if best is not None else _CHINESE
    if name in ("gb2312", "gbk", "gb18030", "hz"):
        name = _CHINESE
    return _strict(data, name, source, names), name.upper().replace("_", "-")


def _as_chinese(data: bytes) -> str | None:
    """``data`` as GB18030 text, if it decodes so and reads as Chinese: every character beyond
    ASCII a Chinese character or Chinese or full-width punctuation, most of them in GB2312
    (the characters of names and everyday text), and no NUL (UTF-16 without a byte-order mark
    decodes as GB18030 too, with a NUL for every ASCII character). Latin-1 or Shift-JIS bytes
    decode as rare characters outside GB2312 and go to the detector."""
    try:
        text = data.decode(_CHINESE)
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    wide = [c for c in text if c > "\x7f"]
    if not wide or not all(_is_chinese(c) for c in wide):
        return None
    return text if sum(_in_gb2312(c) for c in wide) >= 0.5 * len(wide) else None


def _in_gb2312(c: str) -> bool:
    try:
        c.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _is_chinese(c: str) -> bool:
    return ("\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
            or "\u2010" <= c <= "\u2027" or c in "·×÷°")


def _refuse_encoded_surrogate(data: bytes, exc: UnicodeDecodeError, source: str) -> None:
    """UTF-8 but for an encoded lone surrogate (bytes ED A0-BF xx) is a broken UTF-8 file, not
    another encoding: name where it is rather than let a detector read it as Turkish DOS."""
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return
    line = data.count(b"\n", 0, exc.start) + 1
    raise ValidationError(f"invalid UTF-8: a lone surrogate (bytes {data[exc.start:exc.start + 3].hex(' ')}) "
                          f"at byte {exc.start}; not valid Unicode text", source=source, line=line)


def _parse_json(text: str, source: str, line: int | None) -> Any:
    """``json.loads``, with every way it can fail named by file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"invalid JSON: {exc.msg} at column {exc.colno}", source=source,
                              line=line if line is not None else exc.lineno) from None
    except RecursionError:
        column, key = _too_deep(text)
        where = f"field {key!r}" if key is not None else "a value"
        raise ValidationError(f"invalid JSON: {where} is nested more than {_MAX_DEPTH} levels deep (at column "
                              f"{column}); a record's fields are text, numbers, dates and lists of them",
                              source=source, line=line) from None
    except ValueError:  # an integer of more than 4,300 digits
        raise ValidationError("invalid JSON: a number of more than 4,300 digits", source=source, line=line) from None


#: Nesting reported as too deep; json.loads itself fails at Python's recursion limit (about 1,000).
_MAX_DEPTH = 100


def _too_deep(text: str) -> tuple[int, str | None]:
    """Where JSON ``text`` first nests deeper than :data:`_MAX_DEPTH`: its 1-based column on its
    line, and the key of the record's field holding it (None when not in a record's field)."""
    depth, key, in_string, escaped, start, line_start = 0, None, False, False, 0, 0
    for at, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if depth in (1, 2):  # a top-level key (JSONL) or a key of a record in a list (JSON)
                    rest = text[at + 1:at + 64].lstrip()
                    if rest.startswith(":"):
                        key = text[start + 1:at]
        elif char == '"':
            in_string, start = True, at
        elif char in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return at - line_start + 1, key
        elif char in "]}":
            depth -= 1
        elif char == "\n":
            line_start = at + 1
    return len(text) - line_start, key


def _strict(data: bytes, encoding: str, source: str, names: OptionNames) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"cannot tell the text encoding ({encoding} fails at byte {exc.start}); give it with {names.encoding}",
            source=source,
        ) from None


def table_rows(fmt: str, data: bytes, *, source: str, encoding: str | None = None, sheet: str | None = None,
               schedule: bool = False, required: tuple[str, ...] = (),
               column: Callable[[str], str] = str.strip, headers: Mapping[str, str] | None = None,
               fields: Collection[str] | None = None, names: OptionNames = OptionNames(),
               ) -> tuple[Rows, list[ValidationError], str | None, int | None]:
    """The rows of a file's bytes in format ``fmt`` (``csv``, ``json``, ``jsonl`` or ``xlsx``).

    Args:
        schedule: Gather the columns ``starts, ends, location, capacity`` of a table into one
            ``schedule`` field (items).
        required: Columns a table's header must have (a header without them is not a header: a
            title row above it, the wrong sheet, another kind of record).
        column: The field a table's column header names (标题 → ``title``).
        headers: A header an export writes for each field (``member`` → 党员编号), named beside a
            required column the header row lacks.
        fields: The columns the caller reads (default: every named one). A workbook's formula with
            no value kept is refused in these only: a computed column left out (年龄) harms none.
        names: How the caller gives a sheet or an encoding, for refusals that ask for one.

    Returns:
        The rows, the problems of rows that could not be read, the text encoding used (None for a
        workbook), and the line of a table's header row (None for JSON).

    Raises:
        ValidationError: the file as a whole cannot be read (not JSON, not a workbook, no such sheet).
    """
    fmt = _by_content(fmt, data, source)
    if fmt in ("xlsx", "xls"):
        sheet_names, sheets = (_workbook if fmt == "xlsx" else _old_workbook)(data, source, sheet)
        for n, (title, cells) in enumerate(sheets):
            try:
                header, rows, problems = _table(cells(), source, schedule, required, column, headers, fields)
            except _NoHeader as exc:
                if n + 1 < len(sheets) and not exc.tabular:
                    continue  # an instructions sheet (填表说明) before the table: the next may hold it
                if exc.tabular and len(sheets) > 1:
                    # A table whose header lacks a field: refused by its sheet's name, rather than a
                    # later sheet (an example, last year's copy) read in its place.
                    raise ValidationError(f"sheet {title!r}: {exc.args[0]}; the workbook's sheets are "
                                          f"{', '.join(sheet_names)}: give another with {names.sheet}",
                                          source=source, line=exc.line) from None
                if len(sheets) > 1:
                    exc.args = (f"{exc.args[0]}; no sheet of the workbook has one ({', '.join(sheet_names)}): "
                                f"give the sheet with {names.sheet}",)
                raise ValidationError(exc.args[0], source=source, line=exc.line) from None
            return rows, problems, None, header
    if sheet is not None:
        raise ValidationError(f"{names.sheet} is for Excel workbooks (.xlsx, .xls); this was read as text "
                              f"({fmt.upper()}), which has no sheets", source=source)
    text, used = decode(data, encoding, source=source, names=names)
    if fmt == "csv":
        try:
            header, rows, problems = _table(_csv_cells(text, source), source, schedule, required, column, headers,
                                            fields)
        except _NoHeader as exc:
            raise ValidationError(exc.args[0], source=source, line=exc.line) from None
        return rows, problems, used, header
    if fmt == "jsonl":
        return _jsonl_rows(text, source), [], used, None
    return _json_rows(text, source), [], used, None


def _csv_cells(text: str, source: str) -> Iterable[tuple[int, list[Any]]]:
    """Every record of a CSV text, the header's too, with the line each ends on."""
    # Excel's "Unicode text" export separates with tabs, some locales with semicolons. The first
    # line with separators decides (a title above the header may have none; the records below
    # may hold commas in their cells whatever separates them).
    lines = text.split("\n", _MOST_ABOVE + 1)[:_MOST_ABOVE + 1]
    first = next((line for line in lines if sum(line.count(d) for d in ",\t;") > 0), "")
    delimiter = max(",\t;", key=first.count) if first else ","
    # Strict: a quote opened and never closed is an error, not a cell that swallows every record
    # after it.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    return _csv_records(reader, source, 1, lambda n: text.split("\n", n)[n - 1] if n >= 1 else "")


def _csv_records(reader, source: str, first: int, line_at=lambda n: "") -> Iterator[tuple[int, list[str]]]:
    """The reader's records with the line each ends on; a malformed one a ValidationError naming
    the line it starts on (``line_at(n)``: the text of line ``n``, read only then)."""
    start = first
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                # A quote on the line is the likelier cause; a line without one holds a long text.
                quoted = '"' in line_at(start)
                why = (f"a cell longer than {csv.field_size_limit():,} characters"
                       + (", most likely from a quote (\") opened here and not closed" if quoted else "")
                       + "; a longer text goes in a JSON file")
            elif "unexpected end of data" in str(exc):
                why = "a quote (\") opened in this record is never closed: the record runs to the end of the file"
            else:
                why = f"not a CSV record ({exc})"
            raise ValidationError(why, source=source, line=start) from None
        yield reader.line_num, row
        start = reader.line_num + 1


def _by_content(fmt: str, data: bytes, source: str) -> str:
    """The format the bytes are in where they say so: a workbook saved under another name
    (an .xlsx named .xls, or .csv) is read as what it is. An "Excel" export that is a web page
    (many systems' 导出Excel) is refused with what to do."""
    if data.startswith(_ZIP) and fmt in ("csv", "xls", "xlsx"):
        return "xlsx"
    if data.startswith(_OLE2):
        return "xls"
    if fmt in ("xls", "xlsx") and _markup(data):
        raise ValidationError("this file is a web page (HTML or XML) saved with an Excel name, not a workbook: open "
                              "it in Excel or WPS and save it as .xlsx (or CSV)", source=source)
    if fmt == "xls":
        return "csv"  # text saved with an Excel name (导出Excel as tab-separated text): read as such
    return fmt


def _markup(data: bytes) -> bool:
    """Whether text starts with ``<`` (HTML or XML), in UTF-8 or, after its byte-order mark,
    UTF-16 (some systems' 导出Excel writes a web page in either)."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[2:202].decode(codec, errors="ignore").lstrip("\ufeff \t\r\n")[:1] == "<"
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def _old_workbook(data: bytes, source: str, sheet: str | None):
    """An Excel 97-2003 workbook (.xls, as many HR systems still export): its sheet names and
    a reader of each sheet to read, as :func:`_workbook`."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises many kinds for a damaged file, each "not a workbook" here
        raise ValidationError(f"not an Excel .xls workbook ({type(exc).__name__}: {exc})", source=source) from None
    names = book.sheet_names()
    if sheet is not None and sheet not in names:
        raise ValidationError(f"no sheet {sheet!r}; the workbook has {', '.join(names)}", source=source)
    wanted = [sheet] if sheet is not None else names
    return names, [(name, functools.partial(_old_sheet_cells, book, name, source)) for name in wanted]


def _old_sheet_cells(book, name: str, source: str) -> Iterable[tuple[int, list[Any]]]:
    """Every row of an .xls sheet, as :func:`_sheet_cells` gives an .xlsx sheet's."""
    try:
        ws = book.sheet_by_name(name)
    except Exception as exc:
        raise ValidationError(f"damaged workbook: sheet {name!r} cannot be read ({type(exc).__name__}: {exc})",
                              source=source) from None
    merged: dict[int, list[tuple[int, int]]] = {}
    for first, end, col, col_end in ws.merged_cells:  # 0-based, ends excluded
        if col_end - col == 1 and end - first > 1:
            merged.setdefault(col, []).append((first + 1, end))
    rows = ((r + 1, [_old_value(book, ws.cell(r, c)) for c in range(ws.ncols)]) for r in range(ws.nrows))
    return _filled_down(rows, {col: sorted(set(spans)) for col, spans in merged.items()})


def _old_value(book, cell) -> Any:
    """An .xls cell's value as an .xlsx cell's reads (see :func:`_shown`): a date as such, a
    whole number as an int; a time, or a number in a zero-padded format, as the text shown."""
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    fmt = book.format_map[book.xf_list[cell.xf_index].format_key].format_str
    if kind == xlrd.XL_CELL_DATE:
        when = xlrd.xldate.xldate_as_datetime(value, book.datemode)
        return _as_shown(when.time(), fmt) if value < 1 else when
    if kind == xlrd.XL_CELL_NUMBER:
        return _as_shown(int(value) if float(value).is_integer() else value, fmt)
    return value


def _clock(value: dt.time, fmt: str | None) -> str:
    """A time cell as the sheet shows it: with seconds (0:45:00, a length) where its format has
    them, else hours and minutes (15:30, which may be a time of day or a length in minutes and
    seconds: read as text, it is refused rather than guessed)."""
    if fmt and "s" in fmt.lower():
        return f"{value.hour}:{value.minute:02d}:{value.second:02d}"
    return f"{value.hour}:{value.minute:02d}"


def _workbook(data: bytes, source: str, sheet: str | None):
    """The sheet names and a reader of each sheet to read, in order: the one named, else every
    sheet of cells (the first holding a table is read)."""
    import zipfile

    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        _refuse_bomb(archive, source)
        paths, formats = _xlsx_parts(archive)
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except ValidationError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, CalamineError) as exc:
        raise ValidationError(f"not an Excel .xlsx workbook ({exc})", source=source) from None
    names = book.sheet_names
    if sheet is None:
        wanted = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        if not wanted:
            raise ValidationError(f"the workbook has no sheet of cells to read ({', '.join(names)})", source=source)
    elif sheet in names:
        wanted = [sheet]
    else:
        raise ValidationError(f"no sheet {sheet!r}; the workbook has {', '.join(names)}", source=source)
    return names, [(name, functools.partial(_sheet_cells, data, book, name, paths.get(name), formats, source))
                   for name in wanted]


#: The most cells a sheet may span (its last row times its last column) to be read whole into
#: memory at once (about 30 bytes a cell); one reaching further is read a row at a time.
_MOST_CELLS = 12_000_000


def _sheet_cells(data: bytes, book, name: str, path: str | None, formats: Mapping[int, str],
                 source: str) -> Iterable[tuple[int, list[Any]]]:
    """Every row of a sheet, the header's too, with its row number, merged cells filled down."""
    from python_calamine import CalamineError

    marks = _sheet_marks(data, path, formats)
    if marks.span is None or marks.span > _MOST_CELLS:
        # One cell at the last row and column (some tools leave one) spans 17 billion cells:
        # read a row at a time, it is found and named as a stray value.
        return _streamed_cells(data, name, marks, source)
    try:
        ws = book.get_sheet_by_name(name)
    except CalamineError as exc:  # cut short, a bad checksum, broken XML
        raise ValidationError(f"damaged workbook: sheet {name!r} cannot be read ({type(exc).__name__}: {exc})",
                              source=source) from None
    # Rows come from the sheet's first, columns from the first holding a value.
    before = [None] * (ws.start[1] if ws.start else 0)
    return _filled_down(_calamine_rows(ws.iter_rows(), before, marks), marks.merged)


def _calamine_rows(rows: Iterable[list[Any]], before: list[None], marks: _Marks) -> Iterator[tuple[int, list[Any]]]:
    """A sheet's rows from calamine as :func:`_shown` reads cells, with their formula cells
    that hold no value (rows of those alone lie past the rows calamine gives: it reads them as
    nothing)."""
    n = 0
    for n, row in enumerate(rows, start=1):
        yield n, _marked(n, before + _calamine_row(row, marks.formats.get(n), len(before)), marks.uncalculated)
    for later in sorted(k for k in marks.uncalculated if k > n):
        yield later, _marked(later, [], marks.uncalculated)


def _calamine_row(row: list[Any], shown: Mapping[int, str] | None, offset: int) -> list[Any]:
    """A row as :func:`_shown` reads an .xlsx cell: a whole number an int, a time or a number in
    a zero-padded format the text shown (``shown``: the formats of the row's cells that have one
    that matters, by column)."""
    for col, fmt in (shown or {}).items():
        if 0 <= col - offset < len(row):
            row[col - offset] = _as_shown(_calamine_value(row[col - offset]), fmt)
    return [v if type(v) is str else _as_shown(_calamine_value(v), None) for v in row]


def _calamine_value(value: Any) -> Any:
    """A cell's value from calamine as openpyxl and xlrd read it: a float that is a whole number
    an int (the file keeps no kind: Excel shows 3), a date a date and time at midnight."""
    if type(value) is float:
        return int(value) if value.is_integer() else value
    if type(value) is dt.date:
        return dt.datetime.combine(value, dt.time())
    return value


def _streamed_cells(data: bytes, name: str, marks: _Marks, source: str) -> Iterable[tuple[int, list[Any]]]:
    """Every row of a sheet as :func:`_sheet_cells` gives it, read a row at a time."""
    import zipfile
    import zlib

    from openpyxl import load_workbook

    try:
        ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True)[name]
    except (*_DAMAGE, zipfile.BadZipFile, zlib.error) as exc:
        raise ValidationError(f"damaged workbook: sheet {name!r} cannot be read ({type(exc).__name__}: {exc})",
                              source=source) from None
    # The rows the sheet holds, not the size its <dimension> tag claims: some tools write it
    # wrong (rows and columns were lost).
    ws.reset_dimensions()
    # A cell's style read as it is shown may be what is damaged (a workbook with no styles).
    rows = ((n, _marked(n, [_shown(c) for c in row or ()], marks.uncalculated))
            for n, row in enumerate(ws.iter_rows(), start=1))
    return _filled_down(_damaged_as_invalid(rows, source, name), marks.merged)


#: A relationship of a workbook's package (``<Relationship Id="rId1" Type="…/worksheet" Target="…"/>``).
_RELATION = re.compile(rb"<(?:\w+:)?Relationship\s([^>]*)>")
#: A sheet of a workbook (``<sheet name="花名册" sheetId="1" r:id="rId1"/>``).
_SHEET = re.compile(rb"<(?:\w+:)?sheet\s([^>]*)>")
#: A cell format of a workbook's styles (``<xf numFmtId="164" …>``), and a number format's code.
_CELL_FORMAT = re.compile(rb"<(?:\w+:)?xf\b([^>]*)>")
_NUMBER_FORMAT = re.compile(rb"<(?:\w+:)?numFmt\b([^>]*)>")
#: What of a number format's code shows no part of the value: [红色], [$-804], "时", \-.
_FORMAT_TEXT = re.compile(r'\[[^\]]*\]|"[^"]*"|\\.')
#: Built-in formats of a Chinese Excel that openpyxl does not list, with seconds.
_CHINESE_TIMES = {33: 'h"时"mm"分"ss"秒"', 35: '上午/下午h"时"mm"分"ss"秒"', 56: '上午/下午h"时"mm"分"ss"秒"'}
#: An attribute of a tag, its value in either quotes.
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attributes(tag: bytes) -> dict[str, str]:
    """The attributes of a tag's text, by their names without a namespace prefix."""
    import html

    return {k.decode().rpartition(":")[2]: html.unescape((double or single).decode("utf-8", "replace"))
            for k, double, single in _ATTRIBUTE.findall(tag)}


def _xlsx_parts(archive) -> tuple[dict[str, str], dict[int, str]]:
    """An .xlsx's sheet names with the path of each sheet's XML, and the number formats of its
    cell styles that change what a cell shows (zero-padded numbers, times with seconds), by
    style index."""
    import posixpath

    def relations(part: str) -> dict[str, dict[str, str]]:
        folder, base = posixpath.split(part)
        try:
            text = archive.read(posixpath.join(folder, "_rels", base + ".rels"))
        except KeyError:
            return {}
        found = (_attributes(m.group(1)) for m in _RELATION.finditer(text))
        return {r.get("Id", ""): {**r, "Target": posixpath.normpath(
            r.get("Target", "").lstrip("/") if r.get("Target", "").startswith("/")
            else posixpath.join(folder, r.get("Target", "")))} for r in found}

    main = next((r["Target"] for r in relations("").values() if r.get("Type", "").endswith("/officeDocument")),
                "xl/workbook.xml")
    linked = relations(main)
    sheets = (_attributes(m.group(1)) for m in _SHEET.finditer(archive.read(main)))
    paths = {s["name"]: linked[s["id"]]["Target"] for s in sheets if "name" in s and s.get("id") in linked}
    styles = next((r["Target"] for r in linked.values() if r.get("Type", "").endswith("/styles")), None)
    return paths, _telling_formats(archive.read(styles) if styles in archive.namelist() else b"")


def _telling_formats(styles: bytes) -> dict[int, str]:
    """The number formats of a workbook's cell styles (``styles``: its styles part) that change
    what :func:`_as_shown` reads, by style index."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    codes: dict[int, str] = {**BUILTIN_FORMATS, **_CHINESE_TIMES}
    for m in _NUMBER_FORMAT.finditer(styles):
        held = _attributes(m.group(1))
        if held.get("numFmtId", "").isdigit():
            codes[int(held["numFmtId"])] = held.get("formatCode", "")
    opened = max(styles.find(b"cellXfs"), 0)
    closed = styles.find(b"cellXfs", opened + 1)  # the list's closing tag
    found: dict[int, str] = {}
    for index, m in enumerate(_CELL_FORMAT.finditer(styles, opened, closed if closed > 0 else len(styles))):
        number = _attributes(m.group(1)).get("numFmtId", "0")
        fmt = codes.get(int(number)) if number.isdigit() else None
        # A time of day or a length with seconds shows them (a date's format holds y or d: its
        # cells are dates, whatever it shows of their time).
        shown = _FORMAT_TEXT.sub("", fmt or "").lower()
        if fmt and (_PADDED.fullmatch(fmt) or ("s" in shown and not set(shown) & set("yd"))):
            found[index] = fmt
    return found


class _Uncalculated:
    """A formula cell the workbook keeps no value for (see :func:`_sheet_marks`): read as empty,
    it would have left the member's field unset without a word."""

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "<formula never calculated>"


UNCALCULATED = _Uncalculated()


def _marked(n: int, values: list[Any], uncalculated: dict[int, set[int]]) -> list[Any]:
    """Row ``n``'s values with its formula cells that hold no value as :data:`UNCALCULATED`."""
    for col in uncalculated.get(n, ()):
        while len(values) <= col:
            values.append(None)
        values[col] = UNCALCULATED
    return values


#: A number format padding whole numbers with zeros (``0000`` shows 1 as 0001).
_PADDED = re.compile(r"0{2,}")


def _shown(cell) -> Any:
    """A cell's value as the sheet shows it where that matters: a number in a zero-padded format
    is the text shown (a 党员编号 typed 1 in a ``0000`` cell is 0001: read as 1, every member of
    a roster kept as ids ``0001`` came in a second time). An error value (#N/A) is empty, as
    calamine and xlrd read it."""
    if getattr(cell, "data_type", None) == "e":
        return None
    return _as_shown(cell.value, getattr(cell, "number_format", None))


def _as_shown(value: Any, fmt: str | None) -> Any:
    """:func:`_shown` of a value and its number format, for either kind of workbook."""
    if isinstance(value, dt.time):
        return _clock(value, fmt)
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(fmt, str)
            and _PADDED.fullmatch(fmt) and value >= 0 and float(value).is_integer()):
        return str(int(value)).zfill(len(fmt))
    return value


#: A merged range in a sheet's XML (``<mergeCell ref="C2:C9"/>``), after its rows.
_MERGE_CELL = re.compile(rb'<mergeCell\s+ref="([A-Z]{1,3})([0-9]+):([A-Z]{1,3})([0-9]+)"')
#: A cell holding a formula (``<c r="C2"><f>B2*2</f><v>6</v></c>``), with its value if any.
_FORMULA_CELL = re.compile(rb'<c\s([^>]*)>\s*<f\b[^>]*?(?:/>|>[^<]*</f>)\s*(?:<v\b[^>]*?(?:/>|>([^<]*)</v>))?\s*</c>')
#: A cell's place (``r="C12"``, also ``r = 'C12'``).
_CELL_REF = re.compile(rb'\br\s*=\s*["\']([A-Za-z]{1,3})0*([0-9]+)["\']')
_CELL_TAG = re.compile(rb'<(?:\w+:)?c\s')
_CELL_TYPE = re.compile(rb'\bt="([a-zA-Z]+)"')


#: The most of an unclosed cell carried from one chunk of a sheet's XML to the next.
_MOST_CARRIED = 64 << 10
#: A cell's or a row's place (``r="C12"``, ``r='12'``): its column letters (none for a row), its row.
_PLACE = re.compile(rb'\br\s*=\s*["\']([A-Za-z]*)0*([0-9]+)')
#: The same as Excel, WPS, openpyxl and XlsxWriter write it, found in half the time.
_WRITTEN_PLACE = re.compile(rb'<(?:c|row) r="([A-Z]*)([0-9]+)"')
#: A cell or row tag (``<c …>``, ``<x:c>``, ``<row/>``), and one written otherwise than
#: :data:`_WRITTEN_PLACE` reads (a prefix, a line break before its attributes).
_PLACED_TAG = re.compile(rb'<(?:\w+:)?(?:c|row)[\s>/]')
_ODD_TAG = re.compile(rb'<(?:\w+:(?:c|row)|(?:c|row)[\t\n\r])')


@dataclass
class _Marks:
    """What reading a sheet's cells does not give, from the sheet's XML (see :func:`_sheet_marks`)."""

    merged: dict[int, list[tuple[int, int]]]
    uncalculated: dict[int, set[int]]
    formats: dict[int, dict[int, str]]
    #: The cells the sheet spans from A1 to its last row and column, as calamine would hold them;
    #: None where that is not known (a cell or row not saying its place, damage).
    span: int | None = 0


def _sheet_marks(data: bytes, path: str | None, telling: Mapping[int, str] | None = None) -> _Marks:
    """What a sheet's values do not say, from the sheet's XML, a chunk at a time:

    - the cells merged down one column below the header, by column (0-based): the rows (1-based,
      first and last) of each range. A roster merges 所在支部 over a branch's members, and only
      the range's first cell holds the value: each other member read as having none;
    - the formula cells holding no value, by row (1-based): their columns (0-based). Excel and WPS
      keep each formula's last value; a workbook written by a program (openpyxl, a report
      script) keeps the formula alone, which reads as an empty cell. A formula whose value is
      the empty text (``t="str"``) is a value;
    - the number format of each cell styled with one of ``telling`` (style index to format, see
      :func:`_telling_formats`), by row and column: 0001 in a ``0000`` cell, a length with seconds;
    - how far the sheet reaches (:attr:`_Marks.span`): from the place of every cell and row,
      whatever a row's tag says of its cells'. calamine holds a sheet as one block of cells from
      A1: a cell at the last row and column would be 17 billion, and no error but the end of
      the process. Counted over the XML cut after a tag's end, each tag once.
    """
    import zipfile
    import zlib

    if not path:
        return _Marks({}, {}, {}, span=None)  # a sheet not found by its relations: how far it reaches is unknown
    marks = _Marks({}, {}, {})
    # A style attribute found first (a plain search), then the tag it is in: 0.5 s against 3 s
    # over a 500,000-row sheet for a regex matching the cell's tag whole.
    indexes = b"|".join(str(k).encode() for k in telling or ())
    styled = re.compile(rb'\ss\s*=\s*["\'](' + indexes + rb')["\']')
    found, uncalculated, formats = marks.merged, marks.uncalculated, marks.formats
    letters: set[bytes] = set()
    numbers: set[bytes] = set()
    places = tags = 0
    tail = pending = b""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path.lstrip("/")) as part:
            while chunk := part.read(1 << 20):
                text = tail + chunk
                for m in _MERGE_CELL.finditer(text):
                    first_col, first, last_col, last = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
                    if first_col == last_col and 1 < first < last:
                        found.setdefault(_column_index(first_col.decode()), []).append((first, last))
                if b"<f" in text:
                    for m in _FORMULA_CELL.finditer(text):
                        ref, kind = _CELL_REF.search(m.group(1)), _CELL_TYPE.search(m.group(1))
                        if ref and not (m.group(2) or b"").strip() and not (kind and kind.group(1) == b"str"):
                            uncalculated.setdefault(int(ref.group(2)), set()).add(_column_index(ref.group(1)))
                for m in styled.finditer(text) if indexes else ():
                    tag = text[text.rfind(b"<", 0, m.start()):text.find(b">", m.end())]
                    ref = _CELL_REF.search(tag) if _CELL_TAG.match(tag) else None
                    if ref:
                        formats.setdefault(int(ref.group(2)), {})[_column_index(ref.group(1))] = \
                            telling[int(m.group(1))]
                whole = pending + chunk
                cut = whole.rfind(b">") + 1
                body, pending = whole[:cut], whole[cut:]
                # Tags as most tools write them first; any other way (a style before the place,
                # a prefix) by the slower reading of every form.
                found_places, counted = [], -1
                if _ODD_TAG.search(body) is None:
                    found_places = _WRITTEN_PLACE.findall(body)
                    counted = sum(body.count(b"<" + tag) for tag in (b"c ", b"c>", b"c/", b"row ", b"row>", b"row/"))
                if len(found_places) != counted:
                    found_places, counted = _PLACE.findall(body), len(_PLACED_TAG.findall(body))
                tags += counted
                places += len(found_places)
                letters.update(map(_first, found_places))
                numbers.update(map(_second, found_places))
                # A cell cut between chunks is found whole in the next (found twice, it is one
                # entry of a set): only a cell to its </c> counts, or one cut after its formula
                # would read as one with no value, so the next chunk starts with the last cell
                # not yet closed (a formula is at most 8,192 characters, escaped a few times
                # that), or with the last 4 KB for a merged range's tag.
                start = len(text) - 4096
                opened = text.rfind(b"<c ")
                if opened > text.rfind(b"</c>") and len(text) - opened <= _MOST_CARRIED:
                    start = min(start, opened)
                tail = text[max(start, 0):]
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError):
        return _Marks({}, {}, {}, span=None)  # a damaged sheet: reading its rows names the damage
    marks.merged = {col: sorted(set(spans)) for col, spans in found.items()}
    if places != tags or pending.strip():
        marks.span = None  # a cell or row placed by its order: no bound from the places
    elif numbers:
        last_row = int(max(numbers, key=lambda n: (len(n), n)))
        last_column = max(_column_index(col) + 1 if len(col) <= 3 else 1 << 20 for col in letters)
        marks.span = last_row * last_column
    return marks


_first, _second = operator.itemgetter(0), operator.itemgetter(1)


def _column_index(letters: str | bytes) -> int:
    """``A`` -> 0, ``Z`` -> 25, ``AA`` -> 26 (``aa`` too)."""
    n = 0
    for c in letters.upper() if isinstance(letters, str) else letters.upper().decode():
        n = n * 26 + ord(c) - ord("A") + 1
    return n - 1


def _filled_down(rows: Iterable[tuple[int, list[Any]]], merged: dict[int, list[tuple[int, int]]]
                 ) -> Iterator[tuple[int, list[Any]]]:
    """``rows`` with each cell of a range merged down (see :func:`_sheet_marks`) holding the
    range's value, as the sheet shows it."""
    if not merged:
        yield from rows
        return
    # Rows come in order and a column's ranges do not overlap: one range at a time per column
    # (a roster merging 所在支部 for a thousand branches has a thousand ranges).
    at = dict.fromkeys(merged, 0)  # per column, the first of its ranges not yet passed
    held: dict[int, Any] = {}  # per column, the value of the range it is in
    for n, row in rows:
        # A row blank but for merged cells is a blank row (a template's reserved rows): not filled.
        empty = all(blank(v) for v in row)
        for col, spans in merged.items():
            k = at[col]
            while k < len(spans) and spans[k][1] < n:
                k += 1
            at[col] = k
            if k == len(spans) or n < spans[k][0]:
                continue
            if n == spans[k][0]:
                held[col] = row[col] if col < len(row) else None
            elif not empty:
                while len(row) <= col:
                    row.append(None)
                if row[col] is None or row[col] == "":
                    row[col] = held.get(col)
        yield n, row


#: A workbook's parts may expand this much beyond their compressed size (real exports: 5-20
#: times), once past :data:`_PLAIN_BYTES`.
_MOST_EXPANSION = 200
_PLAIN_BYTES = 16 << 20


def _refuse_bomb(archive, source: str) -> None:
    """Refuse a workbook whose parts would expand past what any export compresses to."""
    plain = sum(info.file_size for info in archive.infolist())
    packed = sum(info.compress_size for info in archive.infolist())
    if plain > _PLAIN_BYTES and plain > _MOST_EXPANSION * max(packed, 1):
        raise ValidationError(f"the workbook expands to {plain >> 20} MiB from {packed >> 10} KiB: not an export "
                              "this reads; save the sheet again, or as CSV", source=source)


#: What openpyxl raises for a damaged or malformed workbook (a shared text's index past the
#: table, a part of the wrong kind, a zip cut short, a bad checksum, broken XML).
_DAMAGE = (SyntaxError, EOFError, KeyError, IndexError, AttributeError, TypeError, ValueError, OSError)


def _damaged_as_invalid(rows: Iterator[tuple], source: str, sheet: str) -> Iterator[tuple]:
    """``rows``, with a sheet damaged past its opening (cut short, a bad checksum) a
    ValidationError naming it, where it is found: rows are read as they are used."""
    import zipfile
    import zlib

    try:
        yield from rows
    except (*_DAMAGE, zipfile.BadZipFile, zlib.error) as exc:
        raise ValidationError(f"damaged workbook: sheet {sheet!r} cannot be read ({type(exc).__name__}: {exc})",
                              source=source) from None


#: Rows a table's header may have above it: a title, the unit and the date of the export.
_MOST_ABOVE = 10


class _NoHeader(Exception):
    """No row at the top of a table names the required columns (``line``: the row named;
    ``tabular``: a row of more than two cells was found, meant as the header)."""

    def __init__(self, message: str, line: int, tabular: bool) -> None:
        super().__init__(message)
        self.line = line
        self.tabular = tabular


def _header(cells: Iterator[tuple[int, list[Any]]], required: tuple[str, ...], column: Callable[[str], str],
            headers: Mapping[str, str] | None) -> tuple[int, list[str], list[str]]:
    """The header row: the first row naming every required column. Only titles may stand above
    it (rows of at most two filled cells: 华兴能源党员花名册, 制表单位, 截至日期), at most
    :data:`_MOST_ABOVE` of them. Returns its line, the headers as written and the fields they name.

    Raises:
        _NoHeader: no such row; the message names the columns missing from the first row read.
    """
    first = None
    for read, (line, values) in enumerate(cells, start=1):
        written = [str(h).strip().removeprefix("\ufeff") if not blank(h) else "" for h in values]
        names = [column(h) if h else "" for h in written]
        if first is None and any(written):
            first = (line, written, names)
        if all(name in names for name in required) and (any(written) or not required):
            return line, written, names
        if sum(bool(h) for h in written) > 2:
            first = (line, written, names)  # the row meant as the header: it names what it lacks
            break
        if read >= _MOST_ABOVE:
            break
    line, written, names = first or (1, [], [])
    tabular = sum(bool(h) for h in written) > 2
    missing = [name for name in required if name not in names]
    given = ", ".join(repr(n) for n in written if n) or "nothing"
    headers = headers or {}
    wanted = ", ".join(f"{n!r} ({headers[n]})" if n in headers else repr(n) for n in missing)
    raise _NoHeader(f"the header row has no column {wanted}; it names {given} (a row must name the fields, "
                    f"within the first {_MOST_ABOVE} rows; only titles may stand above it)", line, tabular)


def _table(cells: Iterable[tuple[int, list[Any]]], source: str, schedule: bool,
           required: tuple[str, ...], column: Callable[[str], str], headers: Mapping[str, str] | None = None,
           fields: Collection[str] | None = None) -> tuple[int, Rows, list[ValidationError]]:
    """The header row's line, the rows below it and the problems of their cells (see
    :func:`table_rows`)."""
    cells = iter(cells)
    header_line, written, names = _header(cells, required, column, headers)
    problems: list[ValidationError] = []
    seen = set()
    for name in names:
        if name and name in seen:
            problems.append(ValidationError(f"column {name!r} appears twice in the header", source=source,
                                            line=header_line, field=name))
        seen.add(name)
    rows: Rows = []
    for line, values in cells:
        if all(blank(v) and not (v is UNCALCULATED and n < len(names) and names[n] in required)
               for n, v in enumerate(values)):
            # Blank rows between and after the records; and a template's formulas filled down
            # rows not filled in yet, unless one stands in a required column (a roster of
            # =源数据!A2 cells, saved by a program: each such row is refused, not left out).
            continue
        row: dict[str, Any] = {}
        for n, value in enumerate(values):
            name = names[n] if n < len(names) else ""
            if value is UNCALCULATED:
                read = fields is None or name in fields or (schedule and name.removeprefix("schedule.")
                                                             in SCHEDULE_COLUMNS)
                if name and read:
                    problems.append(ValidationError(
                        f"column {written[n]!r} holds a formula whose value was never calculated (the file was "
                        "written by a program, not saved by Excel or WPS): open the file in Excel or WPS and "
                        "save it, or paste the column as values", source=source, line=line, field=name))
                value = None
            if not name:
                # An export's trailing separator makes an empty column: harmless while empty.
                if not blank(value):
                    problems.append(ValidationError(
                        f"a value ({value!r}) in column {n + 1}, which has no header", source=source, line=line))
                continue
            bare = name.removeprefix("schedule.")
            if schedule and bare in SCHEDULE_COLUMNS:
                row.setdefault("schedule", {})[bare] = value
            else:
                row[name] = value
        # A short row (a workbook leaves out empty cells at the end of a row, a CSV line may lack
        # its last commas) still has every column of the header: empty, not missing.
        for name in names:
            if name and name not in row and not (schedule and name.removeprefix("schedule.") in SCHEDULE_COLUMNS):
                row[name] = None
        rows.append((line, row))
    return header_line, rows, problems


def blank(value: Any) -> bool:
    # A formula with no value kept is blank too: a template's rows of formulas below the records
    # (=IF(B5="","",...) filled down) are no records.
    return value is None or value is UNCALCULATED or (isinstance(value, str) and not value.strip())


def _jsonl_rows(text: str, source: str) -> Rows:
    rows = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        rows.append((n, _parse_json(raw, source, n)))
    return rows


def _json_rows(text: str, source: str) -> Rows:
    data = _parse_json(text, source, None)
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ValidationError("a JSON file must hold a list of records, or an object with one such list",
                                  source=source)
        data = lists[0]
    if not isinstance(data, list):
        raise ValidationError("a JSON file must hold a list of records", source=source)
    # JSON arrays have no useful line numbers once parsed: report the 1-based position.
    return list(enumerate(data, start=1))
