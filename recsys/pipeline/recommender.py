"""The recommender: runs the pipeline's components in order and writes the study list."""

from __future__ import annotations

import datetime as dt

import recsys.pipeline.explain as explain
from recsys.pipeline.budget import BudgetFitter
from recsys.pipeline.candidates import CandidateSelector
from recsys.pipeline.context import Candidate, PlanContext
from recsys.pipeline.diversity import MMRReranker
from recsys.pipeline.feasibility import FeasibilityFilter
from recsys.pipeline.masks import hard_rules
from recsys.pipeline.scoring import Scorer
from recsys.records import TZ
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

    def __call__(self, ctx: PlanContext) -> StudyList:
        candidates = self.selector(ctx)
        feasible, dropped = self.filter(ctx, candidates)
        ranked = self.scorer(ctx, feasible)
        diverse = self.reranker(ctx, ranked)
        picked = self.fitter(ctx, diverse)
        entries = tuple(
            StudyEntry(
                item=c.item,
                score=round(c.score, 6),
                reasons=tuple(dict.fromkeys(t for _, t in sorted(c.reasons, key=lambda r: -r[0])))[: self.max_reasons],
                review="review" in c.signals,
            )
            for c in picked
        )
        upcoming = self._upcoming(ctx, candidates)
        notes: list[str] = []
        if not entries:
            if not feasible:
                done_all = len(ctx.done) >= len(ctx.items) or dropped.keys() <= {"completed", "duplicate"}
                notes.append(explain.empty_done() if done_all else explain.empty_nothing())
            else:
                shortest = min(c.item.minutes for c in feasible.values())
                notes.append(explain.empty_budget(ctx.budget, shortest) if shortest > ctx.budget else explain.empty_nothing())
        return StudyList(
            member=ctx.profile.member.id, day=ctx.day, budget=ctx.budget,
            entries=entries, upcoming=upcoming, notes=tuple(notes),
        )

    def _upcoming(self, ctx: PlanContext, candidates: dict[str, Candidate], most: int = 3) -> tuple[StudyEntry, ...]:
        """Offline activities in the next days that the member could attend and enrol in."""
        last = ctx.day + dt.timedelta(days=ctx.upcoming_days)
        found = []
        known = ctx.items.columns.row
        offline = [c.item for c in candidates.values() if c.item.mode == "offline" and c.item.id in known]
        codes = hard_rules(ctx, ctx.items.columns.rows(it.id for it in offline), for_day=False).tolist()
        for it, code in zip(offline, codes):
            if code:
                continue
            first = it.schedule.starts.astimezone(TZ).date()
            if ctx.day < first <= last:
                seats = None
                if it.schedule.capacity is not None:
                    seats = it.schedule.capacity - ctx.seats_taken.get(it.id, 0)
                reason = explain.enrolled(it) if it.id in ctx.profile.history.enrolled else explain.offline_upcoming(it, seats)
                found.append((it.schedule.starts, it.id, StudyEntry(it, 0.0, (reason,))))
        return tuple(e for _, _, e in sorted(found, key=lambda f: (f[0], f[1]))[:most])
