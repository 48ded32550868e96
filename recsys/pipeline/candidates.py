"""Candidate selection: where the items a list is made from come from."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np

from recsys.pipeline.component import Component
from recsys.pipeline.context import Candidate, PlanContext

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
    """

    per_query: int = 100
    fresh_days: int = 30
    popular: int = 50
    related: int = 100
    role_popular: int = 50


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

    def __call__(self, ctx: PlanContext) -> dict[str, Candidate]:
        cfg = self.config
        p = ctx.profile
        out: dict[str, Candidate] = {}

        catalogue = ctx.items.items  # the plain mapping: this runs for thousands of ids a request

        def add(item_id: str, source: str, rank: int = 0) -> None:
            item = catalogue.get(item_id)
            if item is not None:
                c = out.get(item_id)
                if c is None:
                    c = out[item_id] = Candidate(item, rank=rank)
                c.sources.add(source)
                c.rank = min(c.rank, rank)

        behind = [t for t in p.policy.required if p.topic_gap(t)[1] > 0]
        queries = [(p.interests, "interest"), (p.stated, "stated"), (p.roles, "role")]
        if behind:
            queries.append((ctx.encode_queries(behind), "required"))
        queries = [(v, source) for v, source in queries if len(v)]
        if queries:
            # One search for every profile vector: one matrix product instead of one per source.
            hits, _ = ctx.index.search(np.concatenate([v for v, _ in queries]), cfg.per_query)
            sources = [source for v, source in queries for _ in range(len(v))]
            for source, row in zip(sources, hits):
                for rank, item_id in enumerate(row):
                    add(item_id, source, rank)
        items = ctx.items
        if len(items) <= 4 * cfg.per_query:
            # A small catalogue: every item is a candidate (cheaper than being clever).
            for item_id in items:
                add(item_id, "catalogue", cfg.per_query)
        fresh = items.published_between(ctx.day - dt.timedelta(days=cfg.fresh_days), ctx.day)
        for item_id in fresh[-cfg.per_query:]:  # the newest, in a catalogue that publishes a lot
            add(item_id, "fresh")
        for topic in behind:
            for rank, item_id in enumerate(items.by_topic.get(topic, ())[: cfg.per_query]):
                add(item_id, "required", rank)
        for item_id in items.offline_between(ctx.day, ctx.day + dt.timedelta(days=ctx.upcoming_days)):
            add(item_id, "offline")
        for item_id, _ in Counter(ctx.branch_counts).most_common(cfg.popular):
            add(item_id, "popular")
        model = ctx.collaborative
        if model is not None:
            positive = {i: w for i, w in p.history.interest.items() if w > 0}
            for rank, item_id in enumerate(model.related_top(positive, cfg.related, exclude=ctx.done)):
                add(item_id, "related", rank)
            for rank, item_id in enumerate(model.role_top(p.member.roles, cfg.role_popular)):
                add(item_id, "role_popular", rank)
        for item_id in p.history.started:
            add(item_id, "continue")
        if ctx.curriculum.mastery_feedback:
            for item_id, review in p.reviews.items():
                if review.due <= ctx.day:
                    add(item_id, "review")
        return out
