"""The items of a store held in memory: the vector index and the catalogue view, kept current.

The store is the source of truth, vectors included; what is held here is a cache of it at one
item revision. Whoever reads catches up from the item changes logged since that revision, so a
crash between a store commit and an index save, or another process writing the same store, never
leaves the index and the store disagreeing: the next read reconciles them. Where the store has a
folder, the index is saved there as a file (``index.npz``), tagged with its revision, so a
restart does not rebuild it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.catalogue import Catalogue
from recsys.embedding.index import FaissIndex
from recsys.exceptions import StoreError
from recsys.records import Item
from recsys.storage import ItemChanges, Store

__all__ = ["CatalogueCache", "ItemsAhead", "INDEX_FILE"]

log = logging.getLogger(__name__)

#: The index file in a store's folder.
INDEX_FILE = "index.npz"
#: Unsaved index changes after which a write saves the index file.
SAVE_EVERY = 2000


@dataclass(frozen=True)
class ItemsAhead:
    """Item changes read from the store after revision ``since``, before they are applied."""

    since: int
    changes: ItemChanges


class CatalogueCache:
    """The vector index and the catalogue of a store as of an item revision.

    Not thread-safe by itself: the engine reads and writes it under its lock, because the index
    is changed in place.

    Args:
        store: The store it mirrors.
        dim: The vector size.
        hnsw_threshold: Catalogue size from which the index switches to HNSW.
    """

    def __init__(self, store: Store, dim: int, *, hnsw_threshold: int = 20_000) -> None:
        self.store = store
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.index_: FaissIndex | None = None
        self.rev_ = 0
        self._items: dict[str, Item] = {}
        self._view: Catalogue | None = None
        self._changed: list[str] = []  # ids upserted since the view was last built
        self._unsaved = 0

    @property
    def view(self) -> Catalogue | None:
        """The catalogue last returned by :meth:`current`: a new object whenever the index moved."""
        return self._view

    @property
    def settled(self) -> bool:
        """Whether :attr:`view` was built from the items and index as they are now (a build that
        failed after changes were taken in leaves them apart until the next :meth:`current`)."""
        return self._view is not None and self._view.items is self._items

    @property
    def index_file(self) -> Path | None:
        return None if self.store.files is None else self.store.files / INDEX_FILE

    def read_ahead(self) -> ItemsAhead | None:
        """The item changes since the cache's revision, read from the store without changing the
        cache: a writer reads them before it takes the engine's lock, and :meth:`current` applies
        them if the cache has not moved meanwhile. None if the cache is not loaded yet."""
        since = self.rev_
        if self.index_ is None or since == self.store.revisions().items:
            return None
        return ItemsAhead(since, self.store.item_changes(since, self.dim))

    def current(self, rev: int, ahead: ItemsAhead | None = None) -> tuple[FaissIndex, Catalogue]:
        """The index and catalogue at store revision ``rev`` (caught up if behind, from
        ``ahead`` first where it starts at the cache's revision)."""
        if self.index_ is None:
            # All or nothing: a read that fails (a damaged row, a store gone away) leaves nothing
            # set, so the next call loads again rather than serving an empty catalogue.
            index, loaded = self._load(rev)
            items = {it.id: it for it in self.store.iter_items()}  # not in the index file: read once
            self.index_, self.rev_, self._items = index, loaded, items
        if rev != self.rev_:
            # Every read of the store before anything changes, so a read that fails leaves the
            # cache as it was: the changes read ahead if they reach exactly ``rev``, else one read.
            fits = ahead is not None and ahead.since == self.rev_ and ahead.changes.rev == rev
            self._changed += self._apply(ahead.changes if fits else self.store.item_changes(self.rev_, self.dim))
        if self._view is None or self._view.items is not self._items:
            # From the previous view when there is one: only what the changed items touch is redone
            # (kept until a build succeeds, so a failed one is redone with them).
            self._view = Catalogue.build(self._items, self.index_, previous=self._view, changed=self._changed)
            self._changed = []
        return self.index_, self._view

    def _apply(self, changes: ItemChanges) -> list[str]:
        """Take in item changes read since the cache's revision; the ids upserted."""
        changed = [it.id for it, _ in changes.upserted]
        if changes.upserted:
            self.index_.add(changed, np.stack([v for _, v in changes.upserted]))
        self.index_.remove(changes.removed)
        # Copy on write: a reader holding the previous catalogue keeps a consistent one.
        items = dict(self._items)
        items.update((it.id, it) for it, _ in changes.upserted)
        for id_ in changes.removed:
            items.pop(id_, None)
        self._items = items
        self._unsaved += len(changes.upserted) + len(changes.removed)
        self.rev_ = changes.rev
        return changed

    def _load(self, rev: int) -> tuple[FaissIndex, int]:
        path = self.index_file
        if path is not None and path.exists():
            try:
                index = FaissIndex.load(path, hnsw_threshold=self.hnsw_threshold)
                saved = int(index.saved_extra_.get("rev", np.array(-1)))
                if index.dim == self.dim and 0 <= saved <= rev:
                    return index, saved
                log.warning("index file %s does not match the store; rebuilding", path)
            except StoreError as exc:
                log.warning("%s; rebuilding the index from the store", exc)
        return FaissIndex(self.dim, hnsw_threshold=self.hnsw_threshold), 0

    def save(self, *, force: bool = False) -> None:
        """Save the index file if enough changed since the last save (or any did, with ``force``)."""
        path = self.index_file
        if path is None or self.index_ is None or not self._unsaved or getattr(self.store, "read_only", False):
            return
        if force or self._unsaved >= SAVE_EVERY:
            self.index_.save(path, rev=np.array(self.rev_))
            self._unsaved = 0
