"""Diversity re-ranking: maximal marginal relevance with a cap per topic."""

from __future__ import annotations

from collections import Counter

import numpy as np

from recsys.pipeline.context import Candidate, PlanContext

__all__ = ["MMRReranker"]


class MMRReranker:
    """Maximal marginal relevance: trades score against similarity to what is already chosen, and
    caps items per topic, so one theme does not pile up.

    Args:
        lambda_: Weight of the score against diversity (1 = score only).
        keep: How many candidates to pass on.
        per_topic: Most items sharing a main topic among those kept (relaxed if too few remain).
    """

    def __init__(self, lambda_: float = 0.7, keep: int = 40, per_topic: int = 3) -> None:
        self.lambda_ = lambda_
        self.keep = keep
        self.per_topic = per_topic

    def __call__(self, ctx: PlanContext, ranked: list[Candidate]) -> list[Candidate]:
        if not ranked:
            return []
        pool = ranked[: 4 * self.keep]
        x = np.stack([c.vector for c in pool])
        sims = x @ x.T
        # Cosines of some encoders sit high for any two texts: measure similarity above the
        # pool's own typical level.
        base = float(np.median(sims))
        sims = np.clip((sims - base) / max(1.0 - base, 1e-6), 0.0, 1.0)
        scores = np.array([c.score for c in pool])
        spread = max(scores.max() - scores.min(), 1e-6)
        rel = (scores - scores.min()) / spread
        mains = [c.item.topics[0] if c.item.topics else "" for c in pool]
        chosen: list[tuple[int, float]] = []
        topics: Counter = Counter()
        open_ = np.ones(len(pool), dtype=bool)
        max_sim = np.zeros(len(pool))
        while open_.any() and len(chosen) < self.keep:
            crowded = np.array([topics[m] >= self.per_topic for m in mains])
            value = self.lambda_ * rel - (1 - self.lambda_) * max_sim - crowded
            value[~open_] = -np.inf
            best = int(np.argmax(value))  # first of equals: the better-ranked candidate
            chosen.append((best, float(max_sim[best]) + float(crowded[best])))
            open_[best] = False
            topics[mains[best]] += 1
            max_sim = np.maximum(max_sim, sims[best])
        out = []
        for i, redundancy in chosen:
            c = pool[i]
            # The score the budget fitter maximises: the scorer's, less what the item repeats of
            # those chosen before it, in the scorer's own units.
            c.score = max(scores[i] - (1 - self.lambda_) / self.lambda_ * redundancy * spread, 0.0)
            out.append(c)
        return out
