"""Vector indexes: an exact numpy reference and a faiss index, behind one small protocol.

Both map string ids to unit vectors and answer top-k inner-product (cosine) queries. The faiss
index wraps an exact one, as implicit's approximate models do: the exact matrix is the source of
truth, faiss is a search structure over it, and when faiss cannot serve a query in full (too many
removed rows among its hits) the exact index answers instead.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from recsys.exceptions import StoreError, ValidationError
from recsys.files import atomic_write

__all__ = ["VectorIndex", "ExactIndex", "FaissIndex", "Hits"]

#: ``(ids, scores)`` per query: ``ids[q]`` a list of ids, best first; ``scores[q]`` their cosines.
Hits = tuple[list[list[str]], list[np.ndarray]]


@runtime_checkable
class VectorIndex(Protocol):
    """What every index offers."""

    dim: int

    def __len__(self) -> int: ...

    def __contains__(self, id_: object) -> bool: ...

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``."""
        ...

    def remove(self, ids: Sequence[str]) -> None:
        """Remove ``ids``; unknown ids are ignored."""
        ...

    def search(self, queries: np.ndarray, k: int) -> Hits:
        """The ``k`` nearest ids to each query row, best first."""
        ...

    def vector(self, id_: str) -> np.ndarray:
        """The stored vector of ``id_``."""
        ...

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids``, one row each."""
        ...

    def save(self, path: str | os.PathLike[str]) -> None: ...


#: Queries scored at once: 256 queries against 100k items is a 100 MB score matrix.
_QUERY_BLOCK = 256
#: From two to this many queries (one member's request) are scored a block of rows at a time, one
#: matrix-vector product per query while the block is in cache. OpenBLAS's product with a few
#: columns runs far below its matrix-vector speed: on this project's 2-core machine (one BLAS
#: thread) three queries over 10,000 items took 2.7 ms this way against 5.3 ms as one small product per
#: block, at 1,024 dimensions, and 1.2 against 2.3 ms at 384 (``evaluation/few_queries.py``,
#: ``results/few_queries.json``). From about eight queries the product catches up, and many
#: members' queries go as one product.
_FEW_QUERIES = 8
_ROWS_BYTES = 1 << 19


def _as_matrix(vectors: np.ndarray, dim: int | None, n: int) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] != n or (dim is not None and x.shape[1] != dim):
        raise ValidationError(f"expected a ({n}, {dim}) matrix of vectors, got shape {x.shape}")
    return x


class ExactIndex:
    """Brute-force inner product over a dense matrix: the reference every index is tested against.

    Rows are kept contiguous; removing swaps the last row into the gap, so memory stays compact.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._n = 0
        self.ids_: list[str] = []
        self._row: dict[str, int] = {}
        self._rank: np.ndarray | None = None
        #: Counts changes, so that views holding row positions know when they went stale.
        self.version = 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, id_: object) -> bool:
        return id_ in self._row

    @property
    def vectors_(self) -> np.ndarray:
        """The live rows, aligned with ``ids_``."""
        return self._vectors[: self._n]

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        ids = list(ids)
        x = _as_matrix(vectors, self.dim, len(ids))
        new = [i for i in dict.fromkeys(ids) if i not in self._row]
        need = self._n + len(new)
        if need > self._vectors.shape[0]:
            grown = np.zeros((max(need, 2 * self._vectors.shape[0], 64), self.dim), dtype=np.float32)
            grown[: self._n] = self._vectors[: self._n]
            self._vectors = grown
        self.version += 1
        if new:
            self._rank = None
        for id_ in new:
            self._row[id_] = self._n
            self.ids_.append(id_)
            self._n += 1
        for id_, v in zip(ids, x):  # later duplicates win, as in a dict update
            self._vectors[self._row[id_]] = v

    def remove(self, ids: Sequence[str]) -> None:
        for id_ in ids:
            row = self._row.pop(id_, None)
            if row is None:
                continue
            self._rank = None
            self.version += 1
            last = self._n - 1
            if row != last:
                moved = self.ids_[last]
                self._vectors[row] = self._vectors[last]
                self.ids_[row] = moved
                self._row[moved] = row
            self.ids_.pop()
            self._n -= 1

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        """The rows of ``ids`` in :attr:`vectors_` (-1 for ids not indexed), valid until the index
        next changes."""
        where = self._row
        return np.fromiter((where.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def vector(self, id_: str) -> np.ndarray:
        try:
            return self._vectors[self._row[id_]].copy()
        except KeyError:
            raise KeyError(id_) from None

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids`` as one matrix, in that order."""
        try:
            rows = [self._row[i] for i in ids]
        except KeyError as exc:
            raise KeyError(exc.args[0]) from None
        return self._vectors[rows] if rows else np.zeros((0, self.dim), dtype=np.float32)

    def search(self, queries: np.ndarray, k: int) -> Hits:
        top, scores = self.search_positions(queries, k)
        ids = self.ids_
        return [[ids[j] for j in row] for row in top.tolist()], list(scores)

    def search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`search`, but as arrays: the rows of :attr:`vectors_` (``(queries, k)``, best
        first) and their cosines. Rows stay valid until the index next changes."""
        q = _as_matrix(queries, self.dim, np.asarray(queries).reshape(-1, self.dim).shape[0])
        k = max(min(k, self._n), 0)
        if k == 0:
            return np.zeros((len(q), 0), dtype=np.int64), np.zeros((len(q), 0), dtype=np.float32)
        if len(q) > _QUERY_BLOCK:  # many members' queries: a block at a time bounds the score matrix
            parts = [self.search_positions(q[i:i + _QUERY_BLOCK], k) for i in range(0, len(q), _QUERY_BLOCK)]
            return np.concatenate([t for t, _ in parts]), np.concatenate([s for _, s in parts])
        scores = _scores(self.vectors_, q)
        if k < self._n:
            return _best(scores, k, self._id_rank())
        every = np.tile(np.arange(self._n), (len(q), 1))
        # Ties broken by id so results are stable whatever the row order.
        order = np.lexsort((self._id_rank()[every], -scores), axis=-1)
        return np.take_along_axis(every, order, axis=1), np.take_along_axis(scores, order, axis=1).astype(np.float32)

    def _id_rank(self) -> np.ndarray:
        """Each row's place among the ids in sorted order (kept until the rows change)."""
        if self._rank is None or len(self._rank) != self._n:
            rank = np.empty(self._n, dtype=np.int64)
            rank[sorted(range(self._n), key=self.ids_.__getitem__)] = np.arange(self._n)
            self._rank = rank
        return self._rank

    def save(self, path: str | os.PathLike[str], **extra: np.ndarray) -> None:
        """Save to one ``.npz`` file, atomically (written beside it, then renamed)."""

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, vectors=self.vectors_, ids=np.array(self.ids_, dtype=np.str_), allow_pickle=False, **extra)

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)

    @classmethod
    def _read(cls, path: str | os.PathLike[str]) -> tuple[ExactIndex, dict[str, np.ndarray]]:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            vectors, ids = arrays.pop("vectors"), [str(i) for i in arrays.pop("ids")]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            # Truncated, bit-flipped or not an index at all: the caller rebuilds from the store.
            raise StoreError(f"cannot read index file {path}: {exc}") from exc
        if vectors.ndim != 2 or len(ids) != len(vectors) or not np.isfinite(vectors).all():
            raise StoreError(f"cannot read index file {path}: its vectors and ids do not match")
        index = cls(vectors.shape[1])
        index.add(ids, vectors)
        return index, arrays

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExactIndex:
        return cls._read(path)[0]


