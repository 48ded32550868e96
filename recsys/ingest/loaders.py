"""Read items, members and events from JSONL, JSON or CSV files.

A file is read whole and validated whole before anything is returned, so a caller that stores the
result never stores half a file. Every problem is reported with the file name, the line (JSONL,
CSV) or position (JSON), the record id when known and the field.

CSV files have a header row; list fields are written ``a|b``; an offline item's schedule is given
in the columns ``starts``, ``ends``, ``location`` and ``capacity`` (or ``schedule.starts`` ...).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from recsys.exceptions import ValidationError
from recsys.records import Event, Item, Member

__all__ = [
    "as_records",
    "read_records",
    "read_items",
    "read_members",
    "read_events",
    "parse_records",
    "check_unique_ids",
    "combine",
]

R = TypeVar("R", Item, Member, Event)

_LIST_FIELDS = {"topics", "roles", "requires", "interests"}
_INT_FIELDS = {"minutes", "level", "daily_minutes", "capacity"}
_FLOAT_FIELDS = {"value"}
_BOOL_FIELDS = {"offline"}
_SCHEDULE_FIELDS = ("starts", "ends", "location", "capacity")
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否"}
#: Problems listed in one error message before the rest are only counted.
_MAX_LISTED = 5


def read_items(path: str | os.PathLike[str]) -> list[Item]:
    """Read items from a ``.jsonl``, ``.json`` or ``.csv`` file."""
    return read_records(path, Item)


def read_members(path: str | os.PathLike[str]) -> list[Member]:
    """Read members from a ``.jsonl``, ``.json`` or ``.csv`` file."""
    return read_records(path, Member)


def read_events(path: str | os.PathLike[str]) -> list[Event]:
    """Read events from a ``.jsonl``, ``.json`` or ``.csv`` file."""
    return read_records(path, Event)


def read_records(path: str | os.PathLike[str], record_type: type[R]) -> list[R]:
    """Read and validate every record of a file.

    Args:
        path: A ``.jsonl`` (one JSON object a line), ``.json`` (a list of objects, or an object
            holding one such list) or ``.csv`` file.
        record_type: :class:`Item`, :class:`Member` or :class:`Event`.

    Returns:
        The records, in file order.

    Raises:
        ValidationError: if the file cannot be read or any record is invalid; the message names
            the file, line and field, and ``problems`` lists every problem found.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv"):
        raise ValidationError(f"unsupported file type {suffix or '(none)'}; use .jsonl, .json or .csv", source=name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError("file not found", source=name) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=name) from None
    except OSError as exc:
        raise ValidationError(f"cannot read file: {exc.strerror}", source=name) from None
    if suffix == ".jsonl":
        rows = _jsonl_rows(text, name)
    elif suffix == ".json":
        rows = _json_rows(text, name)
    else:
        rows = _csv_rows(text, name, schedule_columns=record_type is Item)
    return parse_records(rows, record_type, source=name)


def parse_records(
    rows: Iterable[tuple[int, Any]], record_type: type[R], *, source: str = "batch"
) -> list[R]:
    """Validate ``(line, data)`` pairs into records, reporting every problem at once.

    Raises:
        ValidationError: the first problem, with ``problems`` holding all of them.
    """
    records: list[R] = []
    lines: list[int] = []
    problems: list[ValidationError] = []
    for line, data in rows:
        try:
            records.append(record_type.from_dict(data))
            lines.append(line)
        except ValidationError as exc:
            problems.append(exc.located(source=source, line=line))
    # Events may omit their id; every other record has one.
    keyed = [(line, r) for line, r in zip(lines, records) if r.id is not None]
    try:
        check_unique_ids([r for _, r in keyed], record_type.__name__.lower(), source=source,
                         lines=[line for line, _ in keyed])
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise combine(problems)
    return records


def as_records(records: Iterable[Any], record_type: type[R]) -> list[R]:
    """Validate a batch given as records or JSON-like dicts, reporting every problem at once.

    Raises:
        ValidationError: if ``records`` is not a list of records, or any record is malformed.
    """
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise ValidationError(f"expected a list of {record_type.__name__.lower()}s, got {type(records).__name__}")
    given, raw = [], []
    for n, r in enumerate(records, start=1):
        (given if isinstance(r, record_type) else raw).append((n, r))
    by_line = dict(given)
    by_line.update(zip((n for n, _ in raw), parse_records(raw, record_type) if raw else []))
    return [by_line[n] for n in sorted(by_line)]


def check_unique_ids(
    records: Sequence[Any], kind: str, *, source: str = "batch", lines: Sequence[int] | None = None
) -> None:
    """Raise if two records of one batch share an id (which one should win is ambiguous)."""
    seen: dict[str, int] = {}
    problems = []
    for pos, record in enumerate(records):
        line = lines[pos] if lines is not None else pos + 1
        if record.id in seen:
            problems.append(ValidationError(
                f"duplicate {kind} id in one batch (first at {seen[record.id]})",
                source=source, line=line, record=record.id, field="id",
            ))
        else:
            seen[record.id] = line
    if problems:
        raise combine(problems)


def combine(problems: list[ValidationError]) -> ValidationError:
    """One error standing for several: the first problem's location and message, plus a count."""
    first = problems[0]
    reason = first.reason
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ValidationError(
        reason, source=first.source, line=first.line, record=first.record,
        field=first.field, problems=problems,
    )


def _jsonl_rows(text: str, name: str) -> list[tuple[int, Any]]:
    rows = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((n, json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise ValidationError(f"invalid JSON: {exc.msg} at column {exc.colno}", source=name, line=n) from None
    return rows


def _json_rows(text: str, name: str) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"invalid JSON: {exc.msg} at column {exc.colno}", source=name, line=exc.lineno) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ValidationError("a JSON file must hold a list of records, or an object with one such list", source=name)
        data = lists[0]
    if not isinstance(data, list):
        raise ValidationError("a JSON file must hold a list of records", source=name)
    # JSON arrays have no useful line numbers once parsed: report the 1-based position.
    return list(enumerate(data, start=1))


def _csv_rows(text: str, name: str, *, schedule_columns: bool) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return []
    rows = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ValidationError("more values than header columns", source=name, line=line)
        try:
            rows.append((line, _csv_record(row, schedule_columns)))
        except ValidationError as exc:
            raise exc.located(source=name, line=line) from None
    return rows


def _csv_record(row: dict[str, str | None], schedule_columns: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    schedule: dict[str, Any] = {}
    for key, raw in row.items():
        key = key.strip()
        value = (raw or "").strip()
        bare = key.removeprefix("schedule.")
        if schedule_columns and bare in _SCHEDULE_FIELDS:
            if value:
                schedule[bare] = _csv_value(bare, value, key)
        elif value == "":
            out[key] = [] if key in _LIST_FIELDS else None
        else:
            out[key] = _csv_value(key, value, key)
    if schedule:
        out["schedule"] = schedule
    return out


def _csv_value(field_: str, value: str, column: str) -> Any:
    if field_ in _LIST_FIELDS:
        return [v.strip() for v in value.split("|") if v.strip()]
    try:
        if field_ in _INT_FIELDS:
            return int(value)
        if field_ in _FLOAT_FIELDS:
            return float(value)
    except ValueError:
        kind = "a whole number" if field_ in _INT_FIELDS else "a number"
        raise ValidationError(f"column {column!r} must be {kind}, got {value!r}", field=column) from None
    if field_ in _BOOL_FIELDS:
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValidationError(f"column {column!r} must be true or false, got {value!r}", field=column)
    return value
