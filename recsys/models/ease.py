"""EASE^R (Steck 2019): a linear item-item model learnt in closed form.

With ``X`` the members × items matrix of positive events, ``G = XᵀX + λI`` and ``P = G⁻¹``, the
weights are ``B = -P / diag(P)`` (column-wise) with a zero diagonal: each item is predicted from
every other item, and an item cannot explain itself. A member's score for item ``j`` is
``Σ_{i in history} B[i, j]``.

The inverse is of an items × items dense matrix, so its cost grows with the cube of the items:
the model is learnt over at most ``max_items`` items, those most often taken up (the rest keep the
item-kNN co-completion of :mod:`recsys.pipeline.collaborative`, which has no such limit). Only the
``keep`` largest positive weights of each row are kept: scoring reads a few hundred numbers per
member, and the stored model stays small.

Example:
    >>> import scipy.sparse as sp
    >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
    >>> ease = EASE(l2=0.5).fit(x)
    >>> int(ease.weights_[0].toarray().argmax())   # item 0 predicts item 1, never itself
    1
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.exceptions import ValidationError

__all__ = ["EASE"]


class EASE:
    """EASE^R over a members × items matrix of positive events.

    Args:
        l2: The ridge ``λ`` added to the Gram matrix's diagonal.
        keep: Largest weights kept per item (row).
        max_items: Most items the model is learnt over (the most taken-up ones).
    """

    def __init__(self, l2: float = 100.0, keep: int = 100, max_items: int = 8000) -> None:
        if l2 <= 0 or keep < 1 or max_items < 1:
            raise ValidationError(f"EASE needs l2 > 0, keep >= 1, max_items >= 1; got {l2}, {keep}, {max_items}")
        self.l2 = l2
        self.keep = keep
        self.max_items = max_items

    def fit(self, x: sp.csr_matrix) -> EASE:
        """Learn ``weights_`` (items × items, sparse) from ``x`` (members × items, 0/1).

        Items beyond ``max_items`` (the least taken up, ties to the larger index) get no weights.
        """
        x = sp.csr_matrix(x, dtype=np.float64)
        n = x.shape[1]
        counts = np.asarray(x.sum(axis=0)).ravel()
        order = np.lexsort((np.arange(n), -counts))
        kept = np.sort(order[: min(self.max_items, n)][counts[order[: min(self.max_items, n)]] > 0])
        self.items_ = kept
        if not len(kept):
            self.weights_ = sp.csr_matrix((n, n), dtype=np.float32)
            return self
        sub = x[:, kept]
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = _inverse_in_place(gram)
        # B = -P / diag(P), in place (dividing by the negated diagonal gives the same numbers).
        b = p
        b /= -np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        self.weights_ = _top_per_row(b, kept, n, self.keep)
        return self


def _inverse_in_place(gram: np.ndarray) -> np.ndarray:
    """The inverse of the symmetric positive definite ``gram`` (a Gram matrix plus a ridge),
    written over it: Cholesky, then the inverse from the factor (LAPACK ``potrf``, ``potri``).
    At 8,000 items each dense matrix is 512 MiB; ``np.linalg.inv`` held three of them (the
    matrix, an identity to solve against and the result), this holds the one."""
    from scipy.linalg import lapack

    n = len(gram)
    # LAPACK works on columns and copies anything else. A symmetric matrix is its own transpose,
    # so a row-ordered one is handed over as its transpose: a column-ordered view of the same
    # memory. (A sparse product's ``toarray()`` is column-ordered already.)
    a = gram if gram.flags.f_contiguous else gram.T
    c, info = lapack.dpotrf(a, lower=True, overwrite_a=True, clean=False)
    if info == 0:
        c, info = lapack.dpotri(c, lower=True, overwrite_c=True)
    if info != 0:
        raise ValidationError(f"EASE's regularised Gram matrix is not positive definite (LAPACK info {info}): "
                              "raise the ridge (TrainConfig.ease_l2)")
    # potri fills the lower triangle only: mirror it to the upper one, a block of columns at a time.
    for first in range(0, n, 512):
        last = min(first + 512, n)
        c[first:last, last:] = c[last:, first:last].T
        block = c[first:last, first:last]
        upper = np.triu_indices(last - first, 1)
        block[upper] = block.T[upper]
    return c.T  # symmetric: row-ordered again, with no copy


def _top_per_row(b: np.ndarray, kept: np.ndarray, n: int, keep: int) -> sp.csr_matrix:
    """The ``keep`` largest positive entries of each row of dense ``b`` (ties to the smaller
    column), placed at the ``kept`` rows and columns of an ``n × n`` sparse matrix."""
    m = len(kept)
    k = min(keep, m)
    # Largest first, ties by column: a stable sort of the negated values, a block of rows at a
    # time (a whole 8,000-item sort holds two more dense matrices than the weights).
    top = np.empty((m, k), dtype=np.int64)
    for first in range(0, m, 512):
        top[first:first + 512] = np.argsort(-b[first:first + 512], axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(b, top, axis=1)
    positive = vals > 0
    rows = np.repeat(np.arange(m), k)[positive.ravel()]
    cols = top.ravel()[positive.ravel()]
    data = vals.ravel()[positive.ravel()].astype(np.float32)
    out = sp.csr_matrix((data, (kept[rows], kept[cols])), shape=(n, n))
    out.sort_indices()
    return out
