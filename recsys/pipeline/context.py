"""What the pipeline knows while planning one member's day, and the candidates it weighs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from recsys.catalogue import Catalogue
from recsys.curriculum import Curriculum
from recsys.embedding.index import VectorIndex
from recsys.pipeline.collaborative import CollaborativeModel
from recsys.pipeline.profile import Profile, build_profile
from recsys.records import Event, Item, Member

if TYPE_CHECKING:
    from recsys.models.ranking import RankingModel

__all__ = ["PlanContext", "Pool", "BranchCounts", "rules_context"]


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
        held_back: Items kept for a later day of the same path (a day whose list the member was
            already given): not placed on this day, and not done either (an item requiring one
            of them waits for it).
        recent_topics: Topics of the previous path day (rotated away from).
        prep_targets: Offline activities ahead that online items may prepare for.
        duplicate_threshold: Cosine at or above which two items are the same content.
        collaborative: What every member of the store completes (co-completion and role-aware
            popularity), or None to go without.
        ranking: The store's trained ranking model (EASE^R, iALS, the learned blend; see
            :mod:`recsys.models.ranking`), or None: the hand-set blend without those scores.
        static_rules: The codes of the rules that read no history for the whole catalogue,
            ``static_rules(ctx, for_day)``, shared by members planned on the same day with the
            same seats (a :class:`recsys.pipeline.masks.StaticRules`); None computes them per
            member for the rows asked.
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
    held_back: frozenset[str] = frozenset()
    recent_topics: frozenset[str] = frozenset()
    prep_targets: tuple[Item, ...] = ()
    duplicate_threshold: float = 0.95
    upcoming_days: int = 14
    collaborative: CollaborativeModel | None = None
    ranking: RankingModel | None = None
    static_rules: Callable[[PlanContext, bool], np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.branch_counts = BranchCounts.of(self.branch_counts)

    @property
    def done(self) -> set[str]:
        """Items completed, or placed earlier in the path."""
        return set(self.profile.history.completed) | set(self.planned)


class BranchCounts(Mapping[str, int]):
    """A branch's recent completions per item (:attr:`PlanContext.branch_counts`), with what
    planning reads of them by catalogue row worked out once per catalogue: the members of a
    branch planned in one batch block share one of these, and looking a few hundred ids up again
    for each member cost about half a millisecond a list (``evaluation/list_costs.py``)."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts: dict[str, int] | None = dict(counts)
        self._pairs: tuple[Sequence[str], np.ndarray] | None = None
        self._by_row: tuple[object, np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> BranchCounts:
        return counts if isinstance(counts, cls) else cls(counts)

    @classmethod
    def with_rows(cls, ids: Sequence[str], counts: np.ndarray, cols, rows: np.ndarray) -> BranchCounts:
        """The counts of ``ids`` whose rows in ``cols`` are known (``rows``: -1 for an id not in
        the catalogue); the mapping is built only if it is read."""
        found = cls({})
        found._counts, found._pairs = None, (ids, counts)
        found._by_row = _by_row(cols, rows, counts)
        return found

    @property
    def _mapping(self) -> dict[str, int]:
        if self._counts is None:
            ids, counts = self._pairs
            self._counts = dict(zip(ids, counts.tolist()))
        return self._counts

    def __getitem__(self, item: str) -> int:
        return self._mapping[item]

    def __iter__(self):
        return iter(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping) if self._pairs is None else len(self._pairs[0])

    def _by(self, cols) -> tuple[object, np.ndarray, np.ndarray]:
        """``(cols, counts by row, rows most completed first)``, kept for the last catalogue."""
        found = self._by_row
        if found is None or found[0] is not cols:
            found = self._by_row = _by_row(cols, *cols.lookup(self._mapping))
        return found

    def column(self, cols) -> np.ndarray:
        """The counts by catalogue row (0 for items nobody in the branch completed); read only."""
        return self._by(cols)[1]

    def most_completed(self, cols, n: int) -> np.ndarray:
        """The catalogue rows of the ``n`` most completed items, most first (ties in the
        mapping's order), less those no longer in the catalogue."""
        top = self._by(cols)[2][:n]
        return top[top >= 0]


def _by_row(cols, at: np.ndarray, values: np.ndarray) -> tuple[object, np.ndarray, np.ndarray]:
    """:meth:`BranchCounts._by` from each counted item's row (-1: not in the catalogue) and count."""
    column = np.zeros(len(cols))
    column[at[at >= 0]] = values[at >= 0]
    # Counter.most_common's order: most first, ties in the mapping's order.
    return cols, column, at[np.argsort(-values, kind="stable")]


@dataclass
class Pool:
    """The items under consideration, as columns: catalogue rows and what each step found out
    about them, one array entry per candidate.

    Attributes:
        rows: Catalogue rows (see :attr:`recsys.catalogue.Catalogue.columns`), distinct.
        rank: Best position in any retrieval that found the item (0 for sources taken whole).
        score: The items' scores, once scored (the re-ranker lowers them by what they repeat).
        signals: Per-candidate arrays the scorer computed (the blend's inputs and what the
            reasons read).
        vectors: The candidates' vectors, once a step has read them from the catalogue (the
            later steps read the same rows again otherwise); read them with
            :meth:`read_vectors`, since after a cut they are a larger matrix whose rows
            ``vector_at`` names.
        vector_at: Which rows of ``vectors`` are this pool's, in order (None: all of them). A
            cut composes positions instead of copying vectors: a pool is cut several times
            between scoring and packing, and only the first rows are read again.
    """

    rows: np.ndarray
    rank: np.ndarray
    score: np.ndarray | None = None
    signals: Mapping[str, np.ndarray] = field(default_factory=dict)
    vectors: np.ndarray | None = None
    vector_at: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Pool:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, which: np.ndarray) -> Pool:
        """The candidates at positions (or where a boolean mask is True) ``which``, in that order."""
        vector_at = None
        if self.vectors is not None:
            vector_at = (np.arange(len(self.rows)) if self.vector_at is None else self.vector_at)[which]
        return Pool(self.rows[which], self.rank[which], None if self.score is None else self.score[which],
                    Signals.of(self.signals, len(self.rows)).take(which) if self.signals else {},
                    self.vectors, vector_at)

    def read_vectors(self, ctx: PlanContext) -> np.ndarray:
        """The candidates' vectors in order: read from the catalogue if no step has yet, gathered
        from a larger matrix after a cut; kept either way."""
        if self.vectors is None:
            self.vectors = ctx.items.vectors(self.rows)
        elif self.vector_at is not None:
            self.vectors, self.vector_at = self.vectors[self.vector_at], None
        return self.vectors

    def products(self, ctx: PlanContext, queries: np.ndarray) -> np.ndarray:
        """``read_vectors(ctx) @ queries.T``, without gathering the vectors after a cut: the
        product is taken over the larger matrix read before and its rows picked (a few columns
        copied instead of every dimension of every candidate)."""
        if self.vectors is not None and self.vector_at is not None and len(self.vector_at) * 2 > len(self.vectors):
            return (self.vectors @ queries.T)[self.vector_at]
        return self.read_vectors(ctx) @ queries.T

    def items(self, ctx: PlanContext) -> list[Item]:
        """The candidates' items, in order."""
        return ctx.items.at(self.rows)


