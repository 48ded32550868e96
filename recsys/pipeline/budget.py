"""Packing the day's minutes: a 0/1 knapsack over the re-ranked candidates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.pipeline.component import Component
from recsys.pipeline.context import PlanContext, Pool

__all__ = ["BudgetFitter", "BudgetConfig"]


@dataclass(frozen=True)
class BudgetConfig:
    """Settings of :class:`BudgetFitter`.

    Attributes:
        length_exponent: How much an item's length adds to its worth (0: not at all, 1: fully).
    """

    length_exponent: float = 0.75


class BudgetFitter(Component[BudgetConfig]):
    """Packs the day into the budget: a 0/1 knapsack over the re-ranked candidates.

    An item is worth its score times its minutes to the power ``length_exponent``: study time
    counts (hours are what the targets are made of, and a day should use most of its budget),
    but less than proportionally, so that short, fragmented items a member can fit into a
    break are not crowded out by one long lecture of the same score. At most one offline
    activity a day.

    Settings: :class:`BudgetConfig`.
    """

    config_class = BudgetConfig

    def __call__(self, ctx: PlanContext, ranked: Pool) -> Pool:
        """The candidates packed into the day, the offline activity first, then by score."""
        budget = ctx.budget
        cols = ctx.items.columns
        offline = cols.offline[ranked.rows]
        first_offline = np.flatnonzero(offline)[:1]
        pool = ranked.take(np.concatenate([np.flatnonzero(~offline), first_offline]))  # one activity a day
        pool = pool.take(cols.minutes[pool.rows] <= budget)
        if not len(pool):
            return pool
        minutes = cols.minutes[pool.rows]
        values = (np.maximum(pool.score, 0.0) + 0.05) * minutes.astype(np.float64) ** self.config.length_exponent
        picked = pool.take(np.array(_knapsack(values.tolist(), minutes.tolist(), budget), dtype=np.int64))
        return picked.take(np.lexsort((cols.id_rank[picked.rows], -picked.score, ~cols.offline[picked.rows])))


def _knapsack(values: list[float], weights: list[int], capacity: int) -> list[int]:
    """Indices of the best subset within ``capacity`` (exact dynamic programme, O(n·capacity))."""
    n = len(values)
    best = np.zeros(capacity + 1)
    take = np.zeros((n, capacity + 1), dtype=bool)
    for i, (v, w) in enumerate(zip(values, weights)):
        if w > capacity:
            continue
        candidate = best[: capacity + 1 - w] + v
        better = candidate > best[w:] + 1e-12
        take[i, w:] = better
        best[w:] = np.where(better, candidate, best[w:])
    chosen, c = [], capacity
    for i in range(n - 1, -1, -1):
        if take[i, c]:
            chosen.append(i)
            c -= weights[i]
    return chosen[::-1]
