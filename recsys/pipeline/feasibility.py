"""The filter that enforces the hard rules on candidates."""

from __future__ import annotations

from collections import Counter

from recsys.pipeline.context import Candidate, PlanContext
from recsys.pipeline.masks import REASONS, hard_rules

__all__ = ["FeasibilityFilter"]


class FeasibilityFilter:
    """Drops every candidate that breaks a hard rule (see :func:`recsys.pipeline.infeasibility`,
    checked for all candidates at once by :func:`recsys.pipeline.masks.hard_rules`), including
    near-duplicates of completed items, and counts why things were dropped."""

    def __call__(self, ctx: PlanContext, candidates: dict[str, Candidate]) -> tuple[dict[str, Candidate], Counter]:
        dropped: Counter = Counter()
        kept: dict[str, Candidate] = {}
        known = ctx.items.columns.row
        ids = [i for i in candidates if i in known]
        if len(ids) < len(candidates):  # a swapped-in selector's ids outside the catalogue
            dropped["unindexed"] += len(candidates) - len(ids)
        codes = hard_rules(ctx, ctx.items.columns.rows(ids))
        for item_id, code in zip(ids, codes.tolist()):
            why = REASONS[code]
            if why is None and item_id not in ctx.index:
                why = "unindexed"
            if why:
                dropped[why] += 1
            else:
                kept[item_id] = candidates[item_id]
        if kept:
            ids = list(kept)
            vectors = ctx.index.vectors(ids)
            for item_id, v in zip(ids, vectors):
                kept[item_id].vector = v
            done = [i for i in ctx.done if i in ctx.index]
            if done:
                # Near-duplicates of completed items count as completed (guarantee 1).
                closest = (vectors @ ctx.index.vectors(done).T).max(axis=1).tolist()
                for item_id, sim in zip(ids, closest):
                    # A due review repeats a completed item on purpose: it is not a duplicate.
                    if sim >= ctx.duplicate_threshold and item_id not in ctx.profile.history.completed:
                        del kept[item_id]
                        dropped["duplicate"] += 1
        return kept, dropped
