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
        return self.many([ctx], [ranked])[0]

    def many(self, ctxs: list[PlanContext], pools: list[Pool]) -> list[Pool]:
        """:meth:`__call__` for several members at once: the knapsacks of a block are one
        dynamic programme over (members x minutes), a step per candidate, instead of one per
        member (a list is the same packed alone or with others)."""
        fits = []
        for ctx, ranked in zip(ctxs, pools):
            budget = ctx.budget
            cols = ctx.items.columns
            offline = cols.offline[ranked.rows]
            first_offline = np.flatnonzero(offline)[:1]
            pool = ranked.take(np.concatenate([np.flatnonzero(~offline), first_offline]))  # one activity a day
            pool = pool.take(cols.minutes[pool.rows] <= budget)
            minutes = cols.minutes[pool.rows].astype(np.int64)
            values = (np.maximum(pool.score, 0.0) + 0.05) * minutes.astype(np.float64) ** self.config.length_exponent
            fits.append((pool, values, minutes, budget))
        chosen = _knapsacks([(v, m, b) for _, v, m, b in fits])
        out = []
        for ctx, (pool, *_), picked in zip(ctxs, fits, chosen):
            cols = ctx.items.columns
            picked = pool.take(picked)
            out.append(picked.take(np.lexsort((cols.id_rank[picked.rows], -picked.score, ~cols.offline[picked.rows]))))
        return out


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


#: Cells of the (members x candidates x minutes) choice table a block's programme holds at once.
_MAX_CELLS = 1 << 24


def _knapsacks(problems: list[tuple[np.ndarray, np.ndarray, int]]) -> list[np.ndarray]:
    """:func:`_knapsack` of many ``(values, weights, capacity)`` at once, to the same choices.

    Members are taken in order of capacity, as many together as the choice table allows; each
    step adds every member's next candidate to all their capacities in a few array operations
    (the same float operations as :func:`_knapsack`, so the same ties). A member whose
    candidates ran out, or whose candidate is longer than their day, skips the step. A group of
    one member (a request) is packed by :func:`_knapsack` itself."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(problems)
    order = sorted((n for n, (v, _, c) in enumerate(problems) if len(v) and c >= 0), key=lambda n: problems[n][2])
    start = 0
    while start < len(order):
        # The widest member of a group is its last: add members while the table stays in bounds.
        end, longest = start + 1, len(problems[order[start]][0])
        while end < len(order):
            longest_then = max(longest, len(problems[order[end]][0]))
            if (end + 1 - start) * longest_then * (problems[order[end]][2] + 1) > _MAX_CELLS:
                break
            longest, end = longest_then, end + 1
        group = order[start:end]
        if len(group) == 1:  # one member (a request): slices of one row cost a quarter of the table's gathers
            values, weights, capacity = problems[group[0]]
            out[group[0]] = np.array(_knapsack(values.tolist(), weights.tolist(), capacity), dtype=np.int64)
        else:
            for n, chosen in zip(group, _knapsack_block([problems[n] for n in group])):
                out[n] = chosen
        start = end
    return out


def _knapsack_block(problems: list[tuple[np.ndarray, np.ndarray, int]]) -> list[np.ndarray]:
    """:func:`_knapsacks` of one group held in one choice table."""
    block = len(problems)
    steps = max(len(v) for v, _, _ in problems)
    capacity = np.array([c for _, _, c in problems], dtype=np.int64)
    width = int(capacity.max()) + 1
    values = np.zeros((block, steps))
    weights = np.full((block, steps), width, dtype=np.int64)  # longer than any day: skipped
    for b, (v, w, _) in enumerate(problems):
        values[b, :len(v)] = v
        weights[b, :len(w)] = w
    weights[weights > capacity[:, None]] = width
    best = np.zeros((block, width))
    take = np.zeros((block, steps, width), dtype=bool)
    spans = np.arange(width)
    members = np.arange(block)[:, None]
    for i in range(steps):
        w = weights[:, i]
        active = w < width
        if not active.any():
            continue
        source = spans - w[:, None]  # the capacity left before taking the item
        ok = (source >= 0) & active[:, None]
        candidate = np.where(ok, best[members, np.maximum(source, 0)] + values[:, i, None], -np.inf)
        better = candidate > best + 1e-12
        take[:, i] = better
        best = np.where(better, candidate, best)
    # Back from each member's full day: an item taken at the capacity left is in the pack.
    left = capacity.copy()
    chosen = np.zeros((block, steps), dtype=bool)
    rows = np.arange(block)
    for i in range(steps - 1, -1, -1):
        took = take[rows, i, left]
        chosen[:, i] = took
        left -= np.where(took, weights[:, i], 0)
    return [np.flatnonzero(chosen[b, :len(v)]) for b, (v, _, _) in enumerate(problems)]
