"""Near-duplicate clusters: items with the same content under different ids or titles.

Two items are linked when the cosine of their embeddings reaches a threshold; a cluster is a
connected component of those links, so editors see every copy of one text together and can
merge them. The threshold per encoder was chosen by measurement on a real quiz bank with real
repeats (``python -m evaluation.coverage_duplicates``; figures in README "Coverage for editors").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["duplicate_pairs", "duplicate_clusters", "normalise_text", "coverage_threshold"]

#: Bytes of the similarity matrix computed at a time: rows of it are computed a block at a time
#: so that memory stays bounded whatever the catalogue (1,024 rows of a 100k-item catalogue were
#: 400 MB, and a coverage report's peak).
_BLOCK_BYTES = 32 << 20
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def coverage_threshold(encoder_name: str, fallback: float) -> float:
    """The cosine at which the coverage report links two items, for an encoder.

    Chosen on the quiz bank's 681 real repeated pairs as the lowest threshold whose pairs are at
    least 99% right (an editor merges what the report lists, so precision comes first); both
    keep every real repeat (recall 1.0): e5 0.995 (precision 0.993; at 0.983, the recommender's
    setting, 0.919, as short questions on one subject sit close in e5's space), the model-free
    encoder 0.92 (precision 0.991). Other encoders use ``fallback``.
    """
    if "e5" in encoder_name:
        return 0.995
    if "tfidf" in encoder_name:
        return 0.92
    return fallback


def normalise_text(text: str) -> str:
    """Text reduced to what identifies content: NFKC, no spaces or punctuation, lower case."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text)).lower()


def duplicate_pairs(vectors: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, cosine)`` with ``i < j`` whose cosine is at least ``threshold``.

    Args:
        vectors: Unit-normalised embeddings, one row per item.
        threshold: Cosine at or above which two rows are the same content.

    Returns:
        The pairs, by ``i`` then ``j``.
    """
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    out: list[tuple[int, int, float]] = []
    block = max(1, min(1024, _BLOCK_BYTES // max(4 * n, 1)))
    for start in range(0, n, block):
        sims = x[start:start + block] @ x.T
        rows, cols = np.nonzero(sims >= threshold)
        upper = cols > rows + start  # each pair once, never an item with itself
        rows, cols = rows[upper], cols[upper]
        out.extend(zip((rows + start).tolist(), cols.tolist(), sims[rows, cols].tolist()))
    out.sort()
    return out


def duplicate_clusters(
    ids: Sequence[str], vectors: np.ndarray, threshold: float,
    together: Callable[[int, int], bool] | None = None,
) -> list[tuple[tuple[str, ...], float]]:
    """Groups of ids whose embeddings are linked at ``threshold`` (connected components).

    Args:
        ids: Item ids, one per row of ``vectors``.
        vectors: Unit-normalised embeddings.
        threshold: Cosine at or above which two items are linked.
        together: Whether the items of two rows can be the same content to anyone (default:
            any two): a pair it refuses is not linked.

    Returns:
        ``(ids, lowest linking cosine)`` for each cluster of two or more, ids sorted, clusters
        largest first then by first id.
    """
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    weakest: dict[int, float] = {}
    pairs = duplicate_pairs(vectors, threshold)
    if together is not None:
        pairs = [(i, j, s) for i, j, s in pairs if together(i, j)]
    for i, j, _ in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    for i, _, s in pairs:
        root = find(i)
        weakest[root] = min(weakest.get(root, 1.0), s)
    members: dict[int, list[str]] = {}
    for i, id_ in enumerate(ids):
        members.setdefault(find(i), []).append(id_)
    clusters = [(tuple(sorted(m)), weakest[root]) for root, m in members.items() if len(m) > 1]
    clusters.sort(key=lambda c: (-len(c[0]), c[0]))
    return clusters
