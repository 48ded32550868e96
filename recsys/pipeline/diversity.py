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
        return self.many([ctx], [ranked], keep=keep)[0]

    def many(self, ctxs: list[PlanContext], pools: list[Pool], *, keep: int | None = None) -> list[Pool]:
        """:meth:`__call__` for several members at once: each step of the greedy choice is one
        array operation over all members' candidates (a list is the same planned alone or with
        others: each member's numbers are computed as they would be alone)."""
        cfg = self.config
        keep = cfg.keep if keep is None else keep
        out: list[Pool] = list(pools)
        todo = [n for n, ranked in enumerate(pools) if len(ranked)]
        if not todo:
            return out
        cut = {n: pools[n].take(slice(0, 4 * keep)) for n in todo}
        width = max(len(p) for p in cut.values())
        block = len(todo)
        # Per member as alone: similarities, relevance and topics; padded to one width.
        sims = np.zeros((block, width, width))
        rel = np.zeros((block, width))
        mains = np.zeros((block, width), dtype=np.int64)
        open_ = np.zeros((block, width), dtype=bool)
        spread = np.zeros(block)
        count_width = 1 + max(len(ctxs[n].items.columns.topic_names) for n in todo)
        for b, n in enumerate(todo):
            pool, items = cut[n], ctxs[n].items
            size = len(pool)
            x = items.vectors(pool.rows)
            s = x @ x.T
            # Cosines of some encoders sit high for any two texts: measure similarity above
            # the pool's own typical level.
            base = float(np.median(s))
            sims[b, :size, :size] = np.clip((s - base) / max(1.0 - base, 1e-6), 0.0, 1.0)
            scores = pool.score
            spread[b] = max(scores.max() - scores.min(), 1e-6)
            rel[b, :size] = (scores - scores.min()) / spread[b]
            # Items without a topic share one cap, as if "no topic" were a topic.
            m = items.columns.main_topic[pool.rows]
            mains[b, :size] = np.where(m < 0, len(items.columns.topic_names), m)
            open_[b, :size] = True
        target = np.array([min(keep, len(cut[n])) for n in todo])
        count = np.zeros((block, count_width), dtype=np.int64)
        max_sim = np.zeros((block, width))
        chosen = np.zeros((block, int(target.max())), dtype=np.int64)
        redundancy = np.zeros((block, int(target.max())))
        members = np.arange(block)
        for step in range(int(target.max())):
            active = members[target > step]
            crowded = np.take_along_axis(count[active], mains[active], axis=1) >= cfg.per_topic
            value = cfg.lambda_ * rel[active] - (1 - cfg.lambda_) * max_sim[active] - crowded
            value[~open_[active]] = -np.inf
            best = np.argmax(value, axis=1)  # first of equals: the better-ranked candidate
            chosen[active, step] = best
            redundancy[active, step] = max_sim[active, best] + crowded[np.arange(len(active)), best]
            open_[active, best] = False
            count[active, mains[active, best]] += 1
            max_sim[active] = np.maximum(max_sim[active], sims[active, best])
        for b, n in enumerate(todo):
            picked = cut[n].take(chosen[b, :target[b]])
            # The score the budget fitter maximises: the scorer's, less what the item repeats of
            # those chosen before it, in the scorer's own units.
            picked.score = np.maximum(
                picked.score - (1 - cfg.lambda_) / cfg.lambda_ * redundancy[b, :target[b]] * spread[b], 0.0)
            out[n] = picked
        return out
