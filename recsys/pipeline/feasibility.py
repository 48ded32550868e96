"""The filter that enforces the hard rules on candidates."""

from __future__ import annotations

from collections import Counter

import numpy as np

from recsys.pipeline.context import PlanContext, Pool
from recsys.pipeline.masks import REASONS, hard_rules

__all__ = ["FeasibilityFilter"]


class FeasibilityFilter:
    """Drops every candidate that breaks a hard rule (see :func:`recsys.pipeline.infeasibility`,
    checked for all candidates at once by :func:`recsys.pipeline.masks.hard_rules`), including
    near-duplicates of completed items, and counts why things were dropped."""

    def __call__(self, ctx: PlanContext, pool: Pool, *, limit: int | None = None) -> tuple[Pool, Counter]:
        """The candidates that break no rule, and how many were dropped for each reason.

        With ``limit``, only the ``limit`` best by retrieval rank (ties by id) are kept: the
        ones a scorer that cuts there (:attr:`ScorerConfig.max_scored`) would read, found
        without comparing every other candidate with the member's history. Duplicates are then
        counted only among the candidates compared.
        """
        items = ctx.items
        cols = items.columns
        codes = hard_rules(ctx, pool.rows)
        indexed = items.indexed[pool.rows]
        dropped = Counter({REASONS[c]: int(n) for c, n in zip(*np.unique(codes[codes > 0], return_counts=True))})
        if (missing := int(((codes == 0) & ~indexed).sum())):
            dropped["unindexed"] += missing
        kept = pool.take((codes == 0) & indexed)
        if limit is not None:
            kept = kept.take(np.lexsort((cols.id_rank[kept.rows], kept.rank)))
        done = cols.rows(ctx.done)
        done = done[items.indexed[done]]
        if not len(kept) or not len(done):
            return (kept if limit is None else kept.take(slice(0, limit))), dropped
        # Near-duplicates of completed items count as completed (guarantee 1), but a due review
        # repeats a completed item on purpose: it is not a duplicate.
        history = items.vectors(done).T
        completed = cols.flag(ctx.profile.history.completed)
        step = len(kept) if limit is None else limit
        keep = np.zeros(len(kept), dtype=bool)
        read = []  # the vectors read, kept for the steps after (they read the same rows)
        start = 0
        while start < len(kept) and (limit is None or keep.sum() < limit):
            rows = kept.rows[start:start + step]
            read.append(items.vectors(rows))
            duplicate = ((read[-1] @ history).max(axis=1) >= ctx.duplicate_threshold) & ~completed[rows]
            keep[start:start + len(rows)] = ~duplicate
            dropped["duplicate"] += int(duplicate.sum())
            start += len(rows)
            step = limit - int(keep.sum()) if limit is not None else step
        if not dropped["duplicate"]:
            del dropped["duplicate"]
        checked = kept.take(slice(0, start))
        checked.vectors = read[0] if len(read) == 1 else np.concatenate(read)
        kept = checked.take(np.flatnonzero(keep[:start]))
        return (kept if limit is None else kept.take(slice(0, limit))), dropped
