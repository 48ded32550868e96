"""Writes: items embedded only when their text changed, events checked against the store.

Each write is all or nothing: the whole batch is validated before anything is written, and an
item is searchable once its write returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys.exceptions import NotFoundError, ValidationError
from recsys.ingest.loaders import check_unique_ids, combine, refused_ids
from recsys.records import Event, Item
from recsys.serving.world import World
from recsys.storage import text_hash

__all__ = ["add_items", "remove_item", "record_events"]

#: Items encoded per batch when ingesting (also the progress bar's step).
INGEST_CHUNK = 256


def add_items(world: World, batch: Sequence[Item], *, progress: bool = False) -> int:
    """Insert or update validated items, embedding only those whose text changed."""
    if not batch:
        return 0
    if (refused := refused_ids(batch)):
        raise combine(refused)
    check_unique_ids(batch, "item")
    # Embedding is the slow part of a write, so it runs before any lock is taken; the database
    # write holds only the writers' lock: lists and searches wait for nothing but the index
    # taking in the changed rows.
    fresh = _embedded(world, batch, {}, progress)
    if fresh:
        # The model is loaded now in any case: embed what lists will ask on the query side too,
        # so that a process that only plans lists finds every query vector in the cache and
        # never loads the model (hundreds of megabytes and seconds per worker).
        world.encode_queries(_query_texts(world, batch))
    with world.writing():
        # A write that landed meanwhile may have changed or removed some of these items: their
        # vectors are made now (rare; none else is embedded twice).
        fresh = _embedded(world, batch, fresh, False)
        if len(fresh) < len(batch):  # unchanged text keeps its vector: read from the index
            with world.lock:
                index = world.snapshot(collaborative=False).index
                kept = {it.id: index.vector(it.id) for it in batch if it.id not in fresh}
            fresh = {**fresh, **kept}
        world.store.upsert_items(batch, np.stack([fresh[it.id] for it in batch]))
        _after_write(world)
    return len(batch)


def _query_texts(world: World, batch: Sequence[Item]) -> list[str]:
    """The curriculum's role descriptions and required topics, and the topics of ``batch`` (the
    stated interests members choose from)."""
    return list(dict.fromkeys([*world.curriculum.query_texts(), *(t for it in batch for t in it.topics)]))


def _embedded(world: World, batch: Sequence[Item], fresh: dict[str, np.ndarray],
              progress: bool) -> dict[str, np.ndarray]:
    """``fresh`` plus the vectors of the items of ``batch`` whose text the store does not hold
    now (and ``fresh`` has none of); the others keep the vector the index has."""
    known = world.store.item_hashes([it.id for it in batch])
    changed = [it for it in batch if it.id not in fresh and known.get(it.id) != text_hash(it)]
    return {**fresh, **dict(zip((it.id for it in changed), _embed(world, [it.text for it in changed], progress)))}


def _embed(world: World, texts: list[str], progress: bool) -> list[np.ndarray]:
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="item", desc="embedding")
    out: list[np.ndarray] = []
    for start in range(0, len(texts), INGEST_CHUNK):
        part = texts[start:start + INGEST_CHUNK]
        out.extend(world.encoder.encode(part))
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    return out


def _after_write(world: World) -> None:
    # An item is searchable once the write returns. The changed rows are read from the store
    # first, without the readers' lock; under it the index only takes them in.
    ahead = world.items.read_ahead()
    with world.lock:
        world.snapshot(collaborative=False, ahead=ahead)
        world.items.save()


def remove_item(world: World, item_id: str) -> None:
    """Remove an item (its events stay, as history). Raises :class:`NotFoundError`."""
    with world.writing():
        if not world.store.item_ids([item_id]):
            raise NotFoundError("item", item_id)
        world.store.remove_items([item_id])
        _after_write(world)


def record_events(world: World, batch: Sequence[Event]) -> int:
    """Record validated events naming known members and items; returns how many were new.

    An id may appear once per tenant in a batch: the store keeps ids per tenant (the top level
    of the member's organisation), so two enterprises' events may share one.
    """
    # A member removed after this check (in any process) is refused by the store, which checks
    # again in its writing transaction.
    # The tenant of each member, not the whole records: an export of 500,000 events names some
    # 250,000 members, whose records took 7 s to read.
    held = world.store.member_tenants(list({e.member for e in batch}))
    if shared := [m for m, tenants in held.items() if len(tenants) > 1]:
        world.store.member_ids(shared)  # raises AmbiguousIdError naming them, as reading them does
    members = {m: tenants[0] for m, tenants in held.items()}
    keyed = [e for e in batch if e.id is not None]
    check_unique_ids(keyed, "event", lines=[n for n, e in enumerate(batch, 1) if e.id is not None],
                     scope=lambda e: members.get(e.member, ""))
    items = world.store.item_ids(list({e.item for e in batch}))
    problems = refused_ids(batch)
    for n, e in enumerate(batch, start=1):
        if e.member not in members:
            problems.append(ValidationError(f"unknown member {e.member!r}", line=n, record=e.id, field="member"))
        if e.item not in items:
            problems.append(ValidationError(f"unknown item {e.item!r}", line=n, record=e.id, field="item"))
    if problems:
        raise combine(problems)
    return world.store.record_events(batch) if batch else 0
