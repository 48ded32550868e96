"""Checks and encodings every backend shares, so that they accept and answer the same."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from recsys.exceptions import AmbiguousIdError, ConflictError, RecsysError, StoreError, ValidationError
from recsys.records import Event, Item, Member, tenant_of

#: A served list or an event: whatever names its ``member``.
R = TypeVar("R")

__all__ = [
    "RESERVED_META",
    "roster_moves",
    "check_meta_prefix",
    "check_artefact",
    "check_meta",
    "check_pseudonym",
    "check_org_names",
    "remove_member_rows",
    "check_vectors",
    "check_impressions",
    "event_content",
    "event_tenants",
    "held_by",
    "of_members_held",
    "conflict",
    "holders",
    "item_clash",
    "one_per_id",
    "dumps",
    "served_item_ids",
    "event_row",
    "event_from_row",
    "first_of_each_id",
    "guarded",
    "redacted",
    "stored_record",
    "stored_vector",
    "DamagedRow",
    "SCAN_SQL",
    "scan_sql",
    "damaged_rows",
    "BALANCES_META",
    "BALANCES_REVISION_META",
    "tag_balances",
]

#: Metadata keys the store keeps for itself (its schema and counters, read with ``revisions()``).
RESERVED_META = frozenset({"schema", "rev", "members_rev", "roster_rev", "activity_seq", "models_rev"})

_ARTEFACT_NAME = re.compile(r"[a-z0-9_.-]{1,64}")


def check_artefact(name: str, data: bytes, activity: int) -> None:
    """Refuse an artefact write with a malformed name, data that is not bytes or a negative
    activity sequence."""
    if not isinstance(name, str) or not _ARTEFACT_NAME.fullmatch(name):
        raise ValidationError(f"artefact names are 1-64 of [a-z0-9_.-], got {name!r}", source="artefact")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValidationError(f"artefact data must be bytes, got {type(data).__name__}", source="artefact", field=name)
    if isinstance(activity, bool) or not isinstance(activity, int) or activity < 0:
        raise ValidationError(f"activity must be a whole number >= 0, got {activity!r}", source="artefact", field=name)


def check_meta_prefix(prefix: str) -> str:
    """``prefix`` if it can start metadata keys (a non-empty string): a read of every key is
    asked for by name, not by an empty prefix."""
    # NUL and lone surrogates: SQLite cut the one and refused the other, the memory store matched both.
    if not isinstance(prefix, str) or not prefix or any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in prefix):
        raise ValidationError(f"a metadata prefix must be a non-empty string of text, got {prefix!r}",
                              source="metadata")
    return prefix


def check_meta(values: Mapping[str, str | None]) -> None:
    """Refuse a metadata write that is not text, or that would overwrite the store's own counters."""
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"metadata keys must be non-empty strings, got {key!r}", source="metadata")
        if key in RESERVED_META:
            raise ValidationError("is kept by the store itself (read it with revisions())",
                                  source="metadata", field=key)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"must be a string, or None to delete it; got {type(value).__name__}",
                                  source="metadata", field=key)


def check_org_names(names: Mapping[str, str | None]) -> list[tuple[str, str | None]]:
    """The ``(code, name)`` pairs of a write of organisation names, checked: the records
    validated them already, so this guards only against a caller bypassing them."""
    for org, name in names.items():
        if not isinstance(org, str) or not org:
            raise ValidationError(f"organisation codes must be non-empty strings, got {org!r}", source="org_names")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValidationError(f"must be a non-empty string, or None to delete it; got {name!r}",
                                  source="org_names", field=org)
    return list(names.items())


def check_pseudonym(pseudonym: str | None, taken: bool) -> None:
    """Refuse keeping a removed member's events under the id of a member (``taken``): their
    histories would merge."""
    if pseudonym is not None and taken:
        raise ValidationError(f"is the id of a member, so it cannot stand for a removed one: {pseudonym!r}",
                              source="remove_member", field="pseudonym")


