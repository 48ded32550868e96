"""The global collaborative signal: item-item co-completion and role-aware popularity.

What members of the whole store finish says something about an item that its text cannot: that
it fits the time people have, that it is pitched at the right level, that people like it. Two
signals are learnt from everyone's positive events (completing, attending, taking a quiz,
finishing a video, rating 4 or 5 stars):

- **Co-completion** (item-kNN): the cosine between two items' sets of completers, shrunk towards
  zero when few members share them (``co / (co + shrinkage)``), keeping each item's ``neighbours``
  closest items. A member's score for an item is the sum of its similarities to the member's
  positive history, weighted as the profile weighs that history.
- **Role-aware popularity**: the share of members holding a role who completed the item, shrunk
  towards the share among all members (``role_prior`` pseudo-members), so a role with few members
  does not follow the taste of one of them.

The model is a pure function of its input: :meth:`CollaborativeModel.fit` orders members and items
by id and breaks every tie by id, so the same events give the same model. The engine rebuilds it
from the events up to :func:`snapshot_seq` of the store's last sequence number, so that a list
depends on the store's state, and the cost of building is paid once per snapshot (see
:meth:`recsys.engine.Engine.collaborative`).

Example:
    >>> model = CollaborativeModel().fit(
    ...     [("m1", "a", "complete", None), ("m1", "b", "complete", None),
    ...      ("m2", "a", "complete", None), ("m2", "b", "complete", None)],
    ...     {"m1": ["member"], "m2": ["member"]})
    >>> model.similar_items("a", 1)[0][0]
    'b'
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.exceptions import ModelError, ValidationError

__all__ = ["ARTEFACT", "CollaborativeModel", "POSITIVE_KINDS", "snapshot_seq", "is_positive"]

#: The artefact a store keeps the model of its events under, once a process has built it (a
#: derived cache: every process serving the store reads it rather than building it again).
ARTEFACT = "cooccurrence"
#: Event kinds read when building the model (the value decides for ``progress`` and ``rate``).
POSITIVE_KINDS = ("complete", "attend", "quiz", "progress", "rate")
#: A progress event at or past this fraction is a completion (as in :mod:`recsys.pipeline.profile`).
_COMPLETE_PROGRESS = 0.95
#: Ratings from this many stars up are positive.
_GOOD_RATING = 4.0


def is_positive(kind: str, value: float | None) -> bool:
    """Whether an event says the member took the item up (see the module docstring)."""
    if kind in ("complete", "attend", "quiz"):
        return True
    if kind == "progress":
        return value is not None and value >= _COMPLETE_PROGRESS
    if kind == "rate":
        return value is not None and value >= _GOOD_RATING
    return False


def snapshot_seq(last_seq: int, resolution: int = 16) -> int:
    """The event sequence number the collaborative model is built up to.

    The last sequence number rounded down to a step of about ``1/resolution`` of itself (a
    power of two, ``resolution`` rounded down to one too): a store of 1,000 events rebuilds
    every 32 events, one of a million every 32,768. Building costs time in proportion to the
    events, so rebuilding after a fixed share of growth keeps the cost per event constant, and
    events below the next step change nothing.

    Args:
        last_seq: The store's last event sequence number (0 for none).
        resolution: About how many snapshots per doubling of the store.

    Raises:
        ValidationError: for a negative ``last_seq`` or a ``resolution`` below 1.
    """
    if last_seq < 0 or resolution < 1:
        raise ValidationError(f"snapshot_seq needs last_seq >= 0 and resolution >= 1, got {last_seq}, {resolution}")
    if last_seq == 0:
        return 0
    # Powers of two throughout, so that a snapshot is its own snapshot.
    step = 1 << max(0, int(last_seq).bit_length() - int(resolution).bit_length())
    return last_seq - last_seq % step


def _gather(m: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of ``rows`` of a CSR matrix, in row order: which of ``rows`` each belongs to,
    its column and its value (scipy's row slicing costs more in checks than a member's few rows
    cost in work)."""
    starts = m.indptr[rows]
    lengths = m.indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    at = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths - starts, lengths)
    return owner, m.indices[at].astype(np.int64), m.data[at]


#: The layout :meth:`CollaborativeModel.to_bytes` writes, and the prefix of its callers' arrays.
_FORMAT = 1
_EXTRA = "extra_"
#: Damaged bytes fail in the zip reader, numpy's or zlib in as many ways (a flipped bit can claim
#: an encrypted entry or a lone .npy): each is a model that cannot be read.
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError, RuntimeError, NotImplementedError,
               zipfile.BadZipFile, zlib.error)