class Signals(Mapping[str, np.ndarray]):
    """The scorer's per-candidate arrays, read through the candidates' positions since: a pool is
    cut and reordered several times after scoring (re-ranking, packing) but only the few items a
    list ends up with have their signals read, so a cut composes positions and copies nothing."""

    def __init__(self, arrays: Mapping[str, np.ndarray], at: np.ndarray) -> None:
        self._arrays = arrays
        self._at = at
        self._read: dict[str, np.ndarray] = {}

    @classmethod
    def of(cls, signals: Mapping[str, np.ndarray], n: int) -> Signals:
        return signals if isinstance(signals, Signals) else cls(signals, np.arange(n))

    def take(self, which) -> Signals:
        return Signals(self._arrays, self._at[which])

    def __getitem__(self, name: str) -> np.ndarray:
        found = self._read.get(name)
        if found is None:
            found = self._read[name] = self._arrays[name][self._at]
        return found

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


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
    the member's history and reviews due, but no profile vectors, hours, branch activity or
    collaborative model. A check of what can reach a member (search filters, coverage, the
    activities a path may prepare for) costs a fraction of planning a list. It cannot be scored.
    """
    profile = build_profile(member, day, events, items, items.vectors_of, _no_queries, curriculum, vectors=False)
    return PlanContext(
        profile=profile, day=day, budget=member.daily_minutes if budget is None else budget, items=items,
        index=index, curriculum=curriculum, encode_queries=_no_queries, seats_taken=seats_taken,
        planned=planned, duplicate_threshold=duplicate_threshold,
    )
