"""The storage slot: what every backend keeps and how the rest of the library asks for it.

A backend keeps items (with their vectors), members, events, the daily lists served, and a little
metadata. Everything above this package talks to a :class:`Store` and never to a database: a
backend is chosen by URL (see :func:`recsys.storage.open_store`), and one contract test suite
(``tests/storage/test_store_contract.py``) runs against every backend.

Consistency rules every backend keeps:

- Every write is all or nothing.
- Every item write bumps the item revision in the same transaction, and :meth:`Store.item_changes`
  reads the revision and the rows of one snapshot, so an in-memory index can catch up from any
  revision and never disagrees with the store.
- Every member write bumps the member revision; every event other than an impression moves the
  activity sequence. Serving a list (which records impressions) moves neither, so models derived
  from activity stay put while lists are served.
- Event ids are unique per tenant, not across the store. An event's tenant is the top level of
  its member's organisation (:func:`recsys.records.tenant_of`) as the store holds the member
  when the event is recorded; it stays with the event (when the member moves or is removed
  under a pseudonym, and in a copy of the store). So two enterprises may record the same id,
  and neither learns from a conflict that the other did.
- A store records events, and keeps served lists, only of members it holds, as read in the
  writing transaction: a member removed meanwhile, by any process, leaves nothing behind. Only
  a copy of a store (``tenants``, ``copy``) writes as given.
- Member and item ids are unique per tenant too: a member's tenant is the top level of their
  organisation, an item's that of its owner, ``""`` for a shared item (``org`` null). Members,
  items and served lists are kept by (tenant, id). Every tenant sees the shared items, so their
  ids are reserved in every tenant: a tenant item may not take a shared item's id, nor a shared
  item a tenant's (:class:`recsys.exceptions.ConflictError`, saying which).
- Reads take an optional ``tenant``. With one, they answer for that tenant alone: its members,
  their events and served lists, its own items and the shared ones (``""``: shared items only).
  Without one, they answer across tenants as before; an id several tenants hold is then an
  :class:`recsys.exceptions.AmbiguousIdError` where one record was asked for (and in
  :meth:`Store.item_changes`, which builds a catalogue keyed by id), never an arbitrary one.
  :class:`recsys.storage.tenant.TenantStore` is one tenant's view of a store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from recsys.records import Event, Item, Member

__all__ = [
    "Store",
    "EmbeddingCache",
    "ItemChanges",
    "Revisions",
    "History",
    "EventColumns",
    "ServedList",
    "MemberRemoval",
    "Artefact",
    "text_hash",
    "member_state",
]


def text_hash(item: Item) -> bytes:
    """Hash of what is embedded for an item; unchanged text means an unchanged vector."""
    return hashlib.blake2b(item.text.encode("utf-8"), digest_size=16).digest()


def member_state(activity: Iterable[int]) -> str:
    """The state token of a member from the sequence numbers of their events other than impressions.

    It changes whenever such an event is recorded; a served list is reused only while it is the
    same (see :meth:`Store.history`).
    """
    seqs = list(activity)
    return state_token(len(seqs), max(seqs, default=0))


def state_token(count: int, last: int) -> str:
    """The state token of a member with ``count`` events other than impressions, the last of
    them numbered ``last`` (0 for none)."""
    return f"{count}:{last}"


@dataclass(frozen=True)
class ItemChanges:
    """Item writes logged after a revision: ``upserted`` items with their vectors, ``removed`` ids."""

    rev: int
    upserted: list[tuple[Item, np.ndarray]]
    removed: list[str]


@dataclass(frozen=True)
class Revisions:
    """The store's counters, read together: what in-memory views check to know they are current.

    Attributes:
        items: Bumped by every item write (see :meth:`Store.item_changes`).
        members: Bumped by every member write.
        activity: Sequence number of the last event other than an impression (0 for none).
        models: Bumped by every :meth:`Store.put_artefact` (a trained model stored or replaced),
            so a process serving lists knows to load the new one without reading it per request.
        roster: Bumped by a member write that changes who the members are, or a member's
            organisation or roles: what the branches' activity and role-aware popularity read. A
            member's interests, minutes or name leave it (a portal writes those all day; each
            would have every process read every branch's completions and rebuild its models).
    """

    items: int
    members: int
    activity: int
    models: int = 0
    roster: int = 0


@dataclass(frozen=True)
class History:
    """A member's events in time order, with the state token they give (see :func:`member_state`)."""

    events: list[Event]
    state: str


