"""What the engine knows of a member on a given day: history, hours, mastery and interests.

A :class:`Profile` is not one averaged vector. Positive history (completed, well rated, well
scored items; recent ones weigh more) is clustered into up to three interest centroids, so a
secretary who studies both discipline cases and safety keeps both interests rather than their
midpoint; skipped and disliked items form a separate vector that pushes away; stated interests
and the role descriptions give a member with no history a sensible start.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from recsys.credits import OpeningBalance
from recsys.curriculum import Curriculum, MemberPolicy
from recsys.learning.ledger import due_from, item_hours, year_fraction
from recsys.learning.mastery import ReviewDue, TopicMastery, estimate_mastery, review_schedule
from recsys.records import TZ, Event, Item, Member

__all__ = ["History", "Profile", "build_history", "build_profile", "day_end"]

#: Signed weights of events as evidence of interest.
_EVENT_WEIGHT = {"complete": 1.0, "attend": 1.0, "start": 0.2, "progress": 0.3, "enroll": 0.3,
                 "skip": -0.5, "dislike": -1.0}
#: A progress event at or past this fraction counts as completing the item.
COMPLETE_PROGRESS = 0.95
#: Half-life in days of the interest weight of past events.
HALF_LIFE_DAYS = 60.0
#: Most interest centroids kept per member.
MAX_INTERESTS = 3


def day_end(day: dt.date) -> dt.datetime:
    """The end of ``day`` in Shanghai time: a day's list sees the events before it."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)


@dataclass
class History:
    """A member's events, digested.

    Attributes:
        completed: Item id to the time it was first completed (attended, or its quiz taken).
        started: Items started but not completed.
        started_today: Those of them started (or moved on) on the day planned for.
        shown: Item id to the last day it was shown (impressions before the current day).
        skipped: Item id to the last day it was skipped.
        disliked: Items the member disliked: never shown again.
        enrolled: Offline activities the member enrolled in.
        interest: Item id to a signed, time-decayed interest weight.
        quiz: Item id to the last quiz score.
        ratings: Item id to the last rating.
    """

    completed: dict[str, dt.datetime] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    started_today: set[str] = field(default_factory=set)
    shown: dict[str, dt.date] = field(default_factory=dict)
    skipped: dict[str, dt.date] = field(default_factory=dict)
    disliked: set[str] = field(default_factory=set)
    enrolled: set[str] = field(default_factory=set)
    interest: dict[str, float] = field(default_factory=dict)
    quiz: dict[str, float] = field(default_factory=dict)
    ratings: dict[str, float] = field(default_factory=dict)


def build_history(events: Sequence[Event], day: dt.date, *, interest: bool = True) -> History:
    """Digest a member's events up to the end of ``day`` (later events are ignored).

    ``interest=False`` leaves :attr:`History.interest` empty: the hard rules do not read it, and
    its time decay is most of the cost of a long history."""
    end = day_end(day)
    start_of_day = end - dt.timedelta(days=1)
    h = History()
    weights: dict[str, float] = defaultdict(float)
    for e in events:
        if e.at >= end:
            continue
        kind, item = e.kind, e.item
        # Taking a quiz is doing it: a quiz event completes the quiz item.
        done = kind in ("complete", "attend", "quiz") or (kind == "progress" and (e.value or 0) >= COMPLETE_PROGRESS)
        if done:
            h.completed.setdefault(item, e.at)
            h.started.discard(item)
            h.started_today.discard(item)
        elif kind in ("start", "progress") and item not in h.completed:
            h.started.add(item)
            if e.at >= start_of_day:
                h.started_today.add(item)
        if kind == "impression" and e.at < start_of_day:
            # Today's impressions do not cool today's list down: asking again after new events
            # must be able to keep the items already shown today.
            h.shown[item] = e.at.astimezone(TZ).date()
        elif kind == "skip":
            h.skipped[item] = e.at.astimezone(TZ).date()
        elif kind == "dislike":
            h.disliked.add(item)
        elif kind == "enroll":
            if e.value == 0:  # a withdrawal: the seat is given back
                h.enrolled.discard(item)
            else:
                h.enrolled.add(item)
        elif kind == "quiz" and e.value is not None:
            h.quiz[item] = e.value
        elif kind == "rate" and e.value is not None:
            h.ratings[item] = e.value
        if not interest:
            continue
        weight = _EVENT_WEIGHT.get(kind, 0.0)
        if kind == "rate" and e.value is not None:
            weight = (e.value - 3.0) / 2.0  # 5 stars pull, 1 star pushes
        elif kind == "quiz" and e.value is not None:
            weight = e.value - 0.5
        age = max((end - e.at).total_seconds() / 86400.0, 0.0)
        weights[item] += weight * 0.5 ** (age / HALF_LIFE_DAYS)
    h.interest = dict(weights)
    return h


