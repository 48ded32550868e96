"""The recommender: runs the pipeline's components in order and writes the study list."""

from __future__ import annotations

import datetime as dt

import numpy as np
from threadpoolctl import ThreadpoolController

import recsys.pipeline.explain as explain
from recsys.pipeline.budget import BudgetFitter
from recsys.pipeline.candidates import CandidateSelector
from recsys.pipeline.context import PlanContext, Pool
from recsys.pipeline.diversity import MMRReranker
from recsys.pipeline.feasibility import FeasibilityFilter
from recsys.pipeline.masks import REASONS, hard_rules, reach_mask
from recsys.pipeline.scoring import Scorer
from recsys.results import StudyEntry, StudyList

__all__ = ["Recommender"]


class Recommender:
    """Runs the pipeline and turns its result into a :class:`StudyList` with reasons and notes."""

    def __init__(
        self,
        selector: CandidateSelector | None = None,
        filter_: FeasibilityFilter | None = None,
        scorer: Scorer | None = None,
        reranker: MMRReranker | None = None,
        fitter: BudgetFitter | None = None,
        max_reasons: int = 3,
    ) -> None:
        self.selector = selector or CandidateSelector()
        self.filter = filter_ or FeasibilityFilter()
        self.scorer = scorer or Scorer()
        self.reranker = reranker or MMRReranker()
        self.fitter = fitter or BudgetFitter()
        self.max_reasons = max_reasons
        self._threads: ThreadpoolController | None = None

    def __call__(self, ctx: PlanContext) -> StudyList:
        return self.many([ctx])[0]

    def many(self, ctxs: list[PlanContext]) -> list[StudyList]:
        """The lists of several members planned on one catalogue: their candidate searches are
        one matrix product (a list is the same whether planned alone or with others)."""
        with self._one_blas_thread():
            candidates = self.selector.many(ctxs)
            limit = self.scorer.config.max_scored
            feasible = [self.filter(ctx, pool, limit=limit) for ctx, pool in zip(ctxs, candidates)]
            ranked = [_fitting(ctx, self.scorer(ctx, pool)) for ctx, (pool, _) in zip(ctxs, feasible)]
            diverse = self.reranker.many(ctxs, ranked)
            picked = self.fitter.many(ctxs, diverse)
            return [self._plan(ctx, c, p) for ctx, c, p in zip(ctxs, candidates, picked)]

    def _one_blas_thread(self):
        """BLAS on one thread while planning. A list's matrix products are small: waking BLAS
        threads costs more than they save, and on busy cores (requests side by side, a batch
        beside the service) waiting for them was most of a request (``evaluation/list_costs.py``
        measured p50 three times lower with one thread on two busy cores)."""
        if self._threads is None:
            self._threads = ThreadpoolController()  # inspects the loaded libraries: once, not per call
        return self._threads.limit(limits=1, user_api="blas")

    def _plan(self, ctx: PlanContext, candidates: Pool, picked: Pool) -> StudyList:
        """The list from what the block's steps found for the member and packed into the day:
        explained, with the activities ahead and a note when it is empty."""
        entries = []
        said: set[str] = set()
        for item, score, reasons, review in zip(picked.items(ctx), picked.score.tolist(),
                                                self.scorer.reasons(ctx, picked), picked.signals.get("review", ())):
            texts = tuple(dict.fromkeys(t for _, t in sorted(reasons, key=lambda r: -r[0])))
            # A reason an entry above already gave is not repeated ("安排一个案例" on every case
            # of a long day, the same required topic's hours three times), unless it is all there is.
            texts = tuple(t for t in texts if t not in said) or texts[:1]
            said.update(texts[: self.max_reasons])
            entries.append(StudyEntry(item=item, score=round(float(score), 6), reasons=texts[: self.max_reasons],
                                      review=bool(review)))
        entries = tuple(entries)
        upcoming = self._upcoming(ctx, candidates, picked.rows)
        notes = [self._empty_note(ctx)] if not entries else []
        return StudyList(
            member=ctx.profile.member.id, day=ctx.day, budget=ctx.budget,
            entries=entries, upcoming=upcoming, notes=tuple(notes),
        )

    def from_ranking(self, ctx: PlanContext, rows: np.ndarray, scores: np.ndarray) -> StudyList:
        """The day's list from an outside ranking, under the same guarantees as :meth:`__call__`.

        The outside scores replace the engine's ranking, nothing else: the hard rules and the
        near-duplicate check drop what may not be shown, the budget fitter packs the day by the
        outside scores, and the entries carry the engine's reasons for what they are (the
        scorer runs only for its signals, and for the cap on reviews a day). No search and no
        diversity re-ranking: the order is the outside ranking's.

        Args:
            ctx: The planning context.
            rows: Distinct catalogue rows the outside ranking scored.
            scores: One score per row, higher first.
        """
        rows = np.asarray(rows, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        cols = ctx.items.columns
        with self._one_blas_thread():
            # The outside order is the retrieval rank: a scorer cutting at ``max_scored`` keeps its best.
            order = np.lexsort((cols.id_rank[rows], -scores))
            candidates = Pool(rows[order], np.arange(len(rows), dtype=np.int64))
            feasible, _ = self.filter(ctx, candidates)
            scored = self.scorer(ctx, feasible)
            by_row = np.zeros(len(cols))
            by_row[rows] = scores
            scored.score = by_row[scored.rows]
            ranked = scored.take(np.lexsort((cols.id_rank[scored.rows], -scored.score)))
            return self._plan(ctx, candidates, self.fitter(ctx, ranked))

    def _empty_note(self, ctx: PlanContext) -> str:
        """Why a list is empty, from the whole catalogue (an empty list is rare; the search's
        candidates alone can miss what is open). "Less time than the shortest item" only when an
        online item is open but longer than the day; "all studied" when every online item the
        member's record lets them take, published and not expired, is completed (or the same
        content as a completed one), whatever offline activities remain, and there is such an
        item (before anything is published, nothing is left to study but nothing was studied)."""
        cols = ctx.items.columns
        every = Pool(np.arange(len(cols), dtype=np.int64), np.zeros(len(cols), dtype=np.int64))
        open_, _ = self.filter(ctx, every)
        online = open_.rows[~cols.offline[open_.rows]]
        if len(online):
            shortest = int(cols.minutes[online].min())
            return explain.empty_budget(ctx.budget, shortest) if shortest > ctx.budget else explain.empty_nothing()
        codes = hard_rules(ctx)
        live = ~np.isin(codes, [REASONS.index(r) for r in ("unpublished", "expired", "situation")])
        could = ~cols.offline & live & reach_mask(cols, ctx.profile.member) & ctx.items.indexed
        # Open by the rules but not by the filter: the same content as something completed
        # (studied), or as something disliked or cooling down (left, not today).
        closed = np.flatnonzero(could & (codes == 0))
        closed = closed[~np.isin(closed, open_.rows)]
        codes[closed] = self.filter.same_content(ctx, closed)
        left = could & (codes != REASONS.index("completed"))
        # Nothing the member could take at all (nothing published yet, say) is not "all studied".
        return explain.empty_done() if could.any() and not left.any() else explain.empty_nothing()

    def rank(self, ctx: PlanContext, k: int) -> Pool:
        """The ``k`` best feasible candidates that fit the day, before packing, best first."""
        with self._one_blas_thread():
            feasible, _ = self.filter(ctx, self.selector(ctx), limit=self.scorer.config.max_scored)
            ranked = self.reranker(ctx, _fitting(ctx, self.scorer(ctx, feasible)), keep=max(k, self.reranker.config.keep))
        return ranked.take(slice(0, k))

    def _upcoming(self, ctx: PlanContext, candidates: Pool, picked: np.ndarray,
                  most: int = 3) -> tuple[StudyEntry, ...]:
        """Offline activities in the next days that the member could attend and enrol in, and
        those the member enrolled in taking place today that the day's minutes could not hold (an
        activity the member signed up for is never left out of the day it happens)."""
        last = ctx.day + dt.timedelta(days=ctx.upcoming_days)
        found = []
        cols = ctx.items.columns
        rows = candidates.rows[cols.offline[candidates.rows]]
        rows = rows[hard_rules(ctx, rows, for_day=False) == 0]
        listed = np.zeros(len(cols), dtype=bool)  # a flag per row: cheaper than np.isin's sort
        listed[picked] = True
        rows = rows[~listed[rows]]
        enrolled = ctx.profile.history.enrolled
        # Only activities on the day (enrolled) or starting in the days ahead: dates by column.
        day, starts = ctx.day.toordinal(), cols.starts_day[rows]
        today = cols.flag(enrolled)[rows] & (starts <= day) & (day <= cols.ends_day[rows])
        rows = rows[today | ((day < starts) & (starts <= last.toordinal()))]
        for it in ctx.items.at(rows):
            first, held_last = it.schedule.days
            if it.id in enrolled and first <= ctx.day <= held_last:
                found.append((it.schedule.starts, it.id, StudyEntry(it, 0.0, (explain.enrolled_today(it, ctx.day),))))
            elif ctx.day < first <= last:
                seats = None
                if it.schedule.capacity is not None:
                    seats = it.schedule.capacity - ctx.seats_taken.get(it.id, 0)
                reason = explain.enrolled(it) if it.id in ctx.profile.history.enrolled else explain.offline_upcoming(it, seats)
                found.append((it.schedule.starts, it.id, StudyEntry(it, 0.0, (reason,))))
        return tuple(e for _, _, e in sorted(found, key=lambda f: (f[0], f[1]))[:most])


def _fitting(ctx: PlanContext, ranked: Pool) -> Pool:
    """The ranked candidates no longer than the day's minutes, in their order. What cannot fit is
    dropped before the diversity re-ranking, not after it: the re-ranking keeps a few dozen, and
    on a short day those could all be longer than the day while short items went unchosen (a
    five-minute day came out empty beside a hundred five-minute quizzes).

    A day holds one offline activity (:class:`BudgetFitter`). When it is one the member enrolled
    in that is longer than the day, it is shown with the activities ahead, and no other activity
    takes its place in the list."""
    cols = ctx.items.columns
    rows = ranked.rows
    keep = cols.minutes[rows] <= ctx.budget
    offline = cols.offline[rows]
    if (offline & ~keep & cols.flag(ctx.profile.history.enrolled)[rows]).any():
        keep &= ~offline
    return ranked.take(keep)