def roster_moves(execute: Callable[..., Any], members: Sequence[Member], records: Sequence[Mapping[str, Any]],
                 *, mark: str = "?") -> bool:
    """Whether writing ``members`` (``records``: each one's record as it is stored) changes the
    roster (:attr:`Revisions.roster`): a member the store does not hold, or one held with another
    organisation or other roles. Read inside the write's transaction, before it writes.

    Args:
        execute: The transaction's ``execute(sql, params)`` (sqlite3 and psycopg alike).
        mark: The driver's parameter mark (``?`` or ``%s``).
    """
    wanted = {(m.tenant, m.id): (m.org, r.get("roles")) for m, r in zip(members, records)}
    keys = list(wanted)
    for first in range(0, len(keys), 400):  # a chunk at a time: an import of new members stops at once
        chunk = keys[first:first + 400]
        pairs = ", ".join(f"({mark}, {mark})" for _ in chunk)
        # A join with the keys, not ``(tenant, id) IN (VALUES ...)``: SQLite scans the whole
        # table for the latter. 30,000 unchanged members written again to a SQLite store took
        # 1.07-1.38 s that way, 0.52-0.57 s joined, and 0.34-0.46 s the first time (two rounds,
        # ad hoc, the idle 2-core machine).
        held = {(tenant, id_): (org, data) for tenant, id_, org, data in execute(
            f"SELECT m.tenant, m.id, m.org, m.data FROM (VALUES {pairs}) AS w"
            " JOIN members AS m ON m.tenant = w.column1 AND m.id = w.column2",
            [part for key in chunk for part in key])}
        for key in chunk:
            org, roles = wanted[key]
            found = held.get(key)
            if found is None or found[0] != org:
                return True
            try:
                if json.loads(found[1]).get("roles") != roles:
                    return True
            except (ValueError, AttributeError):  # a damaged record: whatever it held, it changes now
                return True
    return False


def remove_member_rows(execute: Callable[..., Any], member: str, pseudonym: str | None, *, tenant: str,
                       mark: str = "?", lock: str = "") -> tuple[int, int] | None:
    """What :meth:`Store.remove_member` does to the rows of a SQL backend, inside its write
    transaction: the member of ``tenant``, their served lists, and their events in that tenant
    deleted or moved to ``pseudonym`` without their ids.

    Args:
        execute: The transaction's ``execute(sql, params)`` (sqlite3 and psycopg alike).
        tenant: The member's tenant (another tenant's member of the same id is another member).
        mark: The driver's parameter mark (``?`` or ``%s``).
        lock: What locks the member's row while it is read, where the database can (``FOR UPDATE``).

    Returns:
        How many events and served lists were removed, or None if there is no such member.
    """
    def run(sql: str, *params: Any) -> Any:
        return execute(sql.replace("?", mark), params)

    if run(f"SELECT 1 FROM members WHERE tenant = ? AND id = ? {lock}", tenant, member).fetchone() is None:
        return None
    check_pseudonym(pseudonym, run("SELECT 1 FROM members WHERE tenant = ? AND id = ?", tenant, pseudonym
                                   ).fetchone() is not None)
    run("DELETE FROM members WHERE tenant = ? AND id = ?", tenant, member)
    if pseudonym is None:
        events = run("DELETE FROM events WHERE tenant = ? AND member = ?", tenant, member).rowcount
    else:
        events = run("UPDATE events SET member = ?, id = NULL WHERE tenant = ? AND member = ?", pseudonym, tenant,
                     member).rowcount
    return events, run("DELETE FROM served WHERE tenant = ? AND member = ?", tenant, member).rowcount


