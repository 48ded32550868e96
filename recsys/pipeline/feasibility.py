"""The filter that enforces the hard rules on candidates."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np

from recsys.pipeline.context import PlanContext, Pool
from recsys.pipeline.masks import REASONS, hard_rules

__all__ = ["FeasibilityFilter"]

_COMPLETED, _COOLDOWN, _DISLIKED = (REASONS.index(r) for r in ("completed", "cooldown", "disliked"))
#: What the near-duplicate check counts a candidate under, by the rule its twin in the history breaks.
_SAME_AS = {_COMPLETED: "duplicate", _COOLDOWN: "cooldown", _DISLIKED: "disliked"}
#: The same by code, as :func:`_counted` reads names.
_SAME_NAMES = tuple(_SAME_AS.get(code, "") for code in range(len(REASONS)))


class FeasibilityFilter:
    """Drops every candidate that breaks a hard rule (see :func:`recsys.pipeline.infeasibility`,
    checked for all candidates at once by :func:`recsys.pipeline.masks.hard_rules`), and every
    candidate that is the same content (a near-duplicate, other id) as an item its member
    completed, disliked or has cooling down: a copy of yesterday's unopened article is as much
    a repeat as the article. Counts why things were dropped."""

    def __call__(self, ctx: PlanContext, pool: Pool, *, limit: int | None = None) -> tuple[Pool, Counter]:
        """The candidates that break no rule, and how many were dropped for each reason.

        With ``limit``, only the ``limit`` best by retrieval rank (ties by id) are kept: the
        ones a scorer that cuts there (:attr:`ScorerConfig.max_scored`) would read, found
        without comparing every other candidate with the member's history. Duplicates are then
        counted only among the candidates compared.
        """
        items = ctx.items
        cols = items.columns
        codes, twins, twin_codes = self._rules(ctx, pool.rows)
        indexed = items.indexed[pool.rows]
        dropped = _counted(codes, REASONS)
        if (missing := int(((codes == 0) & ~indexed).sum())):
            dropped["unindexed"] += missing
        kept = pool.take((codes == 0) & indexed)
        if limit is not None:
            kept = kept.take(np.lexsort((cols.id_rank[kept.rows], kept.rank)))
        if not len(kept) or not len(twins):
            return (kept if limit is None else kept.take(slice(0, limit))), dropped
        history = items.vectors(twins).T
        completed = cols.flag(ctx.profile.history.completed)
        step = len(kept) if limit is None else limit
        keep = np.zeros(len(kept), dtype=bool)
        read = []  # the vectors read, kept for the steps after (they read the same rows)
        start = 0
        while start < len(kept) and (limit is None or keep.sum() < limit):
            rows = kept.rows[start:start + step]
            read.append(items.vectors(rows))
            same = _same_as(read[-1], history, twin_codes, ctx.duplicate_threshold, completed[rows])
            keep[start:start + len(rows)] = same == 0
            dropped.update(_counted(same, _SAME_NAMES))
            start += len(rows)
            step = limit - int(keep.sum()) if limit is not None else step
        checked = kept.take(slice(0, start))
        checked.vectors = read[0] if len(read) == 1 else np.concatenate(read)
        kept = checked.take(np.flatnonzero(keep[:start]))
        return (kept if limit is None else kept.take(slice(0, limit))), dropped

    def same_content(self, ctx: PlanContext, rows: np.ndarray) -> np.ndarray:
        """For catalogue ``rows`` (indexed), the rule an item of the member's history that is the
        same content breaks (a code into :data:`~recsys.pipeline.masks.REASONS`: completed,
        cooldown or disliked), 0 where none is: why the filter drops a row the hard rules keep."""
        rows = np.asarray(rows, dtype=np.int64)
        _, twins, twin_codes = self._rules(ctx, rows[:0])
        if not len(rows) or not len(twins):
            return np.zeros(len(rows), dtype=np.int8)
        completed = ctx.items.columns.flag(ctx.profile.history.completed)
        return _same_as(ctx.items.vectors(rows), ctx.items.vectors(twins).T, twin_codes, ctx.duplicate_threshold,
                        completed[rows])

    @staticmethod
    def _rules(ctx: PlanContext, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hard rules' codes of ``rows``; and the member's history items whose near-duplicates
        the filter drops (indexed rows), with the code each passes on: completed (or placed
        earlier in the path), disliked, cooling down. One call of the rules for both."""
        items = ctx.items
        cols = items.columns
        h = ctx.profile.history
        # Only what was shown or skipped within the cool-down can be cooling down (the rules
        # decide; this only spares them a long history's older items).
        since = ctx.day - dt.timedelta(days=ctx.curriculum.cooldown_days)
        recent = cols.rows({i for seen in (h.shown, h.skipped) for i, d in seen.items() if d > since} | h.disliked)
        # The rows and the recent ones not among them, each once, by a flag per catalogue row
        # (cheaper than sorting for a union).
        flag = np.zeros(len(cols), dtype=np.int8)
        flag[rows] = 1
        checked = np.concatenate([rows, recent[flag[recent] == 0]])
        codes = hard_rules(ctx, checked)
        flag[checked] = codes
        recent_codes = flag[recent]
        codes = codes[:len(rows)]
        out = (recent_codes == _COOLDOWN) | (recent_codes == _DISLIKED)
        done = cols.rows(ctx.done)
        twins = np.concatenate([done, recent[out]])
        twin_codes = np.concatenate([np.full(len(done), _COMPLETED, dtype=np.int8), recent_codes[out]])
        indexed = items.indexed[twins]
        return codes, twins[indexed], twin_codes[indexed]


def _counted(codes: np.ndarray, names: tuple[str, ...]) -> Counter:
    """How many of ``codes`` are each non-zero code, by the code's name (by one count per code,
    not the sort of :func:`numpy.unique`: a member's few hundred candidates, every list)."""
    counts = np.bincount(codes.astype(np.intp), minlength=len(names))
    return Counter({names[c]: int(counts[c]) for c in np.flatnonzero(counts[1:]) + 1})


def _same_as(vectors: np.ndarray, history: np.ndarray, codes: np.ndarray, threshold: float,
             completed: np.ndarray) -> np.ndarray:
    """Per row of ``vectors``: the code of the history item (columns of ``history``) it is most
    alike, if at or above ``threshold``, else 0. A completed row is a due review, which repeats a
    completed item on purpose: it is the same content as nothing."""
    sims = vectors @ history
    best = sims.argmax(axis=1)
    same = (sims[np.arange(len(sims)), best] >= threshold) & ~completed
    return np.where(same, codes[best], 0).astype(np.int8)
