"""The reference backend: the whole store in Python dicts and lists, under one lock.

It answers exactly as :class:`~recsys.storage.sqlite.SQLiteStore` does (the contract suite checks
both), written for reading rather than speed: when a backend and this one disagree, this one says
what the protocol means. Nothing is kept when the process ends; a store here has no folder, so
derived files (the vector index) live in memory only.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.records import Event, Item, Member
from recsys.storage._shared import (
    check_impressions,
    check_artefact,
    check_meta,
    check_org_names,
    check_pseudonym,
    check_vectors,
    conflict,
    dumps,
    event_content,
    event_tenants,
    served_item_ids,
)
from recsys.storage.base import (
    Artefact,
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
        Revisions(items=0, members=0, activity=0, models=0)
    """

    def __init__(self) -> None:
        self.url = "memory://"
        self.files = None
        self._lock = threading.RLock()
        self._meta: dict[str, str] = {}
        self._items: dict[str, _StoredItem] = {}
        self._removed: dict[str, int] = {}  # id -> revision that removed it
        self._item_rev = 0
        self._members: dict[str, Member] = {}
        self._members_rev = 0
        self._events: list[tuple[int, Event]] = []  # (sequence number, event) in the order recorded
        self._by_id: dict[tuple[str, str], Event] = {}  # by (tenant, id): ids are unique per tenant
        self._tenants: dict[int, str] = {}  # sequence number -> tenant
        self._seq = 0
        self._activity = 0
        self._served: dict[tuple[str, dt.date, str], _Served] = {}
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
                             models=self._models_rev)

    # -- items ---------------------------------------------------------------------------

    def item_hashes(self, ids: Sequence[str]) -> dict[str, bytes]:
        with self._lock:
            return {i: self._items[i].hash for i in ids if i in self._items}

    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        vectors = check_vectors(items, vectors)
        with self._lock:
            self._item_rev += 1
            for item, vector in zip(items, vectors):
                frozen = vector.copy()
                frozen.flags.writeable = False
                self._items[item.id] = _StoredItem(item, text_hash(item), frozen, self._item_rev)
                self._removed.pop(item.id, None)
            return self._item_rev

    def remove_items(self, ids: Sequence[str]) -> int:
        with self._lock:
            self._item_rev += 1
            for i in ids:
                self._items.pop(i, None)
                # Logged even for an id never stored, as the database does: harmless to a reader.
                self._removed[i] = self._item_rev
            return self._item_rev

    def get_items(self, ids: Sequence[str]) -> dict[str, Item]:
        with self._lock:
            return {i: self._items[i].item for i in ids if i in self._items}

    def item_ids(self, ids: Sequence[str]) -> set[str]:
        with self._lock:
            return {i for i in ids if i in self._items}

    def iter_items(self) -> Iterator[Item]:
        with self._lock:
            items = [self._items[i].item for i in sorted(self._items)]
        return iter(items)

    def count_items(self) -> int:
        with self._lock:
            return len(self._items)

    def item_changes(self, since: int, dim: int) -> ItemChanges:
        with self._lock:
            stored = sorted((s for s in self._items.values() if s.rev > since), key=lambda s: (s.rev, s.item.id))
            removed = sorted((rev, i) for i, rev in self._removed.items() if rev > since)
            return ItemChanges(
                rev=self._item_rev,
                upserted=[(s.item, s.vector.reshape(dim)) for s in stored],
                removed=[i for _, i in removed],
            )

    # -- members -------------------------------------------------------------------------

    def upsert_members(self, members: Sequence[Member]) -> None:
        with self._lock:
            for m in members:
                self._members[m.id] = m
            self._members_rev += 1

    def get_members(self, ids: Sequence[str]) -> dict[str, Member]:
        with self._lock:
            return {i: self._members[i] for i in ids if i in self._members}

    def member_ids(self, ids: Sequence[str]) -> set[str]:
        with self._lock:
            return {i for i in ids if i in self._members}

    def iter_members(self) -> Iterator[Member]:
        with self._lock:
            members = [self._members[i] for i in sorted(self._members)]
        return iter(members)

    def count_members(self) -> int:
        with self._lock:
            return len(self._members)

    def member_roles(self) -> dict[str, list[str]]:
        with self._lock:
            return {i: list(self._members[i].roles) for i in sorted(self._members)}

    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None
    ) -> MemberRemoval | None:
        check_meta(meta or {})
        with self._lock:
            if member not in self._members:
                return None
            check_pseudonym(pseudonym, pseudonym in self._members)
            del self._members[member]
            self._members_rev += 1
            kept: list[tuple[int, Event]] = []
            touched = 0
            for seq, e in self._events:
                if e.member != member:
                    kept.append((seq, e))
                    continue
                touched += 1
                if e.id is not None:
                    del self._by_id[self._tenants[seq], e.id]
                if pseudonym is not None:  # kept in its tenant, without its id
                    kept.append((seq, Event.stored(pseudonym, e.item, e.kind, e.at, e.value)))
                else:
                    del self._tenants[seq]
            self._events = kept
            served = [key for key in self._served if key[0] == member]
            for key in served:
                del self._served[key]
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

    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None) -> int:
        with self._lock:
            tenants = event_tenants(events, self._member_orgs(events), tenants)
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

    def _member_orgs(self, events: Sequence[Event]) -> dict[str, str]:
        """The organisation of each member of ``events`` the store holds."""
        return {e.member: self._members[e.member].org for e in events if e.member in self._members}

    def _append(self, e: Event, tenant: str) -> None:
        self._seq += 1
        self._events.append((self._seq, e))
        self._tenants[self._seq] = tenant
        if e.id is not None:
            self._by_id[tenant, e.id] = e
        if e.kind != "impression":
            self._activity = self._seq

    def _in_time_order(self, member: str | None = None) -> list[tuple[int, Event]]:
        rows = [(seq, e) for seq, e in self._events if member is None or e.member == member]
        return sorted(rows, key=lambda row: (row[1].at.timestamp(), row[0]))

    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[Event]:
        wanted = None if kinds is None else set(kinds)
        limit = None if until is None else until.timestamp()
        with self._lock:
            return [
                e for _, e in self._in_time_order(member)
                if (limit is None or e.at.timestamp() <= limit) and (wanted is None or e.kind in wanted)
            ]

    def history(self, member: str) -> History:
        with self._lock:
            rows = self._in_time_order(member)
        return History(
            events=[e for _, e in rows],
            state=member_state(seq for seq, e in rows if e.kind != "impression"),
        )

    def histories(self, members: Sequence[str]) -> dict[str, History]:
        return {m: self.history(m) for m in members}

    def member_state(self, member: str) -> str:
        with self._lock:
            return member_state(seq for seq, e in self._events if e.member == member and e.kind != "impression")

    def count_events(self) -> int:
        with self._lock:
            return len(self._events)

    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        with self._lock:
            return [(seq, e) for seq, e in self._events if seq > after][:limit]

    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        with self._lock:
            return [(seq, self._tenants[seq]) for seq, _ in self._events if seq > after][:limit]

    def interactions(self, until_seq: int, kinds: Iterable[str]) -> list[tuple[str, str, str, float | None]]:
        wanted = set(kinds)
        with self._lock:
            return [
                (e.member, e.item, e.kind, e.value)
                for seq, e in self._events if seq <= until_seq and e.kind in wanted
            ]

    def enrolments(self, items: Sequence[str]) -> dict[str, int]:
        wanted = set(items)
        latest: dict[tuple[str, str], tuple[float, int, float | None]] = {}
        with self._lock:
            for seq, e in self._events:
                if e.kind == "enroll" and e.item in wanted:
                    key, mark = (e.item, e.member), (e.at.timestamp(), seq, e.value)
                    if key not in latest or mark[:2] > latest[key][:2]:
                        latest[key] = mark
        out: dict[str, int] = {}
        for (item, _), (_, _, value) in latest.items():
            if value != 0:  # the latest enroll event decides: value 0 is a withdrawal
                out[item] = out.get(item, 0) + 1
        return out

    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        lo, hi = since.timestamp(), until.timestamp()
        per_item: dict[str, set[str]] = {}
        with self._lock:
            branch = {m.id for m in self._members.values() if m.org == org}
            for _, e in self._events:
                if e.member in branch and e.kind in ("complete", "attend") and lo <= e.at.timestamp() < hi:
                    per_item.setdefault(e.item, set()).add(e.member)
        completers = set().union(*per_item.values())
        return {item: len(members) for item, members in per_item.items()}, len(completers)

    # -- served lists --------------------------------------------------------------------

    def get_served(self, member: str, day: dt.date, request: str) -> ServedList | None:
        with self._lock:
            served = self._served.get((member, day, request))
        if served is None:
            return None
        return ServedList(member, day, request, served.state, json.loads(served.payload), served.created)

    def served_for(self, members: Sequence[str], day: dt.date) -> list[ServedList]:
        with self._lock:
            keys = [k for k in self._served if k[1] == day and k[0] in set(members)]
        return [s for s in (self.get_served(*k) for k in keys) if s is not None]

    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = ()) -> None:
        check_impressions(impressions)
        # Encode before taking the lock, so a list that is not JSON writes nothing.
        encoded = {(s.member, s.day, s.request): _Served(s.state, dumps(s.payload), s.created) for s in lists}
        with self._lock:
            self._served.update(encoded)
            for e, tenant in zip(impressions, event_tenants(impressions, self._member_orgs(impressions))):
                if (tenant, e.id) not in self._by_id:
                    self._append(e, tenant)

    def served_between(
        self, first: dt.date, last: dt.date, *, upcoming: bool = False
    ) -> list[tuple[str, dt.date, list[str]]]:
        with self._lock:
            keys = sorted((day, member, request) for member, day, request in self._served if first <= day <= last)
            return [
                (member, day, served_item_ids(json.loads(self._served[member, day, request].payload), upcoming=upcoming))
                for day, member, request in keys
            ]

    def served_on(self, day: dt.date) -> set[tuple[str, str]]:
        with self._lock:
            return {(member, request) for member, served_day, request in self._served if served_day == day}

    # -- trained models ------------------------------------------------------------------

    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        check_artefact(name, data, activity)
        with self._lock:
            self._artefacts[name] = Artefact(name, bytes(data), activity, time.time())
            self._models_rev += 1

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
