"""Read items, members and events from the files people export: CSV, Excel, JSON or JSONL.

A file is read whole and validated whole before anything is returned, so a caller that stores the
result never stores half a file. Every problem is reported, not only the first, each with the file
name, the line (JSONL, CSV), row (Excel) or position (JSON), the record id when known, the field
and what was expected.

Exports are taken as they come (see :mod:`recsys.ingest.tables` and :mod:`recsys.ingest.cells`):
UTF-8 or GBK/GB18030 text, the first sheet of a workbook, dates like 2026/12/1 or 2026年12月1日,
empty cells for "not given", and the curriculum's :class:`~recsys.vocabulary.Vocabulary` for codes
(文章, 支部书记, 是 ...). What is valid but probably a mistake (a role no rule knows, an event in
the future) is a warning (:class:`InputWarning`), an error only when asked to be strict.

Tables have a header row; list cells are written ``a|b`` (or with 、 ; ，); an offline item's
schedule is given in the columns ``starts``, ``ends``, ``location`` and ``capacity`` (or
``schedule.starts`` ...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from recsys.credits import OpeningBalance
from recsys.curriculum import Curriculum
from recsys.exceptions import ValidationError
from recsys.ingest.cells import LIST_SEPARATORS, MEMBERSHIP, given_fields, read_fields, read_posts, typo_of
from recsys.ingest.tables import FORMATS, TABLES, OptionNames, blank, table_rows
from recsys.orgs import OrgDirectory, OrgName
from recsys.records import IMPRESSION_PREFIX, PSEUDONYM_PREFIX, TZ, Event, Item, Member
from recsys.vocabulary import Vocabulary, header_key

__all__ = [
    "as_records",
    "read_records",
    "read_items",
    "read_members",
    "read_events",
    "read_batch",
    "stray_orgs",
    "parse_batch",
    "parse_records",
    "keep_unlisted",
    "id_clashes",
    "check_unique_ids",
    "repeated_balances",
    "combine",
    "input_warnings",
    "Batch",
    "InputWarning",
]

R = TypeVar("R", Item, Member, Event, OpeningBalance, OrgName)
#: What messages call each kind of record.
_NOUNS: dict[type, str] = {Item: "item", Member: "member", Event: "event", OpeningBalance: "opening balance",
                           OrgName: "organisation"}


@dataclass(frozen=True)
class InputWarning:
    """Something valid but probably a mistake, located like a :class:`ValidationError`.

    Attributes:
        message: What looks wrong and what it will do, in the words of a party-affairs worker.
        kind: What the warning is about, where its wording names a member or an item: warnings
            of one kind are summed up together (None: by their wording, numbers aside).
    """

    message: str
    source: str | None = None
    line: int | None = None
    record: str | None = None
    field: str | None = None
    kind: str | None = None

    def as_error(self) -> ValidationError:
        """The warning as an error (``--strict``), of the same kind (summed up as warnings are)."""
        error = ValidationError(self.message, source=self.source, line=self.line, record=self.record,
                                field=self.field)
        error.warning_kind = self.kind
        return error

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.record, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        return str(self.as_error())


@dataclass(frozen=True)
class Batch(Generic[R]):
    """The records of one file or request body, with how it was read and what looks wrong.

    Attributes:
        records: The records, in file order.
        source: The file name (or the body's name).
        encoding: The text encoding used (``UTF-8``, ``GB18030`` ...); None for a workbook.
        warnings: Valid but probably mistaken values, one per record and field.
        lines: The line (or row) of each record, in the order of ``records``.
        fields: The fields a table's columns give (CSV, workbook; ``posts`` for a roster's
            党内职务, which gives the roles' posts only); None for JSON, whose records each say
            what they hold. See :func:`keep_unlisted`.
        row_fields: Per record, the fields its row gives: the columns, and for a member whose
            人员类别 names their standing (正式党员, 预备党员), the roles (None for JSON).
    """

    records: list[R]
    source: str
    encoding: str | None = None
    warnings: list[InputWarning] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    fields: frozenset[str] | None = None
    row_fields: list[frozenset[str]] | None = None


def read_items(path: str | os.PathLike[str]) -> list[Item]:
    """Read items from a ``.csv``, ``.xlsx``, ``.jsonl`` or ``.json`` file."""
    return read_records(path, Item)


def read_members(path: str | os.PathLike[str]) -> list[Member]:
    """Read members from a ``.csv``, ``.xlsx``, ``.jsonl`` or ``.json`` file."""
    return read_records(path, Member)


def read_events(path: str | os.PathLike[str]) -> list[Event]:
    """Read events from a ``.csv``, ``.xlsx``, ``.jsonl`` or ``.json`` file."""
    return read_records(path, Event)


def read_records(path: str | os.PathLike[str], record_type: type[R]) -> list[R]:
    """Read and validate every record of a file (warnings are not errors here; see :func:`read_batch`).

    Raises:
        ValidationError: if the file cannot be read or any record is invalid; the message names
            the file, line and field, and ``problems`` lists every problem found.
    """
    return read_batch(path, record_type).records


def read_batch(
    path: str | os.PathLike[str],
    record_type: type[R],
    *,
    curriculum: Curriculum | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    strict: bool = False,
    now: dt.datetime | None = None,
    orgs: OrgDirectory | None = None,
    check: Callable[[Sequence[R], Sequence[int], str], list[ValidationError]] | None = None,
) -> Batch[R]:
    """Read and validate every record of a file, with what looks wrong.

    Args:
        path: A ``.csv``, ``.xlsx`` (first sheet, or ``sheet``), ``.jsonl`` (one JSON object a
            line) or ``.json`` (a list of objects, or an object holding one such list) file.
        record_type: :class:`Item`, :class:`Member` or :class:`Event`.
        curriculum: Whose vocabulary reads the codes, and whose rules say which roles and topics
            are known; default: the built-in curriculum.
        encoding: Force a text encoding (``gbk``, ``utf-8`` ...) instead of detecting it.
        sheet: The workbook's sheet to read (default: the first).
        strict: Treat warnings as errors.
        now: The present, for "dated in the future" (default: now).
        orgs: Registered organisations by name, for a table that names a member's or an item's
            organisation (所在支部) by name rather than by code.
        check: What else refuses the records that are valid alone, given them, their lines and
            the source (a store's unknown members, say): listed with the rest, in one pass.

    Returns:
        The :class:`Batch`.

    Raises:
        ValidationError: if the file cannot be read, or any record is invalid (or, with
            ``strict``, looks wrong); ``problems`` lists every problem found.
    """
    path = Path(path)
    name = str(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(f"unsupported file type {path.suffix or '(none)'}; use .csv, .xlsx, .xls, .jsonl or .json",
                              source=name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError("file not found", source=name) from None
    except OSError as exc:
        raise ValidationError(f"cannot read file: {exc.strerror}", source=name) from None
    return parse_batch(data, fmt, record_type, source=name, curriculum=curriculum, encoding=encoding,
                       sheet=sheet, strict=strict, now=now, orgs=orgs, check=check)


def parse_batch(
    data: bytes,
    fmt: str,
    record_type: type[R],
    *,
    source: str = "body",
    curriculum: Curriculum | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    strict: bool = False,
    now: dt.datetime | None = None,
    orgs: OrgDirectory | None = None,
    check: Callable[[Sequence[R], Sequence[int], str], list[ValidationError]] | None = None,
    names: OptionNames = OptionNames(),
) -> Batch[R]:
    """Read and validate the records of a file's bytes in format ``fmt`` (``csv``, ``xlsx``,
    ``json`` or ``jsonl``); ``names`` say how the caller gives a sheet or an encoding (the command
    line's flags by default); the rest as :func:`read_batch`.

    Raises:
        ValidationError: as :func:`read_batch`.
    """
    curriculum = curriculum if curriculum is not None else Curriculum()
    field_of, written = _columns(record_type, curriculum.vocabulary), {}

    def column(header: str) -> str:
        name = field_of(header)
        written.setdefault(name, header.strip())  # to name an ignored column as the file wrote it
        return name

    read = set(record_type.FIELDS) | ({"posts"} if record_type is Member else set())
    rows, problems, used, header = table_rows(fmt, data, source=source, encoding=encoding, sheet=sheet,
                                              schedule=record_type is Item, required=record_type.REQUIRED,
                                              column=column, headers=_headers(record_type, curriculum.vocabulary),
                                              fields=read, names=names)
    ignored: list[InputWarning] = []
    as_written = rows  # the columns as the file gives them (see Batch.fields)
    if fmt in TABLES:
        rows, ignored = _totals(rows, record_type.REQUIRED[0], source)
        if record_type is Member:
            rows, posts = _posts(rows, curriculum.vocabulary, source)
            ignored += posts
        rows, unknown = _known_columns(rows, record_type, source, written, header)
        ignored += unknown
    records, lines, invalid = _validate(rows, record_type, source, curriculum.vocabulary, orgs)
    problems += invalid
    if check is not None:
        problems += check(records, lines, source)
    repeated: list[InputWarning] = []
    if record_type is Event:
        records, lines, repeated = _keyed_by_content(records, lines, source)
    warnings = ignored + repeated + input_warnings(records, curriculum, source=source, lines=lines, now=now)
    if strict:
        problems += [w.as_error() for w in warnings]
    if problems:
        raise combine(sorted(problems, key=lambda p: p.line or 0), [] if strict else warnings)
    fields = row_fields = None
    if fmt in TABLES:
        fields = frozenset(k for _, row in as_written if isinstance(row, Mapping) for k in row)
        by_line = dict(as_written)
        row_fields = [given_fields(record_type, by_line[line], curriculum.vocabulary) for line in lines]
    return Batch(records, source, used, warnings, lines, fields, row_fields)


def _posts(rows: list[tuple[int, Any]], vocabulary, source: str) -> tuple[list[tuple[int, Any]], list[InputWarning]]:
    """A roster's 党内职务 column read into the roles: the posts the vocabulary knows (支部书记,
    组织委员 ...) join those of 身份; the others (党小组长, 党委委员) are left out, with one warning
    naming them and where to add them. Read strictly, as roles, they refused the whole roster."""
    if not any(isinstance(row, Mapping) and "posts" in row for _, row in rows):
        return rows, []
    out, unknown = [], {}
    for line, row in rows:
        if isinstance(row, Mapping) and "posts" in row:
            row = dict(row)
            known, others = read_posts(row.pop("posts"), vocabulary)
            for word in others:
                unknown.setdefault(word, line)
            held = row.get("roles")
            if read_posts(held, vocabulary) == ([], []):
                held = None  # 身份 empty or 无: no post of its own
            if known:
                roles = [] if held is None or (isinstance(held, str) and not held.strip()) else [held]
                row["roles"] = LIST_SEPARATORS[1].join([*(str(r) for r in roles), *known])
            else:
                row.setdefault("roles", held)
        out.append((line, row))
    if not unknown:
        return out, []
    posts = sorted(vocabulary.roles)

    def named(word: str) -> str:
        meant = typo_of(word, posts)  # 党支部书纪: a slip of a post, said so
        return f"“{word}”（是否为“{meant}”？）" if meant else f"“{word}”"

    names = "、".join(named(word) for word in unknown)
    return out, [InputWarning(f"党内职务中的 {names} 不是系统中的岗位，已忽略（如需按这些岗位安排学习，请在 curriculum.json "
                              "的 vocabulary.roles 中添加）", source=source, line=min(unknown.values()))]


#: What a table's summary row says where its records name someone or something: 合计 300000人.
TOTALS = ("合计", "总计", "小计", "共计", "汇总")


def _totals(rows: list[tuple[int, Any]], key: str, source: str) -> tuple[list[tuple[int, Any]], list[InputWarning]]:
    """A table's rows without its summary rows, and one warning naming them. A summary row has a
    cell that begins with 合计, 总计, 小计, 共计 or 汇总 (spaces left out: 合 计), and nothing
    else in the record's key column (``key``: the id, or the member an event or balance is of).
    An HR export ends with one (合计 | | 300000人), or has one per branch: each refused the
    whole file, as a member with no id."""
    def says_total(v: Any) -> bool:
        return isinstance(v, str) and "".join(v.split()).startswith(TOTALS)

    kept, totals = [], []
    for line, row in rows:
        if (isinstance(row, Mapping) and (blank(row.get(key)) or says_total(row.get(key)))
                and any(says_total(v) for v in row.values())):
            totals.append(line)
        else:
            kept.append((line, row))
    if not totals:
        return rows, []
    shown = "、".join(str(n) for n in totals[:5]) + ("等" if len(totals) > 5 else "")
    return kept, [InputWarning(f"{len(totals)} 行是合计、小计等汇总行（第 {shown} 行），不是记录，已跳过",
                               source=source, line=totals[0])]


def _known_columns(rows: list[tuple[int, Any]], record_type: type, source: str, written: Mapping[str, str],
                   header: int | None) -> tuple[list[tuple[int, Any]], list[InputWarning]]:
    """A table's rows without the columns that are no field of ``record_type``, and one warning
    naming those columns, at the header row (line ``header``: titles may stand above it). An HR
    export carries 性别, 手机号码 and more beside the fields: each row was refused for them, with
    one error per row (20,001 lines for a 20,000-row file)."""
    known = set(record_type.FIELDS) | ({"schedule"} if record_type is Item else set())
    unknown = sorted({k for _, row in rows if isinstance(row, Mapping) for k in row} - known)
    if not unknown:
        return rows, []
    noun = {Item: "内容", Member: "党员", Event: "学习记录"}.get(record_type, "记录")
    names = "、".join(f"“{written.get(name, name)}”" for name in unknown)  # 学时, not the field it names
    warning = InputWarning(f"表头中的 {names} 不是{noun}的字段，这些列已忽略（如是字段名写法不同，请改为标准表头）",
                           source=source, line=header)
    return [(line, {k: v for k, v in row.items() if k in known} if isinstance(row, Mapping) else row)
            for line, row in rows], [warning]


def id_clashes(records: Sequence[Member], lines: Sequence[int], source: str,
               stored: Mapping[tuple[str, str], Member], *,
               both: str = "read the name and the branch in two files") -> list[ValidationError]:
    """Rows giving a stored member's id to someone else: another name in another branch (two
    units of one enterprise each numbering from 0001). Written, such a row replaced the stored
    member, whose hours then counted for the new one. ``stored`` is keyed by tenant and id; a
    member renamed, or moved, is the same member, and so is a name written with other spaces,
    full-width letters or case (张　伟 is 张伟; compared by :func:`~recsys.vocabulary.header_key`).
    ``both`` says how to give one member a new name and branch."""
    return [ValidationError(
        f"member id {member.id!r} is {before.name} of {before.org} in the store, and this record gives it to "
        f"{member.name} of {member.org}: one id for two people. Ids must be unique in the whole enterprise "
        f"({before.tenant}): where units number from 0001 each, prefix the unit (fdgs-0001). If it is one "
        f"person renamed and moved, {both}",
        source=source, line=line, record=member.id, field="id")
        for member, line in zip(records, lines)
        if (before := stored.get((member.tenant, member.id))) is not None
        and header_key(member.name) != header_key(before.name) and member.org != before.org]



def keep_unlisted(batch: Batch[Member], stored: Mapping[tuple[str, str], Member]) -> list[Member]:
    """The batch's members, each keeping what ``stored`` holds of them in the fields the table has
    no column for.

    A roster from the HR system names a member's id, name, roles and branch; the interests,
    daily minutes or place of study set since (on the portal, by another file) are not in it.
    Read in again, it reset them to their defaults. An empty cell still means "not given" (the
    default): only a column the file lacks keeps the stored value. ``offline`` and ``situation``
    go together (a mobile or infirm member attends no offline activity): a file with either
    column gives both, as before. A member's roles are their standing (正式党员, 预备党员) and
    their posts: a roster giving one of them only (人员类别 without a post column after 转正, or
    党内职务 alone) changes that one and keeps the other. ``stored`` is keyed by tenant and id: a
    member of another tenant with the same id is another person (see :func:`id_clashes` for one
    of the same tenant). JSON records are taken as they are.
    """
    if batch.fields is None:
        return list(batch.records)
    columns = set(batch.fields)
    if columns & {"offline", "situation"}:
        columns |= {"offline", "situation"}
    out = []
    for n, member in enumerate(batch.records):
        before = stored.get((member.tenant, member.id))
        if before is None:
            out.append(member)
            continue
        given = columns | (batch.row_fields[n] if batch.row_fields is not None else set())
        changes = {k: v for k, v in member.to_dict().items() if k in given}
        if "roles" not in columns and ("roles" in given or "posts" in columns):
            # The standing from 人员类别, the posts from 党内职务: each replaces its own part.
            standing = member.roles if "roles" in given else before.roles
            posts = member.roles if "posts" in columns else before.roles
            changes["roles"] = list(dict.fromkeys([*(r for r in standing if r in MEMBERSHIP),
                                                   *(r for r in posts if r not in MEMBERSHIP)]))
            if not changes["roles"]:
                del changes["roles"]  # neither known: the default
        out.append(before.with_changes(changes))
    return out


#: How the id an event without one is given from its content begins (see :func:`_keyed_by_content`).
ROW_KEY = "row-"


def _keyed_by_content(events: list[Event], lines: list[int], source: str
                      ) -> tuple[list[Event], list[int], list[InputWarning]]:
    """A file's events without an id, each given one from what it says (member, item, kind, the
    instant and the value), and a row saying again what an earlier one said kept once.

    An export of learning records seldom has an id column, and the same export is often read
    in again (a month's file after a week's): with no id, each reading recorded every event once
    more (a quiz counted twice). One member doing the same thing to the same item at the same
    instant is one event.
    """
    kept: list[Event] = []
    kept_lines: list[int] = []
    first: dict[str, int] = {}
    warnings: list[InputWarning] = []
    for event, line in zip(events, lines):
        if event.id is None:
            said = "\x1f".join((event.member, event.item, event.kind, event.at.astimezone(dt.timezone.utc).isoformat(),
                                repr(event.value)))
            key = ROW_KEY + hashlib.blake2b(said.encode("utf-8"), digest_size=12).hexdigest()
            if key in first:
                warnings.append(InputWarning(f"与第 {first[key]} 行是同一条学习记录（党员、内容、类型、时间和分值都相同），只记一次",
                                             source=source, line=line))
                continue
            first[key] = line
            event = dataclasses.replace(event, id=key)
        kept.append(event)
        kept_lines.append(line)
    return kept, kept_lines, warnings


def _columns(record_type: type, vocabulary: Vocabulary) -> Callable[[str], str]:
    """The field a column header names for ``record_type``: the record's own headers first (a
    record may take a header that means another field elsewhere), then the vocabulary's, unless
    the record reads only its own (``COLUMNS_ONLY``)."""
    own = getattr(record_type, "COLUMNS", None)
    if not own:
        return vocabulary.column
    own = {header_key(k): v for k, v in own.items()}
    if getattr(record_type, "COLUMNS_ONLY", False):
        fields = set(record_type.FIELDS)
        return lambda header: own.get(header_key(header)) or (
            header_key(header) if header_key(header) in fields else header.strip())
    return lambda header: own.get(header_key(header)) or vocabulary.column(header)


def _headers(record_type: type, vocabulary: Vocabulary) -> dict[str, str]:
    """A Chinese header for each field of ``record_type`` that a table reads as it: the record's
    own first, then the vocabulary's (unless the record reads only its own)."""
    out: dict[str, str] = {}
    words = list(getattr(record_type, "COLUMNS", {}).items())
    if not getattr(record_type, "COLUMNS_ONLY", False):
        words += list(vocabulary.columns.items())
    column = _columns(record_type, vocabulary)
    for word, field_ in words:
        if field_ in record_type.FIELDS and not word.isascii() and column(word) == field_:
            out.setdefault(field_, word)
    return out


