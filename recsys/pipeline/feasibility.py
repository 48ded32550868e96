"""The filter that enforces the hard rules on candidates."""

from __future__ import annotations

from collections import Counter

from recsys.pipeline.context import Candidate, PlanContext
from recsys.pipeline.rules import infeasibility

__all__ = ["FeasibilityFilter"]


class FeasibilityFilter:
    """Drops every candidate that breaks a hard rule (see :func:`infeasibility`), including
    near-duplicates of completed items, and counts why things were dropped."""

    def __call__(self, ctx: PlanContext, candidates: dict[str, Candidate]) -> tuple[dict[str, Candidate], Counter]:
        dropped: Counter = Counter()
        kept: dict[str, Candidate] = {}
        for item_id, c in candidates.items():
            why = infeasibility(c.item, ctx)
            if why is None and item_id not in ctx.index:
                why = "unindexed"
            if why:
                dropped[why] += 1
            else:
                kept[item_id] = c
        if kept:
            ids = list(kept)
            vectors = ctx.index.vectors(ids)
            for item_id, v in zip(ids, vectors):
                kept[item_id].vector = v
            done = [i for i in ctx.done if i in ctx.index]
            if done:
                # Near-duplicates of completed items count as completed (guarantee 1).
                sims = vectors @ ctx.index.vectors(done).T
                for item_id, row in zip(ids, sims):
                    # A due review repeats a completed item on purpose: it is not a duplicate.
                    if row.max() >= ctx.duplicate_threshold and item_id not in ctx.profile.history.completed:
                        del kept[item_id]
                        dropped["duplicate"] += 1
        return kept, dropped