@dataclass(frozen=True)
class EventColumns:
    """The events of a block of members as columns: who, which item, what kind and when, without
    an :class:`~recsys.records.Event` per event (building those and parsing their times costs
    more than the read itself, and a report over thousands of members reads only these four).

    Attributes:
        members: The members asked for, each once, in the order first asked.
        member: Per event, its member's position in ``members`` (int64).
        item: Per event, the item id (an object array of str).
        kind: Per event, the kind (an object array of str).
        at: Per event, the instant in seconds since the epoch (float64, ``Event.at.timestamp()``).

    The events are grouped by member in the order of ``members``, each member's in time order
    (ties in the order recorded), as :meth:`Store.history` gives them.
    """

    members: tuple[str, ...]
    member: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    at: np.ndarray

    def __len__(self) -> int:
        return len(self.member)

    @classmethod
    def from_rows(cls, members: Sequence[str], rows: Iterable[tuple[str, str, str, float, int]]) -> EventColumns:
        """The columns of ``members`` from their events' ``member, item, kind, ts, seq`` rows in any
        order (``seq``: the order recorded): a backend reads them unsorted and one sort here puts
        them in the order of :meth:`Store.history`, which costs less than sorting them in SQL.

        ``rows`` is best a cursor: each row is taken apart as it comes and dropped, where a list
        of tens of thousands of row tuples, all alive at once, would set off the collector's
        full passes over a large process (they cost more than the read)."""
        asked = tuple(dict.fromkeys(members))
        place = {m: n for n, m in enumerate(asked)}
        position, item, kind, ts, seq = [], [], [], [], []
        for m, i, k, t, s in rows:
            position.append(place[m])
            item.append(i)
            kind.append(k)
            ts.append(t)
            seq.append(s)
        at = np.array(ts, dtype=np.float64)
        where = np.array(position, dtype=np.int64)
        order = np.lexsort((np.array(seq, dtype=np.int64), at, where))
        return cls(asked, where[order], np.array(item, dtype=object)[order], np.array(kind, dtype=object)[order],
                   at[order])


@dataclass(frozen=True)
class ServedList:
    """A daily list as served: kept so the same request the same day gets the same list.

    Attributes:
        member: The member.
        day: The day of the list.
        request: What was asked besides member and day (e.g. ``"minutes=30"``).
        state: The member's state token when it was served (see :class:`History`).
        payload: The list's JSON form.
        created: When it was served (seconds since the epoch).
    """

    member: str
    day: dt.date
    request: str
    state: str
    payload: Any
    created: float


#: Metadata keys starting so hold when a member was last removed, one per member (see
#: :func:`recsys.tokens.removal_meta`): a copy of the store carries them.
REMOVAL_PREFIX = "member_removed:"
#: Metadata keys starting so hold which branches a day's push to a group webhook reached (see
#: :func:`recsys.delivery.push.push_digests`): a copy carries them, so a push run again after a move
#: sends nothing twice.
PUSH_SENT_PREFIX = "push_sent:"


@dataclass(frozen=True)
class MemberRemoval:
    """What removing a member took away (see :meth:`Store.remove_member`).

    Attributes:
        member: The member removed.
        events: Their events: deleted, or kept under ``pseudonym``.
        served: Their served lists, deleted.
        pseudonym: The id their events are kept under, or None if they were deleted.
    """

    member: str
    events: int
    served: int
    pseudonym: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "events": self.events, "served": self.served, "pseudonym": self.pseudonym}


@dataclass(frozen=True)
class Artefact:
    """A named binary artefact kept with the store: a trained model (see :mod:`recsys.models`).

    Attributes:
        name: Its name (``[a-z0-9_.-]``, at most 64 characters).
        data: Its bytes, as the trainer wrote them (the store does not read them).
        activity: The activity sequence (:attr:`Revisions.activity`) it was trained up to.
        created: When it was stored (seconds since the epoch).
    """

    name: str
    data: bytes
    activity: int
    created: float


