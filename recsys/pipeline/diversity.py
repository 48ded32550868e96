"""Diversity re-ranking: maximal marginal relevance with a cap per topic."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from recsys.pipeline.component import Component
from recsys.pipeline.context import Candidate, PlanContext

__all__ = ["MMRReranker", "MMRConfig"]


@dataclass(frozen=True)
class MMRConfig:
    """Settings of :class:`MMRReranker`.

    Attributes:
        lambda_: Weight of the score against diversity (1 = score only).
        keep: How many candidates to pass on (a call may ask for another number).
        per_topic: Most items sharing a main topic among those kept (relaxed if too few remain).
    """

    lambda_: float = 0.7
    keep: int = 40
    per_topic: int = 3


class MMRReranker(Component[MMRConfig]):
    """Maximal marginal relevance: trades score against similarity to what is already chosen, and
    caps items per topic, so one theme does not pile up.

    Settings: :class:`MMRConfig`.
    """

    config_class = MMRConfig

    def __call__(self, ctx: PlanContext, ranked: list[Candidate], *, keep: int | None = None) -> list[Candidate]:
        """The ``keep`` (default: the configured number) most valuable candidates, in the order chosen."""
        cfg = self.config
        keep = cfg.keep if keep is None else keep
        if not ranked:
            return []
        pool = ranked[: 4 * keep]
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
        while open_.any() and len(chosen) < keep:
            crowded = np.array([topics[m] >= cfg.per_topic for m in mains])
            value = cfg.lambda_ * rel - (1 - cfg.lambda_) * max_sim - crowded
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
            c.score = max(scores[i] - (1 - cfg.lambda_) / cfg.lambda_ * redundancy * spread, 0.0)
            out.append(c)
        return out
