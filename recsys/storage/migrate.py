"""Copying a whole store from one backend to another (``recsys migrate SRC DST``).

Everything goes through the :class:`~recsys.storage.base.Store` protocol, so any backend copies
to any other: items with their vectors (nothing is embedded again), members, events in the
order recorded, served lists, the store settings (encoder, dimension, secrets), when each removed
member left and which branches each day's push reached, the named artefacts (trained models) the
caller asks for, and the embedding cache (the vectors of role, topic and
interest texts that planning searches with: embedded again, they could come out a little
different, and so could the lists).

Events keep their order, and their sequence numbers but where a removed member's deleted events
left gaps in the source (every backend numbers events without gaps); a served list current in
the source is made current in the copy (its member's state token restated), and so is a trained
model (it names the sequence number it was trained up to). Events keep their tenants too, under
which their ids are unique.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.exceptions import StoreError
from recsys.storage.base import PUSH_SENT_PREFIX, REMOVAL_PREFIX, ServedList, Store
from recsys.storage.sqlite import SQLiteStore

__all__ = ["StoreCounts", "count_store", "copy_store", "existing_store"]

#: The store settings the library keeps as metadata (see :meth:`recsys.Engine.open`): the
#: encoder, the opening balances, the pseudonyms' secret (so a member removed after the copy
#: gets the pseudonym they would have had before it) and the member tokens' secret (so the
#: links members were sent before the move still open their page).
SETTINGS = ("encoder_name", "encoder_spec", "dim", "opening_balances", "pseudonym_secret", "member_token_secret")

_EVERY_DAY = (dt.date(1, 1, 1), dt.date(9999, 12, 31))


@dataclass(frozen=True)
class StoreCounts:
    """What a store holds, counted; two stores with the same content have equal counts."""

    items: int
    members: int
    events: int
    served: int

    def __str__(self) -> str:
        return f"{self.items} items, {self.members} members, {self.events} events, {self.served} served lists"


def count_store(store: Store) -> StoreCounts:
    """Count what a store holds."""
    return StoreCounts(store.count_items(), store.count_members(), store.count_events(),
                       len(store.served_between(*_EVERY_DAY)))


def existing_store(url_or_path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """``url_or_path`` if it names a store that can already hold data, so that reading it
    creates nothing.

    Raises:
        StoreError: A folder (or ``sqlite://`` URL) without a store in it, or ``memory://``.
    """
    text = os.fspath(url_or_path)
    if text.startswith("memory:"):
        raise StoreError("memory:// is new and empty each time it is opened: there is nothing to copy from it")
    if "://" not in text or text.startswith("sqlite://"):
        folder = Path(text.removeprefix("sqlite://")).expanduser()
        if not (folder / SQLiteStore.DB_NAME).is_file():
            raise StoreError(f"no store at {text} (no {SQLiteStore.DB_NAME} there): give an existing store folder")
    return url_or_path


def copy_store(
    source: Store,
    target: Store,
    *,
    chunk: int = 20_000,
    progress: Callable[[str, int], None] | None = None,
    artefacts: Sequence[str] = (),
) -> StoreCounts:
    """Copy everything ``source`` holds into the empty store ``target``.

    Each chunk of records is one transaction of the target; a copy that fails halfway leaves a
    partial target, which a second copy refuses (empty it first).

    Args:
        source: The store to read.
        target: An empty store (no items, members, events or served lists).
        chunk: Records written per transaction.
        progress: Called with what was copied (``"items"``, ``"members"``, ...) and how many.
        artefacts: Names of artefacts to copy where the source has them (the library's trained
            models: :data:`recsys.models.ranking.ARTEFACT`); the store does not know what they are.

    Returns:
        The counts of the target after the copy.

    Raises:
        StoreError: ``target`` is not empty, or either store fails.
    """
    done = count_store(target)
    if done != StoreCounts(0, 0, 0, 0):
        raise StoreError(f"the destination {target.url} is not empty ({done}): give an empty store")
    report = progress or (lambda what, n: None)
    settings = {key: source.get_meta(key) for key in SETTINGS}
    # With when each removed member left (a member token issued before then is refused, should
    # the id name someone else now: the copy opened links of removed members' ids again), and
    # which branches each day's push reached (run again after the move, it sent them twice).
    target.set_meta({**{key: value for key, value in settings.items() if value is not None},
                     **source.meta_with_prefix(REMOVAL_PREFIX), **source.meta_with_prefix(PUSH_SENT_PREFIX)})
    target.set_org_names(source.org_names())

    members = list(source.iter_members())
    # Member and item ids are unique per tenant: the copy goes tenant by tenant ("" first: the
    # shared items, and the served lists of members the store does not hold).
    enterprises = sorted({""} | {m.tenant for m in members} | {it.tenant for it in source.iter_items()})
    if source.count_items():
        dim = int(settings["dim"] or 0)
        if dim <= 0:
            raise StoreError(f"the source {source.url} holds items but no vector dimension: open it with its "
                             "encoder once (recsys stats --store ...), then migrate")
        # Each tenant's view holds its own items and the shared ones: the shared ones from "" only.
        upserted = [(it, v) for tenant in enterprises
                    for it, v in source.item_changes(0, dim, tenant=tenant).upserted if it.tenant == tenant]
        for part in _parts(upserted, chunk):
            target.upsert_items([it for it, _ in part], np.stack([v for _, v in part]))
        report("items", len(upserted))

    for part in _parts(members, chunk):
        target.upsert_members(part)
    report("members", len(members))

    # In the order recorded, a page at a time: the collaborative model reads that order, and an
    # empty target then numbers the events as the source does. Each event keeps its tenant, which
    # its member (moved since, or removed) may no longer tell.
    copied, after = 0, 0
    while page := source.recorded_events(after, chunk):
        tenants = source.recorded_tenants(after, chunk)
        if [seq for seq, _ in tenants] != [seq for seq, _ in page]:
            raise StoreError(f"the source {source.url} changed while its events were copied: copy it again "
                             "into an empty store while nothing writes to it")
        target.record_events([e for _, e in page], tenants=[tenant for _, tenant in tenants])
        copied, after = copied + len(page), page[-1][0]
    report("events", copied)

    copied = 0
    for tenant in enterprises:
        served = _restated(_served_lists(source, tenant), source, target, tenant)
        for part in _parts(served, chunk):
            target.put_served(part, tenant=tenant, copy=True)
        copied += len(served)
    report("served lists", copied)

    # After the events: a model trained up to sequence number n is current in a copy holding them.
    kept = [a for a in map(source.get_artefact, artefacts) if a is not None]
    for artefact in kept:
        target.put_artefact(artefact.name, artefact.data, artefact.activity)
    if kept:
        report("trained models", len(kept))

    # The cached query vectors too: the default encoder's int8 model gives a text a slightly
    # different vector in a different batch, so a copy embedding a role or topic again planned
    # lists that differed from the source's (``recsys migrate``'s own check caught it).
    entries = getattr(source.embedding_cache(), "entries", None)
    if entries is not None:
        cache, copied, batch = target.embedding_cache(), 0, {}
        for model, key, vector in entries():
            batch.setdefault(model, {})[key] = vector
            copied += 1
            if copied % chunk == 0:
                for name, part in batch.items():
                    cache.put_many(name, part)
                batch = {}
        for name, part in batch.items():
            cache.put_many(name, part)
        if copied:
            report("cached embeddings", copied)
    return count_store(target)


def _restated(served: list[ServedList], source: Store, target: Store, tenant: str) -> list[ServedList]:
    """The served lists with their members' state tokens as the copy numbers their events. A
    removed member's deleted events leave gaps in the source's numbers, which the copy closes: a
    token current in the source is made the copy's current one (a list pushed this morning is
    the list asked for after the move), and one stale already is kept stale."""
    tokens: dict[str, tuple[str, str]] = {}
    out = []
    for found in served:
        if found.member not in tokens:
            tokens[found.member] = (source.member_state(found.member, tenant=tenant),
                                    target.member_state(found.member, tenant=tenant))
        was, now = tokens[found.member]
        head, mark, rest = found.state.partition("/")
        out.append(dataclasses.replace(found, state=f"{now}{mark}{rest}" if head == was else f"stale:{found.state}"))
    return out


def _served_lists(store: Store, tenant: str) -> list[ServedList]:
    lists = []
    for day in sorted({day for _, day, _ in store.served_between(*_EVERY_DAY, tenant=tenant)}):
        for member, request in sorted(store.served_on(day, tenant=tenant)):
            found = store.get_served(member, day, request, tenant=tenant)
            if found is not None:
                lists.append(found)
    return lists


def _parts(values: Sequence, size: int) -> list[Sequence]:
    return [values[start:start + size] for start in range(0, len(values), size)]