def input_warnings(
    records: Sequence[Item | Member | Event | OpeningBalance],
    curriculum: Curriculum,
    *,
    source: str | None = None,
    lines: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> list[InputWarning]:
    """What in valid records is probably a mistake.

    A role no curriculum rule knows (a misspelt ``branch_secretary`` would silently drop a
    56-hour target), an item topic no rule or topic family knows, an activity's place naming no
    city, an event or a joining date in the future, an opening balance beyond three years' hours.

    Args:
        lines: The line of each record (default: its 1-based position).
        now: The present (default: now, Asia/Shanghai).
    """
    now = now if now is not None else dt.datetime.now(TZ)
    roles, topics = curriculum.known_roles(), curriculum.known_topics()
    # A balance beyond three years' highest target is a figure in minutes or a typing slip.
    most_target = max((p.annual_hours for roles in (curriculum.roles, *curriculum.orgs.values())
                       for p in roles.values() if p.annual_hours is not None), default=56.0)
    most_balance = 3 * most_target
    out: list[InputWarning] = []
    for n, record in enumerate(records):
        # An id the file did not give (an event keyed by its content) would only puzzle the reader.
        given = record.id if not (isinstance(record, Event) and (record.id or "").startswith(ROW_KEY)) else None
        where = {"source": source, "line": lines[n] if lines is not None else n + 1, "record": given}
        if isinstance(record, Event):
            if record.at > now:
                # Said in Beijing time, as the hours count it (2026-12-31T16:30Z is 2027-01-01 00:30).
                out.append(InputWarning(f"时间 {record.at.astimezone(TZ):%Y-%m-%d %H:%M} 晚于当前时间，请核对是否录入有误",
                                        field="at", **where))
            continue
        if isinstance(record, OpeningBalance):
            if record.topic and curriculum.vocabulary.code("topics", record.topic) not in topics:
                out.append(InputWarning(f"主题 {record.topic!r} 不属于已知的学习主题，这些学时只计入总学时，不计入必修学时"
                                        f"{_nearest(record.topic, topics)}", field="topic",
                                        **{**where, "record": record.member}))
            if record.hours > most_balance:
                out.append(InputWarning(
                    f"期初学时 {record.hours:g} 远超一年的学时要求（最高 {most_target:g} 学时），请核对单位是否为学时（不是分钟）",
                    field="hours", **{**where, "record": record.member}))
            continue
        if not isinstance(record, (Item, Member)):
            continue
        if isinstance(record, Member) and record.joined is not None and record.joined > now.date():
            out.append(InputWarning(f"入党日期 {record.joined:%Y-%m-%d} 晚于今天，请核对（政治生日的学习内容按它安排）",
                                    field="joined", **where))
        for role in record.roles:
            if role not in roles:
                # A member's unknown role counts toward no target; an item's reaches only its holders.
                what = "只推荐给担任这一角色的党员（如无人担任，就不会推荐给任何人）" if isinstance(record, Item) else "不会计入任何学时目标"
                out.append(InputWarning(f"角色 {role!r} 不在课程规则中，{what}{_nearest(role, roles)}",
                                        field="roles", **where))
        if isinstance(record, Item) and record.schedule is not None and not record.schedule.city:
            out.append(InputWarning(f"地点 {record.schedule.location!r} 未按“城市·地点”书写（如“北京·集团总部三楼会议室”），"
                                    "认不出城市：各地能参加线下活动的党员都会收到这项活动", field="location", **where))
        for topic in record.topics if isinstance(record, Item) else ():
            if topic not in topics:
                out.append(InputWarning(f"主题 {topic!r} 不属于已知的学习主题，不会计入必修学时{_nearest(topic, topics)}",
                                        field="topics", **where))
    return out


def stray_orgs(members: Sequence[Member], known: Iterable[str], *, source: str | None = None,
               lines: Sequence[int] | None = None) -> list[InputWarning]:
    """Members whose organisation looks mistyped: a code only one row of the file gives, that no
    registered organisation, stored member or item has (``known``), while something is known to
    compare it with. A code that differs from a known one only in case is always named (codes
    are case-sensitive: ``HXNY`` would be an enterprise of its own). Such a member belongs to a
    branch nobody reports on, and drops out of their own branch's progress, digest and coverage.
    """
    known = set(known)
    if not known:
        return []  # a first import: every branch is new
    folded = {k.casefold(): k for k in sorted(known)}
    uses = Counter(m.org for m in members)
    hint = _near_codes(known)
    out = []
    for n, m in enumerate(members):
        if m.org in known:
            continue
        where = {"source": source, "line": lines[n] if lines is not None else n + 1, "record": m.id, "field": "org"}
        same = folded.get(m.org.casefold())
        if same is not None:
            out.append(InputWarning(f"组织编码 {m.org!r} 与已有的 {same!r} 只差大小写，会被当作另一个组织：请改为 {same!r}",
                                    **where))
        elif uses[m.org] == 1:
            out.append(InputWarning(f"组织编码 {m.org!r} 只有这一行使用，也不是已登记的组织：如是笔误，该党员会单独算作一个组织，"
                                    f"不计入所在支部的进度、推送和覆盖统计{hint(m.org)}", **where))
    return out


def _near_codes(known: set[str]) -> Callable[[str], str]:
    """The closest known code to a stray one, as :func:`_nearest` says it, among the codes under
    its parent, or under the known parent closest to its own (a typo in the unit above): a group's
    thousands of branches are not compared with each stray row."""
    siblings: dict[str, list[str]] = {}
    for code in sorted(known):
        siblings.setdefault(code.rpartition(".")[0], []).append(code)
    parents = sorted(siblings)

    @functools.cache
    def hint(code: str) -> str:
        parent = code.rpartition(".")[0]
        if parent not in siblings:
            close = difflib.get_close_matches(parent, parents, n=1, cutoff=0.8)
            if not close:
                return ""  # a unit nothing known is near: new, not mistyped
            parent = close[0]
        return _nearest(code, siblings[parent])

    return hint


def _nearest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f"；是否应为 {close[0]!r}？" if close else ""


def _validate(rows: Iterable[tuple[int, Any]], record_type: type[R], source: str,
              vocabulary: Vocabulary | None, orgs: OrgDirectory | None = None
              ) -> tuple[list[R], list[int], list[ValidationError]]:
    """Records from rows, read through ``vocabulary`` (None: rows already in the JSON form) and
    ``orgs`` (organisations named by name)."""
    records: list[R] = []
    lines: list[int] = []
    problems: list[ValidationError] = []
    for line, data in rows:
        if vocabulary is not None and isinstance(data, Mapping):
            data, unread = read_fields(record_type, data, vocabulary, orgs)
            if unread:
                problems += [p.located(source=source, line=line) for p in unread]
                continue
        try:
            records.append(record_type.from_dict(data))
            lines.append(line)
        except ValidationError as exc:
            problems.append(exc.located(source=source, line=line))
    # Events may omit their id; every other record has one. An event's id is unique in its
    # member's tenant, which a file does not tell: one member's events surely share a tenant,
    # and the engine checks the rest when it knows the members.
    problems += refused_ids(records, source=source, lines=lines)
    keyed = [(line, r) for line, r in zip(lines, records) if r.id is not None]
    try:
        check_unique_ids([r for _, r in keyed], _NOUNS.get(record_type, record_type.__name__.lower()), source=source,
                         lines=[line for line, _ in keyed],
                         scope=_id_scope(record_type))
    except ValidationError as exc:
        problems.extend(exc.problems)
    if record_type is OpeningBalance:
        problems += repeated_balances(records, source=source, lines=lines)
    return records, lines, problems


def repeated_balances(balances: Sequence[OpeningBalance], *, source: str = "batch",
                      lines: Sequence[int] | None = None) -> list[ValidationError]:
    """Every opening balance for a member, year and topic an earlier one of the batch has too.
    One would replace the other: a ledger export
    with a row per quarter, or a corrected row appended, lost hours without a word."""
    seen: dict[tuple, int] = {}
    problems = []
    for pos, b in enumerate(balances):
        line = lines[pos] if lines is not None else pos + 1
        key = b.key
        if key in seen:
            earlier = "an earlier record of the batch" if source == "batch" else f"line {seen[key]}"
            problems.append(ValidationError(
                f"{earlier} gives {b.member!r} a balance for {b.year}" + (f" in {b.topic!r}" if b.topic else "")
                + " too: one would replace the other, so give one row with the year's total",
                source=source, line=line, record=b.member, field="member"))
        else:
            seen[key] = line
    return problems


def parse_records(
    rows: Iterable[tuple[int, Any]], record_type: type[R], *, source: str = "batch"
) -> list[R]:
    """Validate ``(line, data)`` pairs of records' JSON form, reporting every problem at once.

    Unlike the file readers this takes the JSON form as it is (no vocabulary, ISO dates): it
    checks what an API caller sent.

    Raises:
        ValidationError: the first problem, with ``problems`` holding all of them.
    """
    records, _, problems = _validate(rows, record_type, source, None)
    if problems:
        raise combine(problems)
    return records


def as_records(records: Iterable[Any], record_type: type[R]) -> list[R]:
    """Validate a batch given as records or JSON-like dicts, reporting every problem at once.

    Raises:
        ValidationError: if ``records`` is not a list of records, or any record is malformed.
    """
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise ValidationError(f"expected a list of {_NOUNS.get(record_type, record_type.__name__.lower())}s, "
                              f"got {type(records).__name__}")
    given, raw = [], []
    for n, r in enumerate(records, start=1):
        (given if isinstance(r, record_type) else raw).append((n, r))
    by_line = dict(given)
    by_line.update(zip((n for n, _ in raw), parse_records(raw, record_type) if raw else []))
    return [by_line[n] for n in sorted(by_line)]


def refused_ids(records: Sequence[Any], *, source: str = "batch", lines: Sequence[int] | None = None
                ) -> list[ValidationError]:
    """The problems of records valid alone that input may still not write: member and event ids
    with a prefix the engine keeps for itself (:data:`recsys.records.PSEUDONYM_PREFIX`,
    :data:`recsys.records.IMPRESSION_PREFIX`), and organisation paths with an empty level
    (``hxny.``, ``hxny..a``: each made a unit of its own in reports)."""
    problems = []
    for pos, record in enumerate(records):
        where = {"source": source, "line": lines[pos] if lines is not None else pos + 1, "record": record.id}
        taken = {Member: (PSEUDONYM_PREFIX, "a removed member's pseudonym"),
                 Event: (IMPRESSION_PREFIX, "the engine's record of a list shown")}.get(type(record))
        if taken is not None and record.id is not None and record.id.startswith(taken[0]):
            problems.append(ValidationError(f"ids starting {taken[0]!r} are kept for {taken[1]}", field="id", **where))
        org = getattr(record, "org", None) if isinstance(record, (Member, Item)) else None
        if org is not None and "" in org.split("."):
            problems.append(ValidationError(f"organisation {org!r} has an empty level: write it as levels joined "
                                            "by single dots (hxny.fdgs.zb1)", field="org", **where))
    return problems


def _id_scope(record_type: type) -> Callable[[Any], Hashable] | None:
    """Where a file's ids are unique: members' in their enterprise; events' in their member's (one
    member's events surely share a tenant; the engine checks the rest). Items' ids are unique per
    enterprise too, but a batch of the whole store names an item by its id alone."""
    if record_type is Event:
        return lambda e: e.member
    if record_type is Member:
        return lambda m: m.tenant
    return None


def check_unique_ids(
    records: Sequence[Any], kind: str, *, source: str = "batch", lines: Sequence[int] | None = None,
    scope: Callable[[Any], Hashable] | None = None,
) -> None:
    """Raise if two records of one batch share an id (which one should win is ambiguous).

    Args:
        scope: Where ids are unique, for records whose ids are not unique across the store (an
            event's id is unique in its member's tenant): two records clash only if their id and
            their scope are the same.
    """
    seen: dict[tuple[Hashable, str], int] = {}
    problems = []
    for pos, record in enumerate(records):
        line = lines[pos] if lines is not None else pos + 1
        key = (None if scope is None else scope(record), record.id)
        if key in seen:
            # A batch's positions are counted from 1 here and from 0 over HTTP: say which came
            # first without a number that reads differently in each.
            earlier = "an earlier record of the batch has it" if source == "batch" else f"first on line {seen[key]}"
            problems.append(ValidationError(
                f"duplicate {kind} id ({earlier})",
                source=source, line=line, record=record.id, field="id",
            ))
        else:
            seen[key] = line
    if problems:
        raise combine(problems)


def combine(problems: list[ValidationError], warnings: Sequence[InputWarning] = ()) -> ValidationError:
    """One error standing for several: the first problem's location and message, plus a count
    (and the batch's ``warnings``, to be shown with them)."""
    first = problems[0]
    reason = first.reason
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ValidationError(
        reason, source=first.source, line=first.line, record=first.record,
        field=first.field, problems=problems, warnings=list(warnings),
    )