def _put_sparse(arrays: dict[str, np.ndarray], name: str, m: sp.csr_matrix) -> None:
    """A CSR matrix as four arrays ``name_data``, ``_indices``, ``_indptr`` and ``_shape``."""
    m = sp.csr_matrix(m)
    arrays[f"{name}_data"] = m.data.astype(np.float32)
    arrays[f"{name}_indices"] = m.indices.astype(np.int32)
    arrays[f"{name}_indptr"] = m.indptr.astype(np.int64)
    arrays[f"{name}_shape"] = np.array(m.shape, dtype=np.int64)


def _get_sparse(z: Any, name: str) -> sp.csr_matrix:
    """The CSR matrix :func:`_put_sparse` wrote as ``name``."""
    return sp.csr_matrix((z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]),
                         shape=tuple(z[f"{name}_shape"].tolist()))


class CollaborativeModel:
    """Item-item co-completion and role-aware popularity over every member's positive events.

    Args:
        neighbours: Most neighbours kept per item.
        shrinkage: Co-completers at which a similarity keeps half its cosine.
        role_prior: Pseudo-members pulling a role's share towards the share among all members.
        block: About how many co-completion counts are computed at a time while fitting (whole
            rows of the item-item matrix; at least one row). Members with long histories make
            that matrix dense: 10,000 items completed a thousand at a time by each member gave
            100 million counts, gigabytes at once, of which each item keeps ``neighbours``.
    """

    def __init__(self, neighbours: int = 50, shrinkage: float = 5.0, role_prior: float = 20.0,
                 block: int = 4_000_000) -> None:
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.role_prior = role_prior
        self.block = block
        self._aligned: tuple[Sequence[str], tuple[np.ndarray, np.ndarray]] | None = None
        self._role_top: dict[tuple[str, ...], np.ndarray] = {}  # members share roles: kept per set
        # How many members each link rests on (a model read from an older store may lack them).
        self.co_counts_: sp.csr_matrix | None = None
        self.role_done_: dict[str, np.ndarray] = {}

    def fit(
        self,
        interactions: Iterable[tuple[str, str, str, float | None]],
        member_roles: Mapping[str, Sequence[str]],
    ) -> CollaborativeModel:
        """Learn both signals.

        Args:
            interactions: ``(member, item, kind, value)`` rows; only positive ones count (see
                :func:`is_positive`), each member and item pair once.
            member_roles: Each member's roles (members without positive events still count in
                their roles' sizes).

        Returns:
            ``self``.
        """
        self._aligned, self._role_top = None, {}
        pairs = {(m, i) for m, i, k, v in interactions if is_positive(k, v)}
        members = sorted({m for m, _ in pairs} | set(member_roles))
        items = sorted({i for _, i in pairs})
        self.item_ids_ = items
        self.item_index_ = {i: n for n, i in enumerate(items)}
        member_index = {m: n for n, m in enumerate(members)}
        if pairs:
            rows = np.fromiter((member_index[m] for m, _ in pairs), dtype=np.int64, count=len(pairs))
            cols = np.fromiter((self.item_index_[i] for _, i in pairs), dtype=np.int64, count=len(pairs))
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
        x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(members), len(items)))
        self.n_pairs_ = len(pairs)
        self.completers_ = np.asarray(x.sum(axis=0)).ravel()
        self.neighbours_ = self._item_knn(x)
        self._fit_roles(x, members, member_roles)
        return self

    def _item_knn(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Shrunk cosine between items' completer sets, the ``neighbours`` best per item: the
        item-item counts a block of rows at a time (see ``block``), each block's best kept."""
        n = x.shape[1]
        xt = x.T.tocsr()
        norms = np.sqrt(np.maximum(self.completers_, 1.0))
        step = max(1, self.block // max(n, 1))
        parts = [self._knn_rows(xt[lo:lo + step] @ x, lo, norms) for lo in range(0, n, step)]
        lengths = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        columns = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int32)
        # The co-completer counts behind the kept similarities: what a reason rests on.
        counts = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.float32)
        sims = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, dtype=np.float32)
        self.co_counts_ = sp.csr_matrix((counts, columns, indptr), shape=(n, n))
        return sp.csr_matrix((sims, columns, indptr), shape=(n, n))

    def _knn_rows(self, co: sp.csr_matrix, first: int, norms: np.ndarray) -> tuple[np.ndarray, ...]:
        """Rows ``first...`` of the item-item counts cut to their best ``neighbours``: each row's
        length, and the kept columns, counts and similarities in row order."""
        co = co.tocsr()
        size = co.shape[0]
        co.setdiag(0, k=first)  # an item is not its own neighbour
        co.eliminate_zeros()
        co.sort_indices()
        rows = np.repeat(np.arange(size), np.diff(co.indptr))
        counts = co.data.astype(np.float64)
        sims = counts / (norms[first + rows] * norms[co.indices]) * counts / (counts + self.shrinkage)
        # Rows with more than ``neighbours`` entries keep the best, ties to the smaller item
        # index (columns are sorted); only those rows need sorting.
        lengths = np.diff(co.indptr)
        keep = np.ones(len(sims), dtype=bool)
        for r in np.flatnonzero(lengths > self.neighbours):
            lo, hi = co.indptr[r], co.indptr[r + 1]
            order = np.lexsort((co.indices[lo:hi], -sims[lo:hi]))[self.neighbours:]
            keep[lo + order] = False
        return (np.bincount(rows[keep], minlength=size), co.indices[keep], counts[keep].astype(np.float32),
                sims[keep].astype(np.float32))

    def _fit_roles(self, x: sp.csr_matrix, members: list[str], member_roles: Mapping[str, Sequence[str]]) -> None:
        total = max(len(members), 1)
        overall = self.completers_ / total
        self.overall_ = overall.astype(np.float32)
        roles = sorted({r for rs in member_roles.values() for r in rs})
        self.roles_, self.role_done_ = {}, {}
        for role in roles:
            holders = np.array([n for n, m in enumerate(members) if role in member_roles.get(m, ())], dtype=np.int64)
            done = np.asarray(x[holders].sum(axis=0)).ravel()
            share = (done + self.role_prior * overall) / (len(holders) + self.role_prior)
            self.roles_[role] = share.astype(np.float32)
            self.role_done_[role] = done.astype(np.int32)

    # -- persistence ---------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as named arrays (what :meth:`from_arrays` reads), its settings and
        the pair count aside: a trained ranking model stores them among its own."""
        roles = sorted(self.roles_)
        arrays: dict[str, np.ndarray] = {
            "item_ids": np.array(self.item_ids_, dtype=str),
            "completers": self.completers_,
            "overall": self.overall_,
            "role_names": np.array(roles, dtype=str),
            "role_shares": np.stack([self.roles_[r] for r in roles]) if roles else np.zeros((0, len(self.item_ids_))),
        }
        _put_sparse(arrays, "knn", self.neighbours_)
        # What reasons rest on (see co_completers); a model stored without them gives no reason
        # of "others study this".
        if self.co_counts_ is not None:
            _put_sparse(arrays, "knn_counts", self.co_counts_)
        if roles and self.role_done_:
            arrays["role_done"] = np.stack([self.role_done_[r] for r in roles])
        return arrays

    @classmethod
    def from_arrays(cls, z: Mapping[str, np.ndarray] | Any, *, neighbours: int, shrinkage: float,
                    role_prior: float, n_pairs: int) -> CollaborativeModel:
        """A fitted model from :meth:`to_arrays`' arrays (an open ``.npz`` will do) and settings.

        Raises:
            KeyError: an array is missing.
        """
        c = cls(int(neighbours), shrinkage, role_prior)
        c.item_ids_ = [str(i) for i in z["item_ids"].tolist()]
        c.item_index_ = {i: n for n, i in enumerate(c.item_ids_)}
        c.n_pairs_ = int(n_pairs)
        c.completers_ = z["completers"]
        c.overall_ = z["overall"]
        c.neighbours_ = _get_sparse(z, "knn")
        names = [str(r) for r in z["role_names"].tolist()]
        c.roles_ = {r: z["role_shares"][n] for n, r in enumerate(names)}
        if "knn_counts_data" in z:
            c.co_counts_ = _get_sparse(z, "knn_counts")
        if "role_done" in z:
            c.role_done_ = {r: z["role_done"][n] for n, r in enumerate(names)}
        return c

    def to_bytes(self, **extra: np.ndarray) -> bytes:
        """The fitted model as an ``.npz`` (no pickles), with ``extra`` arrays beside it (what
        the caller needs to know the model is still current). Uncompressed: it is read back by
        every process that serves the store, where a fit costs seconds and a read should not."""
        out = io.BytesIO()
        np.savez(out, format=np.array([_FORMAT]),
                 params=np.array([self.neighbours, self.shrinkage, self.role_prior, self.n_pairs_], dtype=np.float64),
                 **self.to_arrays(), **{_EXTRA + name: value for name, value in extra.items()})
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[CollaborativeModel, dict[str, np.ndarray]]:
        """Read a model written by :meth:`to_bytes`, and the extra arrays written with it.

        Raises:
            ModelError: the bytes are not a model of this format.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if int(z["format"][0]) != _FORMAT:
                    raise ModelError(f"the stored collaborative model has format {int(z['format'][0])}, not {_FORMAT}")
                neighbours, shrinkage, role_prior, n_pairs = z["params"].tolist()
                model = cls.from_arrays(z, neighbours=int(neighbours), shrinkage=shrinkage, role_prior=role_prior,
                                        n_pairs=int(n_pairs))
                return model, {name.removeprefix(_EXTRA): z[name] for name in z.files if name.startswith(_EXTRA)}
        except ModelError:
            raise
        except _UNREADABLE as exc:
            raise ModelError(f"the stored collaborative model cannot be read ({exc})") from exc

    @staticmethod
    def extra_of(data: bytes, name: str) -> np.ndarray | None:
        """One extra array written with a model by :meth:`to_bytes`, read without the model
        (None if the bytes are not such a model or lack it)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return z[_EXTRA + name] if _EXTRA + name in z.files else None
        except _UNREADABLE:
            return None

    # -- lookups -------------------------------------------------------------------------
    #
    # Planning asks by catalogue row (see :meth:`positions`); the id-based methods are the same
    # lookups for callers holding ids.

    def positions(self, item_ids: Sequence[str]) -> np.ndarray:
        """Each id's position in the model (-1: nobody completed it). For a tuple (a catalogue's
        ids, the same object for one revision) the answer is kept for the next call with it, so
        a catalogue is aligned with the model once, not once per member."""
        return self._align(item_ids)[0]

    def rows(self, item_ids: Sequence[str], positions: np.ndarray) -> np.ndarray:
        """Where model ``positions`` sit in ``item_ids`` (-1: not there): the way back from
        :meth:`positions`."""
        return self._align(item_ids)[1][np.asarray(positions, dtype=np.int64)]

    def _align(self, item_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        found = self._aligned
        if found is not None and found[0] is item_ids:
            return found[1]
        index = self.item_index_
        pos = np.fromiter((index.get(i, -1) for i in item_ids), dtype=np.int64, count=len(item_ids))
        back = np.full(len(self.item_ids_), -1, dtype=np.int64)
        back[pos[pos >= 0]] = np.flatnonzero(pos >= 0)
        if isinstance(item_ids, tuple):
            self._aligned = (item_ids, (pos, back))
        return pos, back

    def _history(self, history: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        known = sorted((i, w) for i, w in history.items() if w > 0 and i in self.item_index_)
        rows = np.array([self.item_index_[i] for i, _ in known], dtype=np.int64)
        weights = np.array([w for _, w in known], dtype=np.float64)
        return rows, weights, [i for i, _ in known]

    def related_at(self, history: Mapping[str, float], pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """:meth:`related` by model position (-1 for items nobody completed): the scores, and for
        each item the index into the returned history ids of its strongest link (-1: none)."""
        pos = np.asarray(pos, dtype=np.int64)
        scores = np.zeros(len(pos))
        anchor = np.full(len(pos), -1, dtype=np.int64)
        rows, weights, names = self._history(history)
        if not len(rows) or not (pos >= 0).any():
            return scores, anchor, names
        # The history's neighbour rows, scattered into (history x asked) by where each asked
        # position sits: a few hundred entries, whatever the size of the catalogue.
        owner, neighbour, sim = _gather(self.neighbours_, rows)
        known = pos >= 0
        asked, where = np.unique(pos[known], return_inverse=True)
        column = np.full(self.neighbours_.shape[1], -1, dtype=np.int64)
        column[asked] = np.arange(len(asked))
        cols = column[neighbour]
        hit = cols >= 0
        dense = np.zeros((len(rows), len(asked)))
        dense[owner[hit], cols[hit]] = sim[hit]
        part = np.zeros((len(rows), len(pos)))
        part[:, known] = dense[:, where] * weights[:, None]
        scores = part.sum(axis=0)
        anchor = np.where(scores > 0, part.argmax(axis=0), -1)
        return scores, anchor, names

    def related(self, history: Mapping[str, float], item_ids: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
        """How strongly each of ``item_ids`` is co-completed with a member's history.

        Args:
            history: Item id to a positive weight (the member's positive history).
            item_ids: The items to score.

        Returns:
            The scores (0 where nothing links an item to the history), and for each item the
            history item that contributes most to its score (None where the score is 0).
        """
        scores, anchor, names = self.related_at(history, self.positions(item_ids))
        return scores, [names[a] if a >= 0 else None for a in anchor.tolist()]

    def related_top_at(self, history: Mapping[str, float], n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """:meth:`related_top` as model positions; ``exclude`` is positions too."""
        rows, weights, _ = self._history(history)
        if not len(rows) or n < 1:
            return np.zeros(0, dtype=np.int64)
        owner, neighbour, sim = _gather(self.neighbours_, rows)
        # Summed in the order of the history's positions, as a sparse product would.
        vec = np.bincount(neighbour, weights=sim * weights[owner], minlength=self.neighbours_.shape[1])
        if exclude is not None and len(exclude):
            vec[exclude] = 0.0
        cols = np.flatnonzero(vec > 0)
        vals = vec[cols]
        # Positions follow the ids' order: a tie goes to the smaller position, the smaller id.
        return cols[np.lexsort((cols, -vals.astype(np.float64)))][:n]

    def related_top(self, history: Mapping[str, float], n: int, exclude: Iterable[str] = ()) -> list[str]:
        """The ``n`` items most co-completed with a member's history, best first (ties by id)."""
        skip = self.positions([i for i in set(exclude) if i in self.item_index_])
        return [self.item_ids_[c] for c in self.related_top_at(history, n, skip).tolist()]

    def role_popularity_at(self, roles: Sequence[str], pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`role_popularity` by model position (-1 for items nobody completed): the mean
        shares, and for each item the index into ``roles`` of its best role (-1: none)."""
        pos = np.asarray(pos, dtype=np.int64)
        if not len(pos) or not self.item_ids_:
            return np.zeros(len(pos)), np.full(len(pos), -1, dtype=np.int64)
        at = np.maximum(pos, 0)
        sub = np.stack([share[at] for share in [self.roles_.get(r, self.overall_) for r in roles] or [self.overall_]])
        out = np.where(pos >= 0, sub.mean(axis=0).astype(np.float64), 0.0)
        return out, np.where((out > 0) & bool(len(roles)), sub.argmax(axis=0), -1)

    def role_popularity(self, roles: Sequence[str], item_ids: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
        """The share of members holding the member's roles who completed each item.

        Args:
            roles: The member's roles (unknown roles fall back to the share among all members).
            item_ids: The items to score.

        Returns:
            The mean share over the roles (0 for items nobody completed), and for each item the
            role in which it is most popular.
        """
        out, best = self.role_popularity_at(roles, self.positions(item_ids))
        return out, [roles[b] if b >= 0 else None for b in best.tolist()]

    def role_top_at(self, roles: Sequence[str], n: int) -> np.ndarray:
        """:meth:`role_top` as model positions."""
        if n < 1 or not self.item_ids_:
            return np.zeros(0, dtype=np.int64)
        key = tuple(roles)
        found = self._role_top.get(key)
        if found is None or len(found) < n:
            scores = np.stack([self.roles_.get(r, self.overall_) for r in roles] or [self.overall_]).mean(axis=0)
            # Only the items at or above the n-th best score are sorted (a catalogue may be large).
            k = min(n, len(scores))
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            idx = np.flatnonzero((scores >= kth) & (scores > 0))
            found = self._role_top[key] = idx[np.lexsort((idx, -scores[idx]))][:n]
        return found[:n]

    def role_top(self, roles: Sequence[str], n: int) -> list[str]:
        """The ``n`` items most completed by members holding ``roles``, best first (ties by id)."""
        return [self.item_ids_[i] for i in self.role_top_at(roles, n).tolist()]

    # -- support: how many members a signal rests on -------------------------------------

    def co_completers(self, item_a: str, item_b: str) -> int:
        """How many members completed both items, if ``item_b`` is among ``item_a``'s kept
        neighbours (else 0: the model keeps no count for pairs it does not link)."""
        counts = self.co_counts_
        a, b = self.item_index_.get(item_a), self.item_index_.get(item_b)
        if counts is None or a is None or b is None:
            return 0
        lo, hi = counts.indptr[a], counts.indptr[a + 1]
        at = np.flatnonzero(counts.indices[lo:hi] == b)
        return int(round(float(counts.data[lo + at[0]]))) if len(at) else 0

    def role_completers(self, role: str, item_id: str) -> int:
        """How many members holding ``role`` completed the item."""
        done = self.role_done_.get(role)
        pos = self.item_index_.get(item_id)
        return 0 if done is None or pos is None else int(done[pos])

    def similar_items(self, item_id: str, n: int = 10) -> list[tuple[str, float]]:
        """The items most co-completed with ``item_id``, with their similarity, best first."""
        row = self.item_index_.get(item_id)
        if row is None:
            return []
        r = self.neighbours_[row]
        found = sorted((-float(s), self.item_ids_[c]) for c, s in zip(r.indices, r.data))
        return [(i, -s) for s, i in found[:n]]