def _best(scores: np.ndarray, k: int, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row of ``scores`` (``k`` fewer than the columns) and their
    scores, best first, equal scores by ``rank`` (an item's place among the ids), also where they
    straddle the cut. A row's ``k``-th best score is found by one partition of the values (half
    the time of one of their positions), then what is at or above it is sorted. NaN (a query with
    NaN in it) scores below everything."""
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), -np.inf, scores)
    n = scores.shape[1]
    # The k-th best as the k-th smallest of the negated scores (negating is exact): numpy's
    # selection near the top of a row where most values are equal took 25 times as long
    # (130 ms against 5 for 16 rows of 100,000 mostly-zero TF-IDF scores) and as long otherwise.
    # Partitioned in place: one copy of a block's scores, not two (256 x 100,000: 102 MB, not 205).
    negated = np.negative(scores)
    negated.partition(k - 1, axis=1)
    cut = -negated[:, k - 1]
    del negated
    at_least = scores >= cut[:, None]
    counts = at_least.sum(axis=1)
    top = np.empty((len(scores), k), dtype=np.int64)
    light = np.flatnonzero(counts <= 2 * k)
    if len(light):
        row, col = np.nonzero(at_least[light])
        order = np.lexsort((rank[col], -scores[light[row], col], row))
        starts = np.searchsorted(row[order], np.arange(len(light)))
        top[light] = col[order[(starts[:, None] + np.arange(k)).ravel()]].reshape(-1, k)
    heavy = np.flatnonzero(counts > 2 * k)
    if len(heavy):
        # Many equal at the cut (a TF-IDF query sharing no word with most items scores 0 against
        # them): the first ids among them by one partition of a key, not a sort of them all.
        sub = scores[heavy]
        key = np.where(sub > cut[heavy, None], -1, np.where(at_least[heavy], rank, n))
        pick = np.argpartition(key, k - 1, axis=1)[:, :k]
        order = np.lexsort((rank[pick], -np.take_along_axis(sub, pick, axis=1)), axis=-1)
        top[heavy] = np.take_along_axis(pick, order, axis=1)
    return top, np.take_along_axis(scores, top, axis=1).astype(np.float32)


def _scores(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T``: for two to :data:`_FEW_QUERIES` queries a block of rows at a
    time, each query's matrix-vector product over the block while it is in cache; else one
    product."""
    if len(queries) == 1 or len(queries) > _FEW_QUERIES:
        return (vectors @ queries.T).T
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    out = np.empty((len(queries), len(vectors)), dtype=np.float32)
    rows = max(1, _ROWS_BYTES // max(vectors.shape[1] * vectors.itemsize, 1))
    for start in range(0, len(vectors), rows):
        block = vectors[start:start + rows]
        for n, query in enumerate(queries):
            np.matmul(block, query, out=out[n, start:start + rows])
    return out


class FaissIndex:
    """A faiss index over an :class:`ExactIndex`.

    Below ``hnsw_threshold`` vectors the exact index answers: a brute-force scan through numpy's
    BLAS is exact and, measured on this project's machine, faster for one query at a time than
    faiss's own flat scan (see ``evaluation/results/foundation.md``). At or above, an HNSW graph
    answers. HNSW cannot delete, so removed or replaced rows are tombstoned and filtered from
    results; the graph is rebuilt when tombstones pass ``rebuild_fraction`` of it.

    Args:
        dim: Vector dimension.
        hnsw_threshold: Catalogue size from which HNSW is used.
        m, ef_construction, ef_search: HNSW parameters (recall versus speed).
        rebuild_fraction: Share of tombstones that triggers a rebuild.
    """

    def __init__(
        self,
        dim: int,
        *,
        hnsw_threshold: int = 20_000,
        m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 96,
        rebuild_fraction: float = 0.2,
    ) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.rebuild_fraction = rebuild_fraction
        self.exact = ExactIndex(dim)
        self._faiss = None  # the search structure, built lazily
        self._labels: list[str | None] = []  # faiss label -> id (None once tombstoned)
        self._label_of: dict[str, int] = {}
        self._dead = 0
        self.saved_extra_: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.exact)

    def __contains__(self, id_: object) -> bool:
        return id_ in self.exact

    @property
    def kind(self) -> str:
        """``"exact"`` or ``"hnsw"``: the structure a search would use now."""
        return "hnsw" if len(self.exact) >= self.hnsw_threshold else "exact"

    def vector(self, id_: str) -> np.ndarray:
        return self.exact.vector(id_)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        return self.exact.vectors(ids)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        ids = list(ids)
        x = _as_matrix(vectors, self.dim, len(ids))
        # Keep only the last vector given for an id, so one faiss label stands per live id.
        last = {id_: row for row, id_ in enumerate(ids)}
        ids, x = list(last), x[list(last.values())]
        self.exact.add(ids, x)
        if self._faiss is not None:
            self._tombstone(ids)
            self._append(ids, x)

    def remove(self, ids: Sequence[str]) -> None:
        ids = [i for i in ids if i in self.exact]
        self.exact.remove(ids)
        if self._faiss is not None:
            self._tombstone(ids)

    def _tombstone(self, ids: Sequence[str]) -> None:
        for id_ in ids:
            label = self._label_of.pop(id_, None)
            if label is not None:
                self._labels[label] = None
                self._dead += 1

    def _append(self, ids: Sequence[str], x: np.ndarray) -> None:
        for id_ in ids:
            self._label_of[id_] = len(self._labels)
            self._labels.append(id_)
        self._faiss.add(np.ascontiguousarray(x, dtype=np.float32))

    def _build(self) -> None:
        import faiss

        index = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        self._faiss = index
        self._labels, self._label_of, self._dead = [], {}, 0
        if len(self.exact):
            self._append(self.exact.ids_, self.exact.vectors_)

    def _ready(self):
        if self._faiss is None or self._dead > self.rebuild_fraction * max(len(self._labels), 1):
            self._build()
        return self._faiss

    def search(self, queries: np.ndarray, k: int) -> Hits:
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, self.dim))
        k = min(k, len(self.exact))
        if k <= 0:
            return [[] for _ in range(len(q))], [np.zeros(0, dtype=np.float32) for _ in range(len(q))]
        if self.kind == "exact":
            self._faiss = None  # a graph kept from a larger catalogue would only go stale
            return self.exact.search(q, k)
        index = self._ready()
        # Over-fetch past tombstones; HNSW also wants ef >= k.
        fetch = min(len(self._labels), k + self._dead)
        index.hnsw.efSearch = max(self.ef_search, fetch)
        scores, labels = index.search(q, fetch)
        out_ids, out_scores, short = [], [], []
        for row in range(len(q)):
            got = [(self._labels[label], s) for label, s in zip(labels[row], scores[row])
                   if label >= 0 and self._labels[label] is not None]
            got.sort(key=lambda p: (-p[1], p[0]))  # stable order on ties, as the exact index
            got = got[:k]
            if len(got) < k:
                short.append(row)
            out_ids.append([i for i, _ in got])
            out_scores.append(np.array([s for _, s in got], dtype=np.float32))
        if short:  # faiss could not fill these queries: hand them to the exact index
            ids, sc = self.exact.search(q[short], k)
            for j, row in enumerate(short):
                out_ids[row], out_scores[row] = ids[j], sc[j]
        return out_ids, out_scores

    def save(self, path: str | os.PathLike[str], **extra: np.ndarray) -> None:
        """Save the vectors, and the HNSW graph (slow to rebuild) when there is one, in one file.

        ``extra`` arrays are saved alongside and come back in :attr:`saved_extra_` on load.
        """
        import faiss

        if self._faiss is not None and self._dead == 0:
            extra["graph"] = faiss.serialize_index(self._faiss)
            extra["labels"] = np.array(self._labels, dtype=np.str_)
        self.exact.save(path, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs) -> FaissIndex:
        import faiss

        exact, extra = ExactIndex._read(path)
        index = cls(exact.dim, **kwargs)
        index.exact = exact
        graph, labels = extra.pop("graph", None), extra.pop("labels", None)
        index.saved_extra_ = extra
        if graph is not None and labels is not None and index.kind == "hnsw":
            labels = [str(i) for i in labels]
            # The graph was written with these vectors in the same file, so it matches them.
            if sorted(labels) == sorted(exact.ids_):
                index._faiss = faiss.deserialize_index(graph)
                index._labels = labels
                index._label_of = {i: n for n, i in enumerate(labels)}
        return index
