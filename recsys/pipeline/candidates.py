"""Candidate selection: where the items a list is made from come from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from recsys.pipeline.component import Component
from recsys.pipeline.context import PlanContext, Pool

__all__ = ["CandidateSelector", "CandidateConfig"]


@dataclass(frozen=True)
class CandidateConfig:
    """Settings of :class:`CandidateSelector`.

    Attributes:
        per_query: Nearest items fetched per profile vector.
        fresh_days: Items published this recently are candidates whatever the profile.
        popular: Most popular branch items taken.
        related: Most co-completed items taken (see :mod:`recsys.pipeline.collaborative`).
        role_popular: Most completed items among the member's roles taken.
        trained: Best EASE^R items and best iALS items taken each, when the store has a trained
            ranking model (see :mod:`recsys.models.ranking`).
    """

    per_query: int = 100
    fresh_days: int = 30
    popular: int = 50
    related: int = 100
    role_popular: int = 50
    trained: int = 100


class CandidateSelector(Component[CandidateConfig]):
    """Gathers candidates from the index and from non-personalised sources.

    Personalised: nearest items to each interest centroid, each stated interest, each role
    description, and each required topic behind pace; the items other members most often
    completed together with the member's history; the items most completed by members holding
    the member's roles. Non-personalised: newly published items, items popular in the member's
    branch, offline activities that day, items started but not finished.

    Settings: :class:`CandidateConfig`.
    """

    config_class = CandidateConfig

    def __call__(self, ctx: PlanContext, hits: np.ndarray | None = None) -> Pool:
        """The member's candidates; ``hits`` are the nearest rows to :meth:`queries`, if
        already searched (see :meth:`many`)."""
        cfg = self.config
        p = ctx.profile
        items = ctx.items
        cols = items.columns
        found: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, ranks) per source

        def add(rows, ranks=0) -> None:
            rows = np.asarray(rows, dtype=np.int64).ravel()
            found.append((rows, np.broadcast_to(np.asarray(ranks, dtype=np.int64).ravel(), rows.shape)))

        def add_ids(ids, ranked: bool = False) -> None:
            ids = list(ids)
            row = cols.row
            at = [(n, row[i]) for n, i in enumerate(ids) if i in row]
            add([r for _, r in at], [n for n, _ in at] if ranked else 0)

        behind = _behind(ctx)
        if hits is None:
            hits = self.search(ctx, [self.queries(ctx)])[0]
        ranks = np.broadcast_to(np.arange(hits.shape[1]), hits.shape)
        add(hits[hits >= 0], ranks[hits >= 0])
        if len(items) <= 4 * cfg.per_query:
            # A small catalogue: every item is a candidate (cheaper than being clever).
            add(np.arange(len(cols)), cfg.per_query)
        fresh = items.published_rows_between(ctx.day - dt.timedelta(days=cfg.fresh_days), ctx.day)
        add(fresh[-cfg.per_query:])  # the newest, in a catalogue that publishes a lot
        for topic in behind:
            on_topic = items.topic_rows(topic)[: cfg.per_query]
            add(on_topic, np.arange(len(on_topic)))
        add(items.offline_rows_between(ctx.day, ctx.day + dt.timedelta(days=ctx.upcoming_days)))
        if ctx.branch_counts:
            add(ctx.branch_counts.most_completed(cols, cfg.popular))
        model = ctx.collaborative
        if model is not None:
            positive = {i: w for i, w in p.history.interest.items() if w > 0}
            done = model.positions(list(ctx.done))
            related = model.rows(cols.ids, model.related_top_at(positive, cfg.related, done[done >= 0]))
            add(related[related >= 0], np.flatnonzero(related >= 0))
            popular = model.rows(cols.ids, model.role_top_at(p.member.roles, cfg.role_popular))
            add(popular[popular >= 0], np.flatnonzero(popular >= 0))
        ranking = ctx.ranking
        if ranking is not None:
            positive = {i: w for i, w in p.history.interest.items() if w > 0}
            collab = ranking.collaborative
            done = collab.positions(list(ctx.done))
            top = collab.rows(cols.ids, ranking.top_at(positive, cfg.trained, done[done >= 0]))
            add(top[top >= 0], cfg.per_query // 2)
        add_ids(p.history.started)
        if ctx.curriculum.mastery_feedback:
            add_ids(i for i, review in p.reviews.items() if review.due <= ctx.day)
        if not found:
            return Pool.empty()
        rows = np.concatenate([r for r, _ in found])
        ranks = np.concatenate([k for _, k in found])
        # Each item once, at its best rank.
        order = np.lexsort((ranks, rows))
        rows, ranks = rows[order], ranks[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        return Pool(rows[first], ranks[first])

    def queries(self, ctx: PlanContext) -> tuple[np.ndarray, np.ndarray]:
        """The profile's vectors to search with: interest centroids, stated interests, role
        descriptions, and the required topics behind pace; and which of them many members share
        (all but the interest centroids: texts of topics and roles)."""
        p = ctx.profile
        queries = [v for v in (p.interests, p.stated, p.roles) if len(v)]
        behind = _behind(ctx)
        if behind:
            queries.append(ctx.encode_queries(behind))
        if not queries:
            return np.zeros((0, ctx.items.dim), dtype=np.float32), np.zeros(0, dtype=bool)
        shared = np.ones(sum(len(q) for q in queries), dtype=bool)
        shared[: len(p.interests)] = False
        return np.concatenate(queries), shared

    def search(self, ctx: PlanContext, queries: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """The nearest catalogue rows to each member's queries, for all members in one search
        (members planned together share one catalogue; shared queries are searched once)."""
        sizes = [len(q) for q, _ in queries]
        if not sum(sizes):
            return [np.zeros((n, 0), dtype=np.int64) for n in sizes]
        hits = ctx.items.nearest(np.concatenate([q for q, _ in queries if len(q)]), self.config.per_query,
                                 shared=np.concatenate([s for q, s in queries if len(q)]))
        return np.split(hits, np.cumsum(sizes)[:-1])

    def many(self, ctxs: list[PlanContext]) -> list[Pool]:
        """:meth:`__call__` for several members, their searches made as one."""
        if not ctxs:
            return []
        hits = self.search(ctxs[0], [self.queries(c) for c in ctxs])
        return [self(c, h) for c, h in zip(ctxs, hits)]


def _behind(ctx: PlanContext) -> list[str]:
    """The required topics in which the member has hours left this year."""
    p = ctx.profile
    return [t for t in p.policy.required if p.topic_gap(t)[1] > 0]