@dataclass
class Profile:
    """Everything the ranker uses about one member on one day.

    Attributes:
        interests: Interest centroids from positive history, ``(k, dim)``, possibly empty.
        interest_anchor: For each centroid, the history item closest to it (for explanations).
        negative: The centroid of pushed-away items, or None.
        stated: Vectors of the member's stated interests, ``(n, dim)``.
        roles: Vectors of the member's role descriptions, ``(n, dim)``.
        hours: Hours studied this year by topic (an item's hours split over its topics).
        total_hours: Hours studied this year.
        mastery: Highest level completed per topic.
        last_case: When the member last completed a case study.
        estimates: The quiz-based mastery estimate per topic quizzed (see :mod:`recsys.learning.mastery`).
        reviews: Quiz items scored below the review threshold, with the day each may come back.
    """

    member: Member
    day: dt.date
    policy: MemberPolicy
    history: History
    interests: np.ndarray
    interest_anchor: list[str]
    negative: np.ndarray | None
    stated: np.ndarray
    roles: np.ndarray
    hours: dict[str, float]
    total_hours: float
    mastery: dict[str, int]
    last_case: dt.date | None
    estimates: dict[str, TopicMastery] = field(default_factory=dict)
    reviews: dict[str, ReviewDue] = field(default_factory=dict)

    def year_fraction(self) -> float:
        """How far through the year ``day`` is (1 on 31 December), counted from the member's
        joining day in the year they joined, as their learning record counts the pace."""
        return year_fraction(self.day, due_from(self.member, self.day))

    def topic_gap(self, topic: str) -> tuple[float, float]:
        """``(behind_pace, remaining)`` hours for a required topic this year (0, 0 if not required)."""
        target = self.policy.topic_target(topic)
        if target <= 0:
            return 0.0, 0.0
        done = self.hours.get(topic, 0.0)
        return max(0.0, target * self.year_fraction() - done), max(0.0, target - done)


def build_profile(
    member: Member,
    day: dt.date,
    events: Sequence[Event],
    items: Mapping[str, Item],
    vectors_of: Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]],
    encode_queries: Callable[[list[str]], np.ndarray],
    curriculum: Curriculum,
    *,
    vectors: bool = True,
    opening: Sequence[OpeningBalance] = (),
) -> Profile:
    """Build a member's profile for ``day``.

    Args:
        member: The member.
        day: The day the profile is for; only events before its end count.
        events: The member's events, in time order.
        items: The catalogue by id (items removed since still count towards hours if known).
        vectors_of: Which of some item ids have a stored vector (a boolean per id), and those
            vectors as one matrix, in order (see :meth:`recsys.catalogue.Catalogue.vectors_of`).
        encode_queries: Embeds short texts on the query side (cached by the engine).
        curriculum: The curriculum policy.
        vectors: Whether to build the whole profile. Without, it holds what the hard rules
            (:func:`recsys.pipeline.infeasibility`) read, the history and the reviews, at a
            fraction of the cost: no vectors, hours, mastery or quiz estimates.
        opening: The member's opening balances: those of ``day``'s year count toward the hours,
            in their topic if they have one, as in the member's learning record.
    """
    history = build_history(events, day, interest=vectors)
    policy = curriculum.for_member(member)
    if not vectors:
        empty = np.zeros((0, 0), np.float32)
        reviews = review_schedule(events, items, curriculum.mastery, until=day_end(day)) \
            if curriculum.mastery_feedback else {}
        return Profile(member=member, day=day, policy=policy, history=history, interests=empty, interest_anchor=[],
                       negative=None, stated=empty, roles=empty, hours={}, total_hours=0.0, mastery={},
                       last_case=None, reviews=reviews)

    hours: dict[str, float] = defaultdict(float)
    total = 0.0
    for balance in opening:
        if balance.year == day.year:
            total += balance.hours
            if balance.topic:
                hours[balance.topic] += balance.hours
    mastery: dict[str, int] = {}
    last_case = None
    for item_id, when in history.completed.items():
        item = items.get(item_id)
        if item is None:
            continue
        local = when.astimezone(TZ).date()
        if local.year == day.year:
            h = item_hours(item, curriculum.hours)
            total += h
            for topic in item.topics:
                hours[topic] += h / len(item.topics)
        for topic in item.topics:
            mastery[topic] = max(mastery.get(topic, 0), item.level)
        if item.kind == "case" and (last_case is None or local > last_case):
            last_case = local

    positive = [(i, w) for i, w in history.interest.items() if w > 0]
    negative = [(i, -w) for i, w in history.interest.items() if w < 0]
    interests, anchors = _interest_centroids(positive, vectors_of)
    neg = _weighted_mean(negative, vectors_of)

    texts_stated = [f"{t}" for t in member.interests]
    role_texts = [p.description for p in (curriculum.role(r, member.org) for r in member.roles) if p is not None]
    queries = encode_queries(texts_stated + role_texts) if texts_stated or role_texts else None
    dim = queries.shape[1] if queries is not None else (interests.shape[1] if len(interests) else 0)
    stated = queries[: len(texts_stated)] if queries is not None else np.zeros((0, dim), np.float32)
    roles = queries[len(texts_stated):] if queries is not None else np.zeros((0, dim), np.float32)
    return Profile(
        member=member, day=day, policy=policy, history=history,
        interests=interests, interest_anchor=anchors, negative=neg,
        stated=stated, roles=roles, hours=dict(hours), total_hours=total,
        mastery=mastery, last_case=last_case,
        estimates=estimate_mastery(events, items, curriculum.mastery, until=day_end(day)),
        reviews=review_schedule(events, items, curriculum.mastery, until=day_end(day)),
    )


