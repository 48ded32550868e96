"""Embedding caches: (model name, key) -> vector, so unchanged text is never embedded twice.

- :class:`SQLiteEmbeddingCache`: one SQLite file beside the store (``embeddings.sqlite``).
  Re-ingesting unchanged content, or removing and re-adding an item, costs a lookup.
- :class:`MemoryEmbeddingCache`: a dict, for stores kept in memory and for tests.

Both follow :class:`recsys.storage.base.EmbeddingCache`. Keys are opaque bytes (see
:func:`recsys.embedding.encoders.cache_key`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from recsys.storage._connections import ThreadConnections, read_only_connection
from recsys.storage._sqlite_errors import sqlite_errors

__all__ = ["SQLiteEmbeddingCache", "MemoryEmbeddingCache"]


def _frozen(vector: np.ndarray) -> np.ndarray:
    # A copy callers cannot write through: a cached vector is shared by every later lookup.
    out = np.array(vector, dtype=np.float32)
    out.flags.writeable = False
    return out


class SQLiteEmbeddingCache:
    """A persistent embedding cache in one SQLite file (created on first use).

    One connection per thread. ``synchronous=NORMAL``: a power cut may lose the last entries,
    which are only recomputed.

    Args:
        path: The cache file.
        read_only: Look vectors up, never store them (the cache of a read-only store): a
            missing file is an empty cache.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._connections = ThreadConnections(self._connect)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return read_only_connection(self.path)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            " model TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        return db

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors of those ``keys`` that are cached."""
        found: dict[bytes, np.ndarray] = {}
        if self.read_only and not self.path.is_file():
            return found
        with sqlite_errors(self.path):
            db = self._db()
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                for key, blob in db.execute(
                    f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})", [model, *chunk]
                ):
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, entries: Mapping[bytes, np.ndarray]) -> None:
        """Cache vectors, replacing any under the same keys (read-only: nothing is kept)."""
        if self.read_only:
            return
        with sqlite_errors(self.path):
            db = self._db()
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO embeddings (model, key, vector) VALUES (?, ?, ?)",
                    [(model, k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in entries.items()],
                )

    def entries(self, page: int = 1000) -> Iterator[tuple[str, bytes, np.ndarray]]:
        """Every cached ``(model, key, vector)``, in key order, read a page at a time (what
        ``recsys migrate`` copies)."""
        if not self.path.is_file():  # nothing cached, and listing creates no file
            return

        def fetch(after: tuple[str, bytes] | None, limit: int) -> list:
            where, args = ("", ()) if after is None else ("WHERE (model, key) > (?, ?)", after)
            with sqlite_errors(self.path):
                return self._db().execute(f"SELECT model, key, vector FROM embeddings {where}"
                                          " ORDER BY model, key LIMIT ?", (*args, limit)).fetchall()

        yield from paged_entries(fetch, page)

    def close(self) -> None:
        self._connections.close()


class MemoryEmbeddingCache:
    """An embedding cache in a dict, safe to share between threads; lost when the process ends."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, bytes], np.ndarray] = {}
        self._lock = threading.Lock()

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors of those ``keys`` that are cached."""
        with self._lock:
            return {k: self._vectors[model, k] for k in keys if (model, k) in self._vectors}

    def put_many(self, model: str, entries: Mapping[bytes, np.ndarray]) -> None:
        """Cache vectors, replacing any under the same keys."""
        frozen = {(model, bytes(k)): _frozen(v) for k, v in entries.items()}
        with self._lock:
            self._vectors.update(frozen)

    def entries(self) -> Iterator[tuple[str, bytes, np.ndarray]]:
        """Every cached ``(model, key, vector)``, in key order."""
        with self._lock:
            found = sorted(self._vectors.items())
        for (model, key), vector in found:
            yield model, key, vector

    def close(self) -> None:
        """Nothing to release: the vectors stay until the cache is dropped."""


def paged_entries(fetch: Callable[[tuple[str, bytes] | None, int], list],
                  page: int) -> Iterator[tuple[str, bytes, np.ndarray]]:
    """Every ``(model, key, vector)`` of a cache table, ``fetch(after, limit)`` giving at most
    ``limit`` rows of ``(model, key, blob)`` in (model, key) order, after the ``(model, key)``
    given (None: from the first)."""
    if page < 1:
        raise ValueError(f"a page of {page} entries")
    after: tuple[str, bytes] | None = None
    while rows := fetch(after, page):
        for model, key, blob in rows:
            yield model, bytes(key), np.frombuffer(blob, dtype=np.float32)
        if len(rows) < page:
            return
        after = (rows[-1][0], bytes(rows[-1][1]))


def _chunks(keys: Sequence[bytes], size: int = 500) -> Iterator[list[bytes]]:
    keys = list(keys)
    for start in range(0, len(keys), size):
        yield keys[start:start + size]
