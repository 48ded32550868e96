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

    def __call__(self, ctx: PlanContext, pool: Pool) -> tuple[Pool, Counter]:
        items = ctx.items
        codes = hard_rules(ctx, pool.rows)
        indexed = items.indexed[pool.rows]
        dropped = Counter({REASONS[c]: int(n) for c, n in zip(*np.unique(codes[codes > 0], return_counts=True))})
        if (missing := int(((codes == 0) & ~indexed).sum())):
            dropped["unindexed"] += missing
        kept = pool.take((codes == 0) & indexed)
        done = items.columns.rows(ctx.done)
        done = done[items.indexed[done]]
        if len(kept) and len(done):
            # Near-duplicates of completed items count as completed (guarantee 1), but a due
            # review repeats a completed item on purpose: it is not a duplicate.
            closest = (items.vectors(kept.rows) @ items.vectors(done).T).max(axis=1)
            completed = items.columns.flag(ctx.profile.history.completed)[kept.rows]
            duplicate = (closest >= ctx.duplicate_threshold) & ~completed
            if duplicate.any():
                dropped["duplicate"] += int(duplicate.sum())
                kept = kept.take(~duplicate)
        return kept, dropped
