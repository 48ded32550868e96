"""The reference backend: the whole store in Python dicts and lists, under one lock.

It answers exactly as :class:`~recsys.storage.sqlite.SQLiteStore` does (the contract suite checks
both), written for reading rather than speed: when a backend and this one disagree, this one says
what the protocol means. Nothing is kept when the process ends; a store here has no folder, so
derived files (the vector index) live in memory only.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.records import PSEUDONYM_PREFIX, Event, Item, Member, tenant_of
from recsys.storage._shared import (
    RESERVED_META,
    check_impressions,
    check_artefact,
    check_meta,
    check_meta_prefix,
    check_org_names,
    check_pseudonym,
    check_vectors,
    conflict,
    dumps,
    event_content,
    event_tenants,
    held_by,
    of_members_held,
    holders,
    item_clash,
    one_per_id,
    served_item_ids,
)
from recsys.storage.base import (
    Artefact,
    EventColumns,
    History,
    ItemChanges,
    MemberRemoval,
    Revisions,
    ServedList,
    member_state,
    text_hash,
)
from recsys.storage.embeddings import MemoryEmbeddingCache

__all__ = ["MemoryStore"]


@dataclass(frozen=True)
class _StoredItem:
    item: Item
    hash: bytes
    vector: np.ndarray
    rev: int


@dataclass(frozen=True)
class _Served:
    state: str
    payload: str  # JSON text, so a list reads back exactly as from a database
    created: float


class MemoryStore:
    """A store in memory: the reference every other backend is tested against.

    Every method holds one re-entrant lock, so each is atomic and a batch that fails writes nothing.

    Example:
        >>> store = MemoryStore()
        >>> store.revisions()
        Revisions(items=0, members=0, activity=0, models=0, roster=0)
    """

    def __init__(self) -> None:
        self.url = "memory://"
        self.files = None
        self._lock = threading.RLock()
        self._meta: dict[str, str] = {}
        # Members and items by (tenant, id): ids are unique per tenant; shared items are tenant "".
        self._items: dict[tuple[str, str], _StoredItem] = {}
        self._removed: dict[tuple[str, str], int] = {}  # (tenant, id) -> revision that removed it
        self._item_rev = 0
        self._members: dict[tuple[str, str], Member] = {}
        self._members_rev = 0
        self._roster_rev = 0
        self._events: list[tuple[int, Event]] = []  # (sequence number, event) in the order recorded
        self._by_id: dict[tuple[str, str], Event] = {}  # by (tenant, id): ids are unique per tenant
        self._tenants: dict[int, str] = {}  # sequence number -> tenant
        self._seq = 0
        self._activity = 0
        self._served: dict[tuple[str, str, dt.date, str], _Served] = {}  # (tenant, member, day, request)
        self._org_names: dict[str, str] = {}
        self._artefacts: dict[str, Artefact] = {}
        self._models_rev = 0
        self._cache = MemoryEmbeddingCache()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def close(self) -> None:
        """Nothing to release: the data stays until the store is dropped."""

    # -- metadata and counters -----------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        check_meta_prefix(prefix)
        with self._lock:
            return {k: v for k, v in self._meta.items() if k.startswith(prefix) and k not in RESERVED_META}

    def set_meta(self, values: Mapping[str, str | None]) -> None:
        check_meta(values)
        with self._lock:
            self._write_meta(values)

    def keep_meta(self, key: str, value: str) -> str:
        check_meta({key: value})
        with self._lock:
            return self._meta.setdefault(key, value)

    def _write_meta(self, values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            if value is None:
                self._meta.pop(key, None)
            else:
                self._meta[key] = value

    def revisions(self) -> Revisions:
        with self._lock:
            return Revisions(items=self._item_rev, members=self._members_rev, activity=self._activity,
                             models=self._models_rev, roster=self._roster_rev)

    # -- items ---------------------------------------------------------------------------

    def _item_keys(self, ids: Sequence[str], tenant: str | None) -> dict[str, tuple[str, str]]:
        """The key of each of ``ids`` held: in ``tenant`` or shared, or (no tenant) in any one."""
        if tenant is not None:
            return {i: k for i in ids for k in ((tenant, i), ("", i)) if k in self._items}
        wanted = set(ids)
        return one_per_id("item", ((i, t, (t, i)) for t, i in sorted(self._items) if i in wanted))

    def item_hashes(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, bytes]:
        with self._lock:
            return {i: self._items[k].hash for i, k in self._item_keys(ids, tenant).items()}

    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        vectors = check_vectors(items, vectors)
        with self._lock:
            held = {i: t for t, i in self._items}
            for item in items:
                other = held.get(item.id)
                if other is not None and (other == "") != (item.tenant == ""):
                    raise item_clash(item.id, other == "")
            self._item_rev += 1
            for item, vector in zip(items, vectors):
                frozen = vector.copy()
                frozen.flags.writeable = False
                self._items[item.tenant, item.id] = _StoredItem(item, text_hash(item), frozen, self._item_rev)
                self._removed.pop((item.tenant, item.id), None)
            return self._item_rev

    def remove_items(self, ids: Sequence[str], *, tenant: str | None = None) -> int:
        with self._lock:
            keys = self._item_keys(ids, tenant)
            self._item_rev += 1
            for i in ids:
                key = keys.get(i, (tenant or "", i))
                self._items.pop(key, None)
                # Logged even for an id never stored, as the database does: harmless to a reader.
                self._removed[key] = self._item_rev
            return self._item_rev

    def get_items(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Item]:
        with self._lock:
            return {i: self._items[k].item for i, k in self._item_keys(ids, tenant).items()}

    def item_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        with self._lock:
            return set(self._item_keys(ids, tenant))

    def item_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        wanted = set(ids)
        with self._lock:
            return holders((i, t) for t, i in self._items if i in wanted)

    def _sees(self, tenant: str | None, holder: str) -> bool:
        return tenant is None or holder in (tenant, "")

    def iter_items(self, *, tenant: str | None = None) -> Iterator[Item]:
        with self._lock:
            items = [self._items[k].item for k in sorted(self._items, key=lambda k: (k[1], k[0]))
                     if self._sees(tenant, k[0])]
        return iter(items)

    def count_items(self, *, tenant: str | None = None) -> int:
        with self._lock:
            return sum(1 for t, _ in self._items if self._sees(tenant, t))

    def item_changes(self, since: int, dim: int, *, tenant: str | None = None) -> ItemChanges:
        with self._lock:
            stored = sorted((s for k, s in self._items.items() if s.rev > since and self._sees(tenant, k[0])),
                            key=lambda s: (s.rev, s.item.id))
            if tenant is None:  # a catalogue of every tenant's items needs their ids unique
                one_per_id("item", ((i, t, None) for t, i in self._items))
            held = {i for t, i in self._items if self._sees(tenant, t)}
            # An id another tenant removed is not removed from a view that still holds it.
            removed = sorted((rev, i) for (t, i), rev in self._removed.items()
                             if rev > since and self._sees(tenant, t) and i not in held)
            return ItemChanges(
                rev=self._item_rev,
                upserted=[(s.item, s.vector.reshape(dim)) for s in stored],
                removed=list(dict.fromkeys(i for _, i in removed)),
            )

    # -- members -------------------------------------------------------------------------

    def upsert_members(self, members: Sequence[Member]) -> None:
        with self._lock:
            before: dict[tuple[str, str], Member | None] = {}
            for m in members:
                before.setdefault((m.tenant, m.id), self._members.get((m.tenant, m.id)))
                self._members[m.tenant, m.id] = m
            self._members_rev += 1
            # The roster moves where a member is new, or holds another organisation or other roles.
            if any(held is None or (held.org, list(held.roles)) != (now.org, list(now.roles))
                   for key, held in before.items() for now in (self._members[key],)):
                self._roster_rev += 1

    def _member_keys(self, ids: Iterable[str], tenant: str | None) -> dict[str, tuple[str, str]]:
        """The key of each of ``ids`` held: in ``tenant``, or (no tenant) in any one."""
        if tenant is not None:
            return {i: (tenant, i) for i in ids if (tenant, i) in self._members}
        wanted = set(ids)
        return one_per_id("member", ((i, t, (t, i)) for t, i in sorted(self._members) if i in wanted))

    def get_members(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Member]:
        with self._lock:
            return {i: self._members[k] for i, k in self._member_keys(ids, tenant).items()}

    def member_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        with self._lock:
            return set(self._member_keys(ids, tenant))

    def member_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        wanted = set(ids)
        with self._lock:
            return holders((i, t) for t, i in self._members if i in wanted)

    def _member_rows(self, tenant: str | None) -> list[Member]:
        return [self._members[k] for k in sorted(self._members, key=lambda k: (k[1], k[0]))
                if tenant is None or k[0] == tenant]

    def iter_members(self, *, tenant: str | None = None) -> Iterator[Member]:
        with self._lock:
            members = self._member_rows(tenant)
        return iter(members)

    def count_members(self, *, tenant: str | None = None) -> int:
        with self._lock:
            return len(self._member_rows(tenant))

    def member_orgs(self, *, tenant: str | None = None) -> list[tuple[str, str]]:
        with self._lock:
            return sorted((m.org, m.id) for m in self._member_rows(tenant))

    def member_roles(self, *, tenant: str | None = None) -> dict[str, list[str]]:
        with self._lock:
            return {m.id: list(m.roles) for m in self._member_rows(tenant)}

    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None,
        tenant: str | None = None,
    ) -> MemberRemoval | None:
        check_meta(meta or {})
        with self._lock:
            key = self._member_keys([member], tenant).get(member)
            if key is None:
                return None
            tenant = key[0]
            check_pseudonym(pseudonym, (tenant, pseudonym) in self._members)
            del self._members[key]
            self._members_rev += 1
            self._roster_rev += 1
            kept: list[tuple[int, Event]] = []
            touched = 0
            for seq, e in self._events:
                if e.member != member or self._tenants[seq] != tenant:
                    kept.append((seq, e))
                    continue
                touched += 1
                if e.id is not None:
                    del self._by_id[tenant, e.id]
                if pseudonym is not None:  # kept in its tenant, without its id
                    kept.append((seq, Event.stored(pseudonym, e.item, e.kind, e.at, e.value)))
                else:
                    del self._tenants[seq]
            self._events = kept
            served = [k for k in self._served if k[:2] == key]
            for k in served:
                del self._served[k]
            self._write_meta(meta or {})
            return MemberRemoval(member, touched, len(served), pseudonym)

    # -- organisations -------------------------------------------------------------------

    def set_org_names(self, names: Mapping[str, str | None]) -> None:
        pairs = check_org_names(names)
        with self._lock:
            for org, name in pairs:
                if name is None:
                    self._org_names.pop(org, None)
                else:
                    self._org_names[org] = name

    def org_names(self) -> dict[str, str]:
        with self._lock:
            return dict(sorted(self._org_names.items()))

    # -- events --------------------------------------------------------------------------

    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None,
                      tenant: str | None = None) -> int:
        with self._lock:
            tenants = event_tenants(events, self._member_orgs(events, tenant) if tenants is None else {}, tenants)
            # Check the whole batch before writing any of it: a conflict writes nothing.
            new: list[tuple[Event, str]] = []
            seen: dict[tuple[str, str], Event] = {}
            for line, (e, tenant) in enumerate(zip(events, tenants), start=1):
                if e.id is not None:
                    old = self._by_id.get((tenant, e.id)) or seen.get((tenant, e.id))
                    if old is not None:
                        if event_content(old) != event_content(e):
                            raise conflict(e.id, line)
                        continue
                    seen[tenant, e.id] = e
                new.append((e, tenant))
            for e, tenant in new:
                self._append(e, tenant)
            return len(new)

    def _member_orgs(self, events: Sequence[Event], tenant: str | None = None) -> dict[str, str]:
        """The organisation of each member of ``events`` the store holds (in ``tenant``, if given).

        Raises:
            AmbiguousIdError: A member id is held by several tenants (give ``tenants``).
        """
        keys = self._member_keys({e.member for e in events}, tenant)
        return {i: self._members[k].org for i, k in keys.items()}

    def _append(self, e: Event, tenant: str) -> None:
        self._seq += 1
        self._events.append((self._seq, e))
        self._tenants[self._seq] = tenant
        if e.id is not None:
            self._by_id[tenant, e.id] = e
        if e.kind != "impression":
            self._activity = self._seq

    def _in_time_order(self, member: str | None = None, tenant: str | None = None) -> list[tuple[int, Event]]:
        rows = [(seq, e) for seq, e in self._events
                if (member is None or e.member == member) and (tenant is None or self._tenants[seq] == tenant)]
        return sorted(rows, key=lambda row: (row[1].at.timestamp(), row[0]))

    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
        tenant: str | None = None,
    ) -> list[Event]:
        wanted = None if kinds is None else set(kinds)
        limit = None if until is None else until.timestamp()
        with self._lock:
            return [
                e for _, e in self._in_time_order(member, tenant)
                if (limit is None or e.at.timestamp() <= limit) and (wanted is None or e.kind in wanted)
            ]

    def history(self, member: str, *, tenant: str | None = None) -> History:
        with self._lock:
            rows = self._in_time_order(member, tenant)
        return History(
            events=[e for _, e in rows],
            state=member_state(seq for seq, e in rows if e.kind != "impression"),
        )

    def histories(self, members: Sequence[str], *, tenant: str | None = None) -> dict[str, History]:
        return {m: self.history(m, tenant=tenant) for m in members}

    def history_columns(self, members: Sequence[str], *, tenant: str | None = None) -> EventColumns:
        wanted = set(members)
        with self._lock:
            return EventColumns.from_rows(members, (
                (e.member, e.item, e.kind, e.at.timestamp(), seq) for seq, e in self._events
                if e.member in wanted and (tenant is None or self._tenants[seq] == tenant)))

    def member_state(self, member: str, *, tenant: str | None = None) -> str:
        with self._lock:
            return member_state(seq for seq, e in self._in_time_order(member, tenant) if e.kind != "impression")

    def count_events(self, *, tenant: str | None = None) -> int:
        with self._lock:
            return len(self._in_time_order(None, tenant))

    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        with self._lock:
            start = self._after(after)
            return self._events[start:start + limit]

    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        with self._lock:
            start = self._after(after)
            return [(seq, self._tenants[seq]) for seq, _ in self._events[start:start + limit]]

    def _after(self, seq: int) -> int:
        """Where the events recorded after ``seq`` start (kept in the order recorded): a page of
        the log costs its own length, not the whole log's."""
        return bisect_right(self._events, seq, key=lambda row: row[0])

    def interactions(self, until_seq: int, kinds: Iterable[str], *,
                     tenant: str | None = None) -> list[tuple[str, str, str, float | None]]:
        wanted = set(kinds)
        with self._lock:
            return [
                (e.member, e.item, e.kind, e.value)
                for seq, e in self._events
                if seq <= until_seq and e.kind in wanted and (tenant is None or self._tenants[seq] == tenant)
            ]

    def enrolments(self, items: Sequence[str], *, tenant: str | None = None) -> dict[str, int]:
        wanted = set(items)
        latest: dict[tuple[str, str, str], tuple[float, int, float | None]] = {}
        with self._lock:
            shared = {i for t, i in self._items if t == ""}
            for seq, e in self._events:
                holder = self._tenants[seq]
                # A shared activity's seats are taken by every tenant's members; one of a
                # tenant's own, by its own members only.
                # A removed member's history kept under a pseudonym holds no seat.
                if e.kind == "enroll" and e.item in wanted and (tenant is None or holder == tenant or e.item in shared) \
                        and not e.member.startswith(PSEUDONYM_PREFIX):
                    key, mark = (e.item, holder, e.member), (e.at.timestamp(), seq, e.value)
                    if key not in latest or mark[:2] > latest[key][:2]:
                        latest[key] = mark
        out: dict[str, int] = {}
        for (item, _, _), (_, _, value) in latest.items():
            if value != 0:  # the latest enroll event decides: value 0 is a withdrawal
                out[item] = out.get(item, 0) + 1
        return out

    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        lo, hi = since.timestamp(), until.timestamp()
        per_item: dict[str, set[str]] = {}
        with self._lock:
            branch = {m.id for m in self._members.values() if m.org == org}
            for seq, e in self._events:
                if e.member in branch and self._tenants[seq] == tenant_of(org) and e.kind in ("complete", "attend") and lo <= e.at.timestamp() < hi:
                    per_item.setdefault(e.item, set()).add(e.member)
        completers = set().union(*per_item.values())
        return {item: len(members) for item, members in per_item.items()}, len(completers)

    def completions_after(self, after: int, since: dt.datetime, *,
                          tenant: str | None = None) -> list[tuple[int, str, str, str, float]]:
        lo = since.timestamp()
        with self._lock:
            return [
                (seq, self._tenants[seq], e.member, e.item, e.at.timestamp())
                for seq, e in self._events[self._after(after):]
                if e.kind in ("complete", "attend") and e.at.timestamp() >= lo and tenant in (None, self._tenants[seq])
            ]

    # -- served lists --------------------------------------------------------------------

    def get_served(self, member: str, day: dt.date, request: str, *, tenant: str | None = None) -> ServedList | None:
        with self._lock:
            found = one_per_id("member", ((member, t, served) for (t, m, d, r), served in self._served.items()
                                          if (m, d, r) == (member, day, request) and tenant in (None, t)))
        served = found.get(member)
        if served is None:
            return None
        return ServedList(member, day, request, served.state, json.loads(served.payload), served.created)

    def served_for(self, members: Sequence[str], day: dt.date, *, tenant: str | None = None) -> list[ServedList]:
        wanted = set(members)
        with self._lock:
            keys = [k for k in self._served if k[2] == day and k[1] in wanted and tenant in (None, k[0])]
        return [s for s in (self.get_served(k[1], k[2], k[3], tenant=k[0]) for k in keys) if s is not None]

    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = (), *,
                   tenant: str | None = None, copy: bool = False) -> None:
        check_impressions(impressions)
        # Encode before taking the lock, so a list that is not JSON writes nothing.
        encoded = [(s, _Served(s.state, dumps(s.payload), s.created)) for s in lists]
        with self._lock:
            # Every tenant found before anything is written: an ambiguous member writes nothing,
            # and a member no longer held (removed while the list was planned) gets none back.
            members = {s.member for s, _ in encoded} | {e.member for e in impressions}
            held = held_by(members, tenant, copy,
                           lambda: {i: key[0] for i, key in self._member_keys(members, tenant).items()})
            impressions = of_members_held(impressions, held)
            for s, served in encoded:
                if s.member in held:
                    self._served[(held[s.member], s.member, s.day, s.request)] = served
            for e in impressions:
                if (held[e.member], e.id) not in self._by_id:
                    self._append(e, held[e.member])

    def served_between(
        self, first: dt.date, last: dt.date, *, upcoming: bool = False, tenant: str | None = None
    ) -> list[tuple[str, dt.date, list[str]]]:
        with self._lock:
            keys = sorted((day, member, request, t) for t, member, day, request in self._served
                          if first <= day <= last and (tenant is None or t == tenant))
            return [
                (member, day, served_item_ids(json.loads(self._served[t, member, day, request].payload),
                                              upcoming=upcoming))
                for day, member, request, t in keys
            ]

    def served_on(self, day: dt.date, *, tenant: str | None = None) -> set[tuple[str, str]]:
        with self._lock:
            return {(member, request) for t, member, served_day, request in self._served
                    if served_day == day and (tenant is None or t == tenant)}

    # -- trained models ------------------------------------------------------------------

    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        check_artefact(name, data, activity)
        with self._lock:
            self._artefacts[name] = Artefact(name, bytes(data), activity, time.time())
            self._models_rev += 1

    def artefact_names(self) -> list[str]:
        with self._lock:
            return sorted(self._artefacts)

    def remove_artefact(self, name: str) -> bool:
        with self._lock:
            if self._artefacts.pop(name, None) is None:
                return False
            self._models_rev += 1
            return True

    def get_artefact(self, name: str) -> Artefact | None:
        with self._lock:
            return self._artefacts.get(name)

    # -- caches --------------------------------------------------------------------------

    # -- integrity ----------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """None: nothing here is kept in pages that could be damaged."""
        return []

    def damaged_rows(self, dim: int | None) -> list:
        """None: records are kept as the validated objects they were written as."""
        return []

    def repair_indexes(self) -> None:
        """Nothing to rebuild."""

    def embedding_cache(self) -> MemoryEmbeddingCache:
        """The store's embedding cache, a dict kept as long as the store."""
        return self._cache