@runtime_checkable
class EmbeddingCache(Protocol):
    """A map from (model name, key) to an embedding, so unchanged text is never embedded twice."""

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors of those ``keys`` that are cached."""
        ...

    def put_many(self, model: str, entries: Mapping[bytes, np.ndarray]) -> None:
        """Cache vectors (a lost entry is only recomputed, so a backend may write lazily)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """What the library needs of a storage backend.

    Methods taking a sequence of ids accept any number of them; ids that do not exist are left
    out of the answer, never an error. Errors of the backend itself surface as
    :class:`recsys.exceptions.StoreError`, never as a driver's exception.
    """

    #: Where the backend is, as a URL (``sqlite:///abs/dir``, ``memory://``).
    url: str
    #: A local folder for derived files (the vector index, ``curriculum.json``), or None if the
    #: backend has none (then they are kept in memory only).
    files: Path | None

    def close(self) -> None: ...

    # -- metadata and counters --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A metadata value, or None if unset. The store's own keys (``schema``, ``rev``,
        ``members_rev``, ``activity_seq``) are not metadata: read the counters with :meth:`revisions`."""
        ...

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every metadata key starting with ``prefix`` (a non-empty string), with its value; the
        store's own keys never."""
        ...

    def set_meta(self, values: Mapping[str, str | None]) -> None:
        """Set several metadata keys at once (None deletes a key), all or nothing.

        Raises:
            ValidationError: A value is not a string, or a key is one the store keeps itself;
                nothing is written then.
        """
        ...

    def keep_meta(self, key: str, value: str) -> str:
        """Set ``key`` to ``value`` unless it is set already, in one step, and return what is
        stored: of several processes making a secret at once, all end with the first one's.

        Raises:
            ValidationError: as :meth:`set_meta`.
        """
        ...

    def revisions(self) -> Revisions:
        """The item, member and roster revisions, the models revision and the activity sequence,
        in one read."""
        ...

    # -- items ------------------------------------------------------------------------------

    def item_hashes(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, bytes]:
        """Stored text hashes (:func:`text_hash`) of those ``ids`` that exist."""
        ...

    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        """Insert or replace items with their vectors (row i for item i); return the new revision.

        Raises:
            ValidationError: ``vectors`` does not have one row per item.
        """
        ...

    def remove_items(self, ids: Sequence[str], *, tenant: str | None = None) -> int:
        """Remove items (their events stay, as history); return the new revision."""
        ...

    def get_items(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Item]: ...

    def item_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The tenants holding each of ``ids`` that any holds (``""``: shared), sorted: what a
        caller without a tenant needs to say which to give."""
        ...

    def item_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        """Those of ``ids`` that exist."""
        ...

    def iter_items(self, *, tenant: str | None = None) -> Iterator[Item]:
        """Every item, by id (then tenant)."""
        ...

    def count_items(self, *, tenant: str | None = None) -> int: ...

    def item_changes(self, since: int, dim: int, *, tenant: str | None = None) -> ItemChanges:
        """Every item write after revision ``since`` (vectors of ``dim`` floats), read in one snapshot.

        ``upserted`` holds the items as they are now, ``removed`` the ids removed and not re-added
        since; both ordered by revision, then id. An id removed in one tenant is not in
        ``removed`` of a read that still sees it held (in another tenant, without ``tenant``).

        Raises:
            AmbiguousIdError: without ``tenant``, when several tenants hold an item id.
        """
        ...

    # -- members ----------------------------------------------------------------------------

    def upsert_members(self, members: Sequence[Member]) -> None: ...

    def get_members(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Member]: ...

    def member_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The tenants holding each of ``ids`` that any holds, sorted."""
        ...

    def member_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]: ...

    def iter_members(self, *, tenant: str | None = None) -> Iterator[Member]:
        """Every member, by id (then tenant)."""
        ...

    def count_members(self, *, tenant: str | None = None) -> int: ...

    def member_roles(self, *, tenant: str | None = None) -> dict[str, list[str]]:
        """Every member's roles, by member id."""
        ...

    def member_orgs(self, *, tenant: str | None = None) -> list[tuple[str, str]]:
        """Every member as ``(organisation, id)``, in that order, read without parsing the
        records: a batch lists its members by it, and one damaged record is then that member's
        problem, not the whole run's."""
        ...

    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None,
        tenant: str | None = None,
    ) -> MemberRemoval | None:
        """Remove a member (of ``tenant``) with their served lists and their events in their
        tenant, in one transaction.

        Without ``pseudonym`` their events are deleted. With it they are kept for statistics
        under that id instead, without their event ids (an impression's id names its member).
        ``meta`` is written in the same transaction (as :meth:`set_meta`), for what the engine
        keeps of members in metadata. Bumps the member revision.

        Returns:
            What was removed, or None if there is no such member (then nothing is written).

        Raises:
            ValidationError: ``pseudonym`` is the id of a member, or ``meta`` is refused by
                :meth:`set_meta`'s rules; nothing is written then.
        """
        ...

    # -- organisations ----------------------------------------------------------------------

    def set_org_names(self, names: Mapping[str, str | None]) -> None:
        """Set display names of organisations by code (None deletes one), all or nothing.

        Raises:
            ValidationError: A code or name is not a non-empty string; nothing is written then.
        """
        ...

    def org_names(self) -> dict[str, str]:
        """Every organisation's display name, by code (an enterprise has at most thousands)."""
        ...

    # -- events -----------------------------------------------------------------------------

    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None,
                      tenant: str | None = None) -> int:
        """Store events all or nothing; return how many were new.

        An event whose id its tenant already holds with the same content is a retry and is
        skipped; the same id with other content raises :class:`recsys.exceptions.ConflictError`
        and nothing is written. The same id in another tenant is another event.

        Every event's member must be held (in ``tenant``, if given), as read in the writing
        transaction: the events of a member removed meanwhile, by this process or another, are
        refused rather than left behind them. Only a copy (``tenants``) records events as given.

        Args:
            events: The events, in the order to record them.
            tenants: The tenant of each event, as :meth:`recorded_tenants` gives them (a copy of a
                store keeps its tenants, and the events of members removed under a pseudonym);
                by default each event's member's (see the module).
            tenant: The tenant every event's member must be held in.

        Raises:
            ConflictError: as above.
            ValidationError: ``tenants`` does not give one tenant (text without a dot) per event;
                or an event's member is not held.
        """
        ...

    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
        tenant: str | None = None,
    ) -> list[Event]:
        """Events in time order (ties in the order recorded), of one member or all, up to ``until``
        (of ``tenant``: recorded in it)."""
        ...

    def history(self, member: str, *, tenant: str | None = None) -> History:
        """One member's events in time order and their state token, in one read."""
        ...

    def histories(self, members: Sequence[str], *, tenant: str | None = None) -> dict[str, History]:
        """:meth:`history` of each of ``members`` (an empty one for a member without events), read
        together: a block of a day's batch reads its histories in a few statements, not one
        per member."""
        ...

    def history_columns(self, members: Sequence[str], *, tenant: str | None = None) -> EventColumns:
        """The events of ``members`` as :class:`EventColumns`: what :meth:`histories` reads, in
        the same order, for a reader that needs no :class:`~recsys.records.Event` objects."""
        ...

    def member_state(self, member: str, *, tenant: str | None = None) -> str:
        """The member's state token alone (what :meth:`history` gives, without the events): all a
        request for a list already served needs to know it is still valid."""
        ...

    def count_events(self, *, tenant: str | None = None) -> int: ...

    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        """``(sequence number, event)`` in the order recorded: the first ``limit`` after sequence
        number ``after``. Pages through every event in bounded memory, in the order that
        :meth:`interactions` and the state tokens follow (what a copy of the store keeps)."""
        ...

    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        """``(sequence number, tenant)`` of the events :meth:`recorded_events` gives for the same
        arguments: what a copy of the store passes to :meth:`record_events`."""
        ...

    def interactions(self, until_seq: int, kinds: Iterable[str], *,
                     tenant: str | None = None) -> list[tuple[str, str, str, float | None]]:
        """``(member, item, kind, value)`` of the events of ``kinds`` up to sequence number
        ``until_seq``, in the order recorded."""
        ...

    def enrolments(self, items: Sequence[str], *, tenant: str | None = None) -> dict[str, int]:
        """How many distinct members enrolled in each of ``items`` (those with any): with
        ``tenant``, its own members in its own items, every tenant's in shared ones."""
        ...

    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        """Per item, how many members of branch ``org`` completed (or attended) it with
        ``since <= at < until``; and how many members of the branch completed anything then."""
        ...

    def completions_after(self, after: int, since: dt.datetime, *,
                          tenant: str | None = None) -> list[tuple[int, str, str, str, float]]:
        """``(sequence number, tenant, member, item, timestamp)`` of every ``complete`` and
        ``attend`` event recorded after sequence number ``after`` with ``at >= since``, in the
        order recorded: what :meth:`branch_completions` counts, for a reader that keeps it in
        memory and then reads only what is new (sequence numbers are given in commit order)."""
        ...

    # -- served lists -----------------------------------------------------------------------

    def get_served(self, member: str, day: dt.date, request: str, *,
                   tenant: str | None = None) -> ServedList | None: ...

    def served_for(self, members: Sequence[str], day: dt.date, *, tenant: str | None = None) -> list[ServedList]:
        """The lists served to any of ``members`` on ``day`` (every request), read together."""
        ...

    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = (), *,
                   tenant: str | None = None, copy: bool = False) -> None:
        """Keep served lists (replacing any of the same member, day and request) and record
        their impressions, in one transaction, in ``tenant`` (by default each member's).

        Only those of members held (in ``tenant``) as read in the writing transaction are kept:
        a member removed while their list was planned, by this process or another, gets none
        back. A copy of a store (``copy``, with ``tenant``) keeps every list as the source held it.

        Impressions already recorded (by id, in their member's tenant) are skipped and use up no
        sequence number; recorded ones never move the activity sequence. A backend may commit
        this write without waiting for the disk (a served list is made again the same from the
        rest of the store), never the events of :meth:`record_events`.

        Raises:
            ValidationError: An event is not an impression, or has no id; nothing is written then.
        """
        ...

    def served_between(
        self, first: dt.date, last: dt.date, *, upcoming: bool = False, tenant: str | None = None
    ) -> list[tuple[str, dt.date, list[str]]]:
        """Lists served from ``first`` to ``last`` inclusive: ``(member, day, item ids)`` by day
        and member (a list served for several requests the same day counts once per request).
        With ``upcoming``, the ids include the activities the list announced beside its entries."""
        ...

    def served_on(self, day: dt.date, *, tenant: str | None = None) -> set[tuple[str, str]]:
        """``(member, request)`` of every list served for ``day``: what a resumed batch skips."""
        ...

    # -- trained models ---------------------------------------------------------------------

    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        """Keep ``data`` under ``name`` (replacing what was there) with the activity sequence it
        was trained up to, and bump :attr:`Revisions.models`, in one transaction.

        Raises:
            ValidationError: A malformed name, ``data`` not bytes, or a negative ``activity``;
                nothing is written then.
        """
        ...

    def get_artefact(self, name: str) -> Artefact | None:
        """The artefact stored under ``name``, or None."""
        ...

    def artefact_names(self) -> list[str]:
        """The names of every artefact kept, in order (what a copy of the store carries over)."""
        ...

    def remove_artefact(self, name: str) -> bool:
        """Remove the artefact ``name``, bumping :attr:`Revisions.models` in the same transaction
        (every process serving the store lets the model go); False, and nothing changed, if there
        was none."""
        ...

    # -- caches -----------------------------------------------------------------------------

    def embedding_cache(self) -> EmbeddingCache:
        """The store's embedding cache (one object per store)."""
        ...

    # -- integrity (``recsys check``) ------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """What the database's own check finds wrong with its pages and indexes (empty: sound,
        or a database that checks its pages itself, such as PostgreSQL)."""
        ...

    def damaged_rows(self, dim: int | None) -> list[Any]:
        """Every stored row that does not parse, as ``DamagedRow`` (table, id, problem); item
        vectors are checked to hold ``dim`` finite numbers unless ``dim`` is None."""
        ...

    def repair_indexes(self) -> None:
        """Rebuild the database's own indexes from its tables where it can (SQLite ``REINDEX``)."""
        ...
