"""What the pipeline knows while planning one member's day, and the candidates it weighs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from recsys.catalogue import Catalogue
from recsys.curriculum import Curriculum
from recsys.embedding.index import VectorIndex
from recsys.pipeline.collaborative import CollaborativeModel
from recsys.pipeline.profile import Profile, build_profile
from recsys.records import Event, Item, Member

__all__ = ["PlanContext", "Candidate", "rules_context"]


@dataclass
class PlanContext:
    """What the pipeline knows while planning one member's day.

    Attributes:
        profile: The member's profile for the day.
        day: The day planned.
        budget: Minutes available.
        items: The catalogue by id.
        index: The vector index (for candidate search and item vectors).
        curriculum: The curriculum policy.
        encode_queries: Embeds short texts on the query side.
        seats_taken: Enrolments so far per offline item.
        branch_counts: Completions per item by members of the member's branch, recently.
        branch_active: How many members of the branch completed anything recently.
        planned: Items placed on earlier days of the same path (count as done).
        recent_topics: Topics of the previous path day (rotated away from).
        prep_targets: Offline activities ahead that online items may prepare for.
        duplicate_threshold: Cosine at or above which two items are the same content.
        collaborative: What every member of the store completes (co-completion and role-aware
            popularity), or None to go without.
    """

    profile: Profile
    day: dt.date
    budget: int
    items: Catalogue
    index: VectorIndex
    curriculum: Curriculum
    encode_queries: Callable[[list[str]], np.ndarray]
    seats_taken: Mapping[str, int] = field(default_factory=dict)
    branch_counts: Mapping[str, int] = field(default_factory=dict)
    branch_active: int = 0
    planned: frozenset[str] = frozenset()
    recent_topics: frozenset[str] = frozenset()
    prep_targets: tuple[Item, ...] = ()
    duplicate_threshold: float = 0.95
    upcoming_days: int = 14
    collaborative: CollaborativeModel | None = None

    @property
    def done(self) -> set[str]:
        """Items completed, or placed earlier in the path."""
        return set(self.profile.history.completed) | set(self.planned)


@dataclass
class Candidate:
    """An item under consideration, with what each step found out about it."""

    item: Item
    sources: set[str] = field(default_factory=set)
    rank: int = 0  # best position in any retrieval that found it (0 for sources taken whole)
    vector: np.ndarray | None = None
    signals: dict[str, float] = field(default_factory=dict)
    reasons: list[tuple[float, str]] = field(default_factory=list)
    score: float = 0.0


def _no_queries(texts: list[str]) -> np.ndarray:
    raise RuntimeError("a rules-only context embeds nothing")  # pragma: no cover - never called


def rules_context(
    member: Member,
    day: dt.date,
    events: Sequence[Event],
    *,
    items: Catalogue,
    index: VectorIndex,
    curriculum: Curriculum,
    seats_taken: Mapping[str, int],
    duplicate_threshold: float,
    budget: int | None = None,
    planned: frozenset[str] = frozenset(),
) -> PlanContext:
    """A context holding only what the hard rules (:func:`recsys.pipeline.infeasibility`) read:
    the member's history, hours, mastery and reviews, but no profile vectors, branch activity or
    collaborative model. A check of what can reach a member (search filters, coverage, the
    activities a path may prepare for) costs a fraction of planning a list. It cannot be scored.
    """
    profile = build_profile(member, day, events, items, lambda _: None, _no_queries, curriculum, vectors=False)
    return PlanContext(
        profile=profile, day=day, budget=member.daily_minutes if budget is None else budget, items=items,
        index=index, curriculum=curriculum, encode_queries=_no_queries, seats_taken=seats_taken,
        planned=planned, duplicate_threshold=duplicate_threshold,
    )