def _weighted_mean(pairs: list[tuple[str, float]], vectors_of) -> np.ndarray | None:
    have, vecs = vectors_of([i for i, _ in pairs])
    if not len(vecs):
        return None
    mean = _average(vecs, [w for (_, w), h in zip(pairs, have.tolist()) if h])
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm > 0 else None


def _average(x: np.ndarray, weights) -> np.ndarray:
    """``np.average(x, axis=0, weights=weights)`` to the same floats, without its checks and
    broadcasting (a profile takes a few of them, and numpy's took four times as long)."""
    w = np.asarray(weights, dtype=np.float64)[:, None]
    return (x * w).sum(axis=0) / w.sum(axis=0)


def _weighted_kmeans(x: np.ndarray, w: np.ndarray, k: int, iterations: int = 20) -> np.ndarray:
    """Cluster labels of unit rows ``x`` (weights ``w``) into ``k`` groups by cosine.

    A few lines of numpy rather than scikit-learn's KMeans: on a handful of history items per
    request, sklearn's per-call overhead (about 25 ms a fit, profiled) cost more than the clustering. The
    start is deterministic (the heaviest item, then repeatedly the item farthest from the chosen
    ones), so the same history always gives the same interests.
    """
    if k <= 1:
        return np.zeros(len(x), dtype=int)
    centres = [int(np.argmax(w))]
    for _ in range(k - 1):
        nearest = (x @ x[centres].T).max(axis=1)
        centres.append(int(np.argmin(nearest)))
    c = x[centres].copy()
    labels = np.full(len(x), -1)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                centre = (x[members] * w[members, None]).sum(axis=0)
                c[j] = centre / max(np.linalg.norm(centre), 1e-12)
    return labels


def _interest_centroids(pairs: list[tuple[str, float]], vectors_of) -> tuple[np.ndarray, list[str]]:
    """Cluster positive history into up to :data:`MAX_INTERESTS` weighted centroids."""
    pairs = sorted(pairs)
    have, x = vectors_of([i for i, _ in pairs])
    if not len(x):
        return np.zeros((0, 0), dtype=np.float32), []
    kept = [pair for pair, h in zip(pairs, have.tolist()) if h]
    ids = [i for i, _ in kept]
    weights = [w for _, w in kept]
    x = np.asarray(x, dtype=np.float32)
    w = np.asarray(weights)
    k = min(MAX_INTERESTS, len(ids), max(1, math.ceil(len(ids) / 3)))
    labels = _weighted_kmeans(x, w, k)
    centroids, anchors = [], []
    for c in sorted(set(labels), key=lambda c: -w[labels == c].sum()):
        members = labels == c
        centre = _average(x[members], w[members])
        centre /= max(np.linalg.norm(centre), 1e-12)
        centroids.append(centre)
        # The anchor is the most strongly weighted item of the cluster, for "related to X".
        idx = np.flatnonzero(members)
        anchors.append(ids[idx[np.argmax(w[idx])]])
    return np.stack(centroids).astype(np.float32), anchors
