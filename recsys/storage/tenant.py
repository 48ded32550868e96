"""One tenant's view of a store: the store as an enterprise sees it.

Member and item ids are unique per tenant (the top level of an organisation, see
:func:`recsys.records.tenant_of`), so two enterprises may both hold member ``m001`` and item
``x1``. :class:`TenantStore` answers every call of the :class:`~recsys.storage.Store` protocol
for one tenant: its members, their events and served lists, its own items and the shared ones
(``org`` null, tenant ``""``). Everything above the store (the catalogue, the index, the
collaborative model, lists, reports) then works on ids unique within the view, unchanged. The
empty tenant ``""`` is the platform's view: shared items only, and no members.

An engine gets one with :meth:`recsys.Engine.tenant`; nothing here is opened or closed: the
store underneath belongs to the engine that made the view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recsys.exceptions import ValidationError
from recsys.records import Event, Item, Member, tenant_of
from recsys.storage.base import (
    REMOVAL_PREFIX,
    Artefact,
    EmbeddingCache,
    EventColumns,
    History,
    ItemChanges,
    MemberRemoval,
    Revisions,
    ServedList,
    Store,
)

__all__ = ["TenantStore", "tenant_artefact", "TENANT_MARK"]

#: What follows an artefact's name in the name of an enterprise's own (see :func:`tenant_artefact`).
TENANT_MARK = ".t-"


def tenant_artefact(name: str, tenant: str) -> str:
    """The name artefact ``name`` of enterprise ``tenant`` is kept under in the whole store.

    Artefact names are short lower-case text and enterprise codes are not (``HXNY`` and ``hxny``
    are two enterprises), so the enterprise is named by a digest of its code.

    Example:
        >>> tenant_artefact("ranking", "hxny")
        'ranking.t-c755bf11cff5f42e'
    """
    return f"{name}{TENANT_MARK}{hashlib.blake2b(tenant.encode('utf-8'), digest_size=8).hexdigest()}"


class TenantStore:
    """The store as one tenant sees it (see the module).

    Args:
        store: The whole store.
        tenant: The tenant, a top-level organisation code; ``""`` for shared items only.

    Raises:
        ValidationError: ``tenant`` holds a dot (it is an enterprise, not a unit under one).
    """

    def __init__(self, store: Store, tenant: str) -> None:
        if not isinstance(tenant, str) or "." in tenant:
            raise ValidationError(f"a tenant is a top-level organisation (text without a dot), got {tenant!r}",
                                  field="tenant")
        self.whole = store
        self.tenant = tenant
        self.url = store.url
        self.read_only = bool(getattr(store, "read_only", False))
        # A view's derived files (its vector index, a cache of its items) go in a folder of their
        # own inside a folder store, so a process starting again loads them rather than building
        # the index anew; named by the tenant's bytes, so any code makes a safe folder name.
        self.files: Path | None = None
        if store.files is not None and not self.read_only:
            folder = store.files / "tenants" / f"t-{tenant.encode('utf-8').hex()}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:  # the index is then kept in memory only
                folder = None
            self.files = folder

    def __repr__(self) -> str:
        return f"TenantStore({self.whole!r}, {self.tenant!r})"

    def close(self) -> None:
        """Nothing: the store belongs to the engine that made the view."""

    # -- what a view may write ------------------------------------------------------------

    def _own(self, kind: str, records: Sequence[Item | Member]) -> None:
        for n, record in enumerate(records, 1):
            if record.tenant != self.tenant:
                where = "shared (org null)" if record.org is None else f"of organisation {record.org!r}"
                raise ValidationError(f"the {kind} is {where}, outside enterprise {self.tenant!r} of this view",
                                      line=n, record=record.id, field="org")

    # -- metadata and counters --------------------------------------------------------------

    # The settings are the whole store's (the engine tags what it keeps there of members, such
    # as opening balances, with their tenant).
    def get_meta(self, key: str) -> str | None:
        return self.whole.get_meta(key)

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        # Of the marks of removed members, this enterprise's only: another's ids are not here.
        own = f"{REMOVAL_PREFIX}{self.tenant}:"
        return {k: v for k, v in self.whole.meta_with_prefix(prefix).items()
                if not k.startswith(REMOVAL_PREFIX) or k.startswith(own)}

    def set_meta(self, values: Mapping[str, str | None]) -> None:
        self.whole.set_meta(values)

    def keep_meta(self, key: str, value: str) -> str:
        return self.whole.keep_meta(key, value)

    def revisions(self) -> Revisions:
        return self.whole.revisions()

    # -- items ------------------------------------------------------------------------------

    def item_hashes(self, ids: Sequence[str]) -> dict[str, bytes]:
        return self.whole.item_hashes(ids, tenant=self.tenant)

    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        self._own("item", items)
        return self.whole.upsert_items(items, vectors)

    def remove_items(self, ids: Sequence[str]) -> int:
        return self.whole.remove_items(ids, tenant=self.tenant)

    def get_items(self, ids: Sequence[str]) -> dict[str, Item]:
        return self.whole.get_items(ids, tenant=self.tenant)

    def item_ids(self, ids: Sequence[str]) -> set[str]:
        return self.whole.item_ids(ids, tenant=self.tenant)

    def item_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        return {i: [t for t in held if t in (self.tenant, "")]
                for i, held in self.whole.item_tenants(ids).items() if {self.tenant, ""} & set(held)}

    def iter_items(self) -> Iterator[Item]:
        return self.whole.iter_items(tenant=self.tenant)

    def count_items(self) -> int:
        return self.whole.count_items(tenant=self.tenant)

    def item_changes(self, since: int, dim: int) -> ItemChanges:
        return self.whole.item_changes(since, dim, tenant=self.tenant)

    # -- members ----------------------------------------------------------------------------

    def upsert_members(self, members: Sequence[Member]) -> None:
        self._own("member", members)
        self.whole.upsert_members(members)

    def get_members(self, ids: Sequence[str]) -> dict[str, Member]:
        return self.whole.get_members(ids, tenant=self.tenant)

    def member_ids(self, ids: Sequence[str]) -> set[str]:
        return self.whole.member_ids(ids, tenant=self.tenant)

    def member_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        return {i: [self.tenant] for i in self.member_ids(ids)}

    def iter_members(self) -> Iterator[Member]:
        return self.whole.iter_members(tenant=self.tenant)

    def count_members(self) -> int:
        return self.whole.count_members(tenant=self.tenant)

    def member_roles(self) -> dict[str, list[str]]:
        return self.whole.member_roles(tenant=self.tenant)

    def member_orgs(self) -> list[tuple[str, str]]:
        return self.whole.member_orgs(tenant=self.tenant)

    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None
    ) -> MemberRemoval | None:
        return self.whole.remove_member(member, pseudonym=pseudonym, meta=meta, tenant=self.tenant)

    # -- organisations ----------------------------------------------------------------------

    def set_org_names(self, names: Mapping[str, str | None]) -> None:
        outside = [org for org in names if not isinstance(org, str) or tenant_of(org) != self.tenant]
        if outside:
            raise ValidationError(f"organisation {outside[0]!r} is outside enterprise {self.tenant!r} of this view",
                                  source="org_names", field="org")
        self.whole.set_org_names(names)

    def org_names(self) -> dict[str, str]:
        return {org: name for org, name in self.whole.org_names().items() if tenant_of(org) == self.tenant}

    # -- events -----------------------------------------------------------------------------

    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None) -> int:
        if tenants is None:  # its own members' events, each member held in the enterprise
            return self.whole.record_events(events, tenant=self.tenant)
        if any(t != self.tenant for t in tenants):
            raise ValidationError(f"a view of enterprise {self.tenant!r} records its own events only",
                                  source="record_events", field="tenants")
        return self.whole.record_events(events, tenants=tenants)

    def events(self, member: str | None = None, *, until: dt.datetime | None = None,
               kinds: Iterable[str] | None = None) -> list[Event]:
        return self.whole.events(member, until=until, kinds=kinds, tenant=self.tenant)

    def history(self, member: str) -> History:
        return self.whole.history(member, tenant=self.tenant)

    def histories(self, members: Sequence[str]) -> dict[str, History]:
        return self.whole.histories(members, tenant=self.tenant)

    def history_columns(self, members: Sequence[str]) -> EventColumns:
        return self.whole.history_columns(members, tenant=self.tenant)

    def member_state(self, member: str) -> str:
        return self.whole.member_state(member, tenant=self.tenant)

    def count_events(self) -> int:
        return self.whole.count_events(tenant=self.tenant)

    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        return [row for row, _ in self._recorded(after, limit)]

    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        return [tenant for _, tenant in self._recorded(after, limit)]

    def _recorded(self, after: int, limit: int) -> list[tuple[tuple[int, Event], tuple[int, str]]]:
        """This tenant's events in the order recorded, read in pages of the whole store's. The
        two reads of a page are matched by sequence number, not by position: an event recorded
        or removed between them would otherwise shift every later event onto another's tenant."""
        found: list[tuple[tuple[int, Event], tuple[int, str]]] = []
        while len(found) < limit:
            page = self.whole.recorded_events(after, limit)
            if not page:
                break
            tenants = dict(self.whole.recorded_tenants(after, limit))
            found += [(row, (row[0], tenants[row[0]])) for row in page
                      if row[0] in tenants and tenants[row[0]] == self.tenant]
            after = page[-1][0]
        return found[:limit]

    def interactions(self, until_seq: int, kinds: Iterable[str]) -> list[tuple[str, str, str, float | None]]:
        return self.whole.interactions(until_seq, kinds, tenant=self.tenant)

    def enrolments(self, items: Sequence[str]) -> dict[str, int]:
        return self.whole.enrolments(items, tenant=self.tenant)

    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        if tenant_of(org) != self.tenant:
            return {}, 0
        return self.whole.branch_completions(org, since, until)

    def completions_after(self, after: int, since: dt.datetime) -> list[tuple[int, str, str, str, float]]:
        return self.whole.completions_after(after, since, tenant=self.tenant)

    # -- served lists -----------------------------------------------------------------------

    def get_served(self, member: str, day: dt.date, request: str) -> ServedList | None:
        return self.whole.get_served(member, day, request, tenant=self.tenant)

    def served_for(self, members: Sequence[str], day: dt.date) -> list[ServedList]:
        return self.whole.served_for(members, day, tenant=self.tenant)

    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = ()) -> None:
        self.whole.put_served(lists, impressions, tenant=self.tenant)

    def served_between(self, first: dt.date, last: dt.date, *,
                       upcoming: bool = False) -> list[tuple[str, dt.date, list[str]]]:
        return self.whole.served_between(first, last, upcoming=upcoming, tenant=self.tenant)

    def served_on(self, day: dt.date) -> set[tuple[str, str]]:
        return self.whole.served_on(day, tenant=self.tenant)

    # -- trained models ---------------------------------------------------------------------

    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        # An enterprise's own model (trained on its view) is kept under a name of its own.
        self.whole.put_artefact(tenant_artefact(name, self.tenant), data, activity)

    def get_artefact(self, name: str) -> Artefact | None:
        """The enterprise's own artefact ``name`` if it has one, else the whole store's (a model
        trained on the whole store serves every enterprise that has none of its own)."""
        return self.own_artefact(name) or self.whole.get_artefact(name)

    def artefact_names(self) -> list[str]:
        """The names this view reads an artefact under: its own and the whole store's, never
        another enterprise's."""
        own = tenant_artefact("", self.tenant)
        return sorted({n.removesuffix(own) for n in self.whole.artefact_names() if TENANT_MARK not in n or n.endswith(own)})

    def remove_artefact(self, name: str) -> bool:
        """Remove this enterprise's own artefact ``name`` (never the whole store's)."""
        return self.whole.remove_artefact(tenant_artefact(name, self.tenant))

    def own_artefact(self, name: str) -> Artefact | None:
        """The artefact ``name`` kept for this enterprise alone (see :func:`tenant_artefact`), or None."""
        return self.whole.get_artefact(tenant_artefact(name, self.tenant))

    # -- caches and integrity ---------------------------------------------------------------

    def embedding_cache(self) -> EmbeddingCache:
        return self.whole.embedding_cache()

    def integrity_problems(self) -> list[str]:
        return self.whole.integrity_problems()

    def damaged_rows(self, dim: int | None) -> list[Any]:
        return self.whole.damaged_rows(dim)

    def repair_indexes(self) -> None:
        self.whole.repair_indexes()
