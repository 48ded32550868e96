"""Checking a store (``recsys check [--repair]``): its pages, every row, and the vector index file.

Nothing here guesses what a damaged row held: a damaged row is reported by table and id, so it
can be written again from its source (``recsys ingest``) or the store restored from a backup.
What can be rebuilt from the database is rebuilt with ``repair``: the database's own indexes
(SQLite ``REINDEX``) and the vector index file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from recsys.embedding.index import FaissIndex
from recsys.exceptions import StoreError
from recsys.serving.catalogue_cache import INDEX_FILE

if TYPE_CHECKING:
    from recsys.engine import Engine

__all__ = ["StoreCheck", "check_store"]


@dataclass
class StoreCheck:
    """What :func:`check_store` found and did.

    Attributes:
        store: The store's URL (no password).
        pages: Problems the database's own check reports (empty: sound).
        rows: Rows that do not parse (``DamagedRow``: table, id, problem).
        index: The vector index file's state: ``ok``, ``none`` (no file: built when needed),
            ``rebuilt``, or what is wrong with it.
        repaired: What ``repair`` did.
    """

    store: str
    pages: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)
    index: str = "ok"
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the store is sound now (after any repair)."""
        # The state's first word: "none (built from the database when first needed)" and "ok
        # (revision 41; …)" are sound too.
        return not self.pages and not self.rows and self.index.split(" ", 1)[0] in ("ok", "none", "rebuilt")

    def lines(self) -> list[str]:
        """The report, a line a finding."""
        out = [f"store {self.store}"]
        out.append("  pages and indexes: " + ("ok" if not self.pages else f"{len(self.pages)} problems"))
        out += [f"    {p}" for p in self.pages[:20]]
        out.append("  rows: " + ("every row parses" if not self.rows else f"{len(self.rows)} damaged"))
        out += [f"    {r}" for r in self.rows]
        out.append(f"  vector index file: {self.index}")
        out += [f"  repaired: {r}" for r in self.repaired]
        if self.rows:
            out.append("  write the damaged records again from their source (recsys ingest, members, events), "
                       "or restore the store from a backup (recsys backup)")
        return out


def check_store(engine: Engine, *, repair: bool = False) -> StoreCheck:
    """Check the store under ``engine``: the database's own integrity check, that every row
    parses, and that the vector index file can be read and matches the database.

    Args:
        engine: An engine over the store, freshly opened (its index not yet loaded).
        repair: Rebuild what can be rebuilt: the database's indexes when its check fails, and the
            vector index file, from the database (it is saved when the engine is closed).

    Returns:
        The findings; ``ok`` tells whether the store is sound now.

    Raises:
        StoreError: ``repair`` on a store opened read-only, or a store that cannot be read at all.
    """
    store = engine.store
    if repair and getattr(store, "read_only", False):
        raise StoreError(f"{store.url} is opened read-only and a repair writes: check it without --repair, "
                         "or repair it as a user who may write it")
    check = StoreCheck(store=store.url)
    check.pages = store.integrity_problems()
    if check.pages and repair:
        store.repair_indexes()
        check.repaired.append("the database's indexes were rebuilt (REINDEX)")
        check.pages = store.integrity_problems()
    check.rows = store.damaged_rows(engine.dim)
    path = store.files / INDEX_FILE if store.files is not None else None
    check.index = _index_state(path, engine.dim, store.revisions().items)
    if repair and path is not None:
        if check.rows:
            check.index += " (not rebuilt: the damaged rows must be written again first)"
            return check
        path.unlink(missing_ok=True)
        try:
            size = len(engine.index())
        except StoreError as exc:
            check.index = f"not rebuilt ({exc})"
            return check
        check.index = "rebuilt"
        check.repaired.append(f"the vector index was rebuilt from the database ({size} items)")
    return check


def _index_state(path, dim: int, rev: int) -> str:
    if path is None:
        return "none (this store keeps no index file)"
    if not path.exists():
        return "none (built from the database when first needed)"
    try:
        index = FaissIndex.load(path)
    except StoreError as exc:
        return f"unreadable ({exc}); rebuilt by itself when the store is next used, or now with --repair"
    saved = int(index.saved_extra_.get("rev", np.array(-1)))
    if index.dim != dim or not 0 <= saved <= rev:
        return (f"does not match the database (dimension {index.dim}, revision {saved} of {rev}); "
                "rebuilt by itself when the store is next used, or now with --repair")
    return "ok" if saved == rev else f"ok (revision {saved}; the {rev - saved} later changes are applied when read)"