def check_vectors(items: Sequence[Item], vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as a contiguous float32 matrix, checked to hold one row per item."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) != len(items) or (len(items) and vectors.ndim != 2):
        raise ValidationError(
            f"vectors must be a matrix with one row per item: got shape {vectors.shape} for {len(items)} items",
            source="upsert_items", field="vectors",
        )
    return vectors


def check_impressions(events: Sequence[Event]) -> None:
    """Served lists record impressions with ids only: they must never move the activity sequence,
    and an id is what makes recording them again a no-op."""
    for position, e in enumerate(events, 1):
        if e.kind != "impression":
            raise ValidationError(f"put_served records impressions only, got a {e.kind!r} event",
                                  source="put_served", line=position, record=e.id, field="kind")
        if e.id is None:
            raise ValidationError("an impression of a served list needs an id (so a retry is skipped)",
                                  source="put_served", line=position, field="id")


def held_by(members: Iterable[str], tenant: str | None, copy: bool,
            read: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The tenant of each of ``members`` a served write keeps: those the store holds (``read`` in
    the writing transaction), or every one in ``tenant`` for a copy of a store.

    Raises:
        ValidationError: ``copy`` without a ``tenant``.
    """
    if not copy:
        return read()
    if tenant is None:
        raise ValidationError("a copy of served lists names their tenant", source="put_served", field="tenant")
    return dict.fromkeys(members, tenant)


def of_members_held(records: Sequence[R], held: Mapping[str, Any] | set[str]) -> list[R]:
    """The served lists or impressions of the members ``held`` (read in the writing transaction):
    a member removed while their list was planned, by this process or another, gets none back."""
    return [r for r in records if r.member in held]


def event_content(e: Event) -> tuple[str, str, str, float | None, float]:
    """What must match for an event with a known id to count as a retry, not a conflict."""
    return (e.member, e.item, e.kind, e.value, e.at.timestamp())


def event_tenants(events: Sequence[Event], member_orgs: Mapping[str, str],
                  tenants: Sequence[str] | None = None) -> list[str]:
    """The tenant of each event, under which its id is unique: as given (a copy of a store keeps
    the source's, and the events of members removed under a pseudonym), else the top level of
    its member's organisation as the store holds it now (``member_orgs``: id -> org, read in the
    writing transaction).

    Raises:
        ValidationError: ``tenants`` is not one tenant (text without a dot) per event; or,
            without ``tenants``, an event's member is not held (removed since the caller checked:
            their events must not outlive them).
    """
    if tenants is None:
        unknown = next((n for n, e in enumerate(events, 1) if e.member not in member_orgs), None)
        if unknown is not None:
            e = events[unknown - 1]
            raise ValidationError(f"unknown member {e.member!r} (not in the store, or removed)",
                                  source="record_events", line=unknown, record=e.id, field="member")
        return [tenant_of(member_orgs[e.member]) for e in events]
    tenants = list(tenants)
    if len(tenants) != len(events):
        raise ValidationError(f"tenants must give one tenant per event: got {len(tenants)} for {len(events)}",
                              source="record_events", field="tenants")
    for position, tenant in enumerate(tenants, 1):
        if not isinstance(tenant, str) or "." in tenant:
            raise ValidationError(f"a tenant is a top-level organisation (text without a dot), got {tenant!r}",
                                  source="record_events", line=position, field="tenants")
    return tenants


def conflict(event_id: str, line: int | None = None) -> ConflictError:
    """The conflict of an event id reused with other content, at its 1-based ``line`` in the batch."""
    return ConflictError(f"event id {event_id!r} is already recorded with different content", record=event_id,
                         line=line)


def item_clash(item_id: str, shared_holds_it: bool) -> ConflictError:
    """The conflict of an item id taken across the line between shared items and an enterprise's:
    shared items are seen by every tenant, so their ids are reserved in all of them (and saying
    so tells nobody anything they cannot see)."""
    if shared_holds_it:
        return ConflictError(f"item id {item_id!r} is a shared item's (org null): give the enterprise's item "
                             "another id", record=item_id)
    return ConflictError(f"item id {item_id!r} is used by an enterprise's own item: give the shared item "
                         "another id", record=item_id)


V = TypeVar("V")


def holders(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``id -> the tenants holding it`` (sorted) of ``(id, tenant)`` rows."""
    out: dict[str, list[str]] = {}
    for id_, tenant in sorted(rows):
        out.setdefault(id_, []).append(tenant)
    return out


def one_per_id(kind: str, rows: Iterable[tuple[str, str, V]]) -> dict[str, V]:
    """``id -> value`` of ``(id, tenant, value)`` rows read without a tenant.

    Raises:
        AmbiguousIdError: An id is held by more than one tenant.
    """
    out: dict[str, V] = {}
    holders: dict[str, list[str]] = {}
    for id_, tenant, value in rows:
        holders.setdefault(id_, []).append(tenant)
        out[id_] = value
    for id_, tenants in holders.items():
        if len(tenants) > 1:
            raise AmbiguousIdError(kind, id_, tenants)
    return out


def dumps(data: Any) -> str:
    """The stored JSON form: compact, keys sorted, Chinese kept readable."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def served_item_ids(payload: Any, *, upcoming: bool = False) -> list[str]:
    """The item ids of a served list's JSON form, in list order; with ``upcoming``, then the
    activities it announced (shown to the member beside the list, not part of its minutes)."""
    ids = [entry["item"]["id"] for entry in payload.get("entries", [])]
    if upcoming:
        ids += [entry["item"]["id"] for entry in payload.get("upcoming", [])]
    return ids


def event_row(e: Event) -> tuple[str | None, str, str, str, float | None, str, float]:
    """An event as a SQL backend stores it: ``id, member, item, kind, value, at, ts`` (``at`` as
    written, offset kept; ``ts`` the instant, for ordering and windows)."""
    return (e.id, e.member, e.item, e.kind, e.value, e.at.isoformat(), e.at.timestamp())


def event_from_row(row: Sequence[Any]) -> Event:
    """The event of a stored ``id, member, item, kind, value, at`` row."""
    id_, member, item, kind, value, at = row
    return Event.stored(id=id_, member=member, item=item, kind=kind, value=value, at=dt.datetime.fromisoformat(at))


def first_of_each_id(events: Sequence[Event], tenants: Sequence[str]) -> list[tuple[Event, str]]:
    """The events with their tenants, without repeats of an id within a tenant (the first of
    each stays)."""
    seen: set[tuple[str, str | None]] = set()
    first = []
    for e, tenant in zip(events, tenants):
        if (tenant, e.id) not in seen:
            seen.add((tenant, e.id))
            first.append((e, tenant))
    return first


F = TypeVar("F", bound=Callable[..., Any])


def guarded(errors: Callable[[Any], AbstractContextManager[None]]) -> Callable[[F], F]:
    """A decorator for a backend's public methods: the driver's errors leaving a method pass
    through ``errors(store)`` (a context manager turning them into library errors)."""

    def decorate(method: F) -> F:
        if inspect.isgeneratorfunction(method):
            # The SQL of a generator runs while the caller iterates, so the guard must too.
            @functools.wraps(method)
            def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
                with errors(self):
                    yield from method(self, *args, **kwargs)

            return generator  # type: ignore[return-value]

        @functools.wraps(method)
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            with errors(self):
                return method(self, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def redacted(url: str) -> str:
    """The URL without its password, fit for an error message or a log."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # a malformed port or host: say nothing of what it holds
        return url.split("://", 1)[0] + "://…"



class DamagedRecordError(StoreError):
    """A stored item or member row that does not parse: that record's problem, not the store's
    (a batch serves the other members and names this one).

    Attributes:
        record: The row's id.
    """

    def __init__(self, message: str, record: str) -> None:
        super().__init__(message)
        self.record = record


def stored_record(kind: type, id_: str, data: str, where: object) -> Any:
    """A stored item or member record (``kind``), parsed from its JSON text; a damaged row fails
    naming its id and ``where`` it is kept (the store's fault, not the caller's: a StoreError,
    never a wrong answer)."""
    try:
        record = kind.from_dict(json.loads(data))
    except (ValueError, TypeError, RecsysError) as exc:  # JSONDecodeError is a ValueError
        raise DamagedRecordError(f"{where}: the {kind.__name__.lower()} row {id_!r} is damaged ({exc}); "
                                 "write the record again or restore the store from a backup", id_) from exc
    if record.id != id_:
        raise DamagedRecordError(f"{where}: the {kind.__name__.lower()} row {id_!r} holds the record "
                                 f"{record.id!r}; write the record again or restore the store from a backup", id_)
    return record


def stored_vector(id_: str, blob: bytes, dim: int, where: object) -> np.ndarray:
    """An item's stored vector, checked to hold ``dim`` finite float32 numbers."""
    if len(blob) != 4 * dim:
        raise StoreError(f"{where}: the vector of item {id_!r} is damaged ({len(blob)} bytes, expected {4 * dim}); "
                         "write the item again or restore the store from a backup")
    vector = np.frombuffer(blob, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise StoreError(f"{where}: the vector of item {id_!r} is damaged (expected {dim} finite "
                         "numbers); write the item again or restore the store from a backup")
    return vector


@dataclass(frozen=True)
class DamagedRow:
    """A row of a store that does not parse (what ``recsys check`` reports).

    Attributes:
        table: ``items``, ``members``, ``events`` or ``served``.
        id: The row's record id (an event: ``tenant/id``, or its id alone in the empty tenant,
            or ``#`` and its sequence number without one; a served list: ``member/day/request``).
        problem: What is wrong with it.
    """

    table: str
    id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.id!r}: {self.problem}"


#: The SELECTs whose rows :func:`damaged_rows` reads, the same on every SQL backend (``{tenant}``:
#: what gives an event's tenant, see :func:`scan_sql`).
SCAN_SQL = {
    "items": "SELECT id, data, vector, tenant FROM items ORDER BY id, tenant",
    "members": "SELECT id, data, tenant FROM members ORDER BY id, tenant",
    "events": "SELECT id, member, item, kind, value, at, {tenant}, seq FROM events ORDER BY seq",
    "served": "SELECT member, day, request, payload, tenant FROM served ORDER BY day, member, request, tenant",
}


def scan_sql(tenant: str = "tenant") -> dict[str, str]:
    """:data:`SCAN_SQL` with ``tenant`` as the SQL of an event's tenant (a column, or how an
    older schema without one derives it)."""
    return {table: sql.replace("{tenant}", tenant) for table, sql in SCAN_SQL.items()}


def damaged_rows(rows: Mapping[str, Iterable[Sequence[Any]]], dim: int | None, where: object) -> list[DamagedRow]:
    """Every row of ``rows`` (by table, as :data:`SCAN_SQL` selects them) that does not parse:
    an item or member whose record is damaged or names another id, an item vector that is not
    ``dim`` finite numbers, an event that is not a valid event, a served list that is not JSON."""
    found: list[DamagedRow] = []

    def parsed(table: str, id_: str, parse: Callable[[], Any]) -> None:
        try:
            parse()
        except StoreError as exc:
            found.append(DamagedRow(table, id_, str(exc).split(": ", 1)[-1]))
        except (ValueError, TypeError, KeyError, RecsysError) as exc:
            found.append(DamagedRow(table, id_, f"does not parse ({exc!s})"))

    def named(tenant: str, id_: str) -> str:
        # Ids repeat across tenants, so a row is named with its tenant ("/" is in neither); a
        # shared item (or an event of no tenant) keeps its bare id.
        return f"{tenant}/{id_}" if tenant else id_

    for id_, data, vector, tenant in rows.get("items", ()):
        parsed("items", named(tenant, id_), lambda: stored_record(Item, id_, data, where))
        if dim is not None:
            parsed("items", named(tenant, id_), lambda: stored_vector(id_, bytes(vector), dim, where))
    for id_, data, tenant in rows.get("members", ()):
        parsed("members", named(tenant, id_), lambda: stored_record(Member, id_, data, where))
    for *row, tenant, seq in rows.get("events", ()):
        # Checked in full: reading a history trusts what was checked on the way in.
        parsed("events", f"#{seq}" if row[0] is None else named(tenant, row[0]),
               lambda: Event(**vars(event_from_row(row))))
    for member, day, request, payload, tenant in rows.get("served", ()):
        parsed("served", f"{named(tenant, member)}/{day}/{request}", lambda: json.loads(payload)["entries"])
    return found


#: The setting in which the engine keeps members' opening balances (a JSON list).
BALANCES_META = "opening_balances"
#: Written with :data:`BALANCES_META`, new each time: a process planning lists reads this small
#: setting per list and the balances themselves only when it changed.
BALANCES_REVISION_META = "opening_balances_revision"


def tag_balances(stored: str, member_orgs: Mapping[str, str]) -> str:
    """The opening balances setting with each balance tagged with its member's tenant, as the
    engine keeps them once member ids are unique per tenant (an upgrade, when ids were unique
    across the store): ``""`` for a member the store does not hold; text that is not a JSON
    list is kept as it is."""
    try:
        balances = json.loads(stored)
    except ValueError:
        return stored
    if not isinstance(balances, list):
        return stored
    for balance in balances:
        if isinstance(balance, dict) and "tenant" not in balance:
            org = member_orgs.get(balance.get("member"))  # type: ignore[arg-type]
            balance["tenant"] = tenant_of(org) if org is not None else ""
    return json.dumps(balances, ensure_ascii=False)
