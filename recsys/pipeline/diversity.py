"""Diversity re-ranking: maximal marginal relevance with a cap per topic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.pipeline.component import Component
from recsys.pipeline.context import PlanContext, Pool

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

    def __call__(self, ctx: PlanContext, ranked: Pool, *, keep: int | None = None) -> Pool:
        """The ``keep`` (default: the configured number) most valuable candidates, in the order
        chosen, each scored less what it repeats of those chosen before it."""
        cfg = self.config
        keep = cfg.keep if keep is None else keep
        if not len(ranked):
            return ranked
        pool = ranked.take(slice(0, 4 * keep))
        x = ctx.items.vectors(pool.rows)
        sims = x @ x.T
        # Cosines of some encoders sit high for any two texts: measure similarity above the
        # pool's own typical level.
        base = float(np.median(sims))
        sims = np.clip((sims - base) / max(1.0 - base, 1e-6), 0.0, 1.0)
        scores = pool.score
        spread = max(scores.max() - scores.min(), 1e-6)
        rel = (scores - scores.min()) / spread
        # Items without a topic share one cap, as if "no topic" were a topic.
        mains = ctx.items.columns.main_topic[pool.rows]
        mains = np.where(mains < 0, len(ctx.items.columns.topic_names), mains)
        count = np.zeros(len(ctx.items.columns.topic_names) + 1, dtype=np.int64)
        chosen, redundancy = [], []
        open_ = np.ones(len(pool), dtype=bool)
        max_sim = np.zeros(len(pool))
        while len(chosen) < min(keep, len(pool)):
            crowded = count[mains] >= cfg.per_topic
            value = cfg.lambda_ * rel - (1 - cfg.lambda_) * max_sim - crowded
            value[~open_] = -np.inf
            best = int(np.argmax(value))  # first of equals: the better-ranked candidate
            chosen.append(best)
            redundancy.append(float(max_sim[best]) + float(crowded[best]))
            open_[best] = False
            count[mains[best]] += 1
            max_sim = np.maximum(max_sim, sims[best])
        out = pool.take(np.array(chosen, dtype=np.int64))
        # The score the budget fitter maximises: the scorer's, less what the item repeats of
        # those chosen before it, in the scorer's own units.
        out.score = np.maximum(out.score - (1 - cfg.lambda_) / cfg.lambda_ * np.array(redundancy) * spread, 0.0)
        return out
