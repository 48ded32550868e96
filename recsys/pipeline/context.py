"""What the pipeline knows while planning one member's day, and the candidates it weighs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from recsys.catalogue import Catalogue
from recsys.curriculum import Curriculum
from recsys.embedding.index import VectorIndex
from recsys.pipeline.collaborative import CollaborativeModel
from recsys.pipeline.profile import Profile
from recsys.records import Item

__all__ = ["PlanContext", "Candidate"]


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
