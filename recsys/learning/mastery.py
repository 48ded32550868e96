"""What a member has learned: a per-topic mastery estimate from quiz results, and the review plan.

The estimate is Elo-style (a one-parameter item-response model updated online): each topic has
a rating ``θ`` starting at 0; an item of level ``L`` has difficulty ``b = L - 2`` (level 1 is
easy, -1; level 3 hard, +1); the expected score is ``σ(θ - b)``, and a quiz scored ``s`` moves
the rating of each of the item's topics by ``k · (s - expected)``, divided over the topics.
An easy quiz done well moves the rating little, a hard one done well a lot, and the reverse for
failures, which is what a teacher would do with the same evidence.

From the rating: the **level to study** is the highest whose expected score is at least
``target_score`` (at least 1), and a topic is **weak** when even level 1 is expected below
``weak_below``. A quiz scored below ``review_below`` comes back for **review** after a spaced
interval (1, 3, 7, 14, 30 days by default: the n-th failed attempt waits the n-th interval).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recsys.records import TZ, Event, Item
from recsys.learning.rules import MasteryRules

__all__ = ["TopicMastery", "ReviewDue", "estimate_mastery", "review_schedule", "expected_score"]


def expected_score(rating: float, level: int) -> float:
    """The expected quiz score of a member with ``rating`` on an item of ``level``."""
    return 1.0 / (1.0 + math.exp(-(rating - (level - 2))))


@dataclass(frozen=True)
class TopicMastery:
    """The estimate for one topic.

    Attributes:
        topic: The topic.
        rating: Elo rating (0: expected 73 % at level 1, 50 % at level 2).
        quizzes: Quizzes that informed it.
        last_score: The most recent quiz score in the topic.
        level: The level to study next (1-3).
        weak: Whether even level-1 items are expected below the weak threshold.
    """

    topic: str
    rating: float
    quizzes: int
    last_score: float
    level: int
    weak: bool

    def to_dict(self) -> dict:
        return {"topic": self.topic, "rating": round(self.rating, 4), "quizzes": self.quizzes,
                "last_score": self.last_score, "level": self.level, "weak": self.weak}


@dataclass(frozen=True)
class ReviewDue:
    """A quiz item to review.

    Attributes:
        item: The quiz item id.
        due: The first day it may come back.
        attempts: Attempts scored below the review threshold.
        last_score: The last score.
        since: The day the member last did the item (impressions and skips before it do not
            cool the review down).
    """

    item: str
    due: dt.date
    attempts: int
    last_score: float
    since: dt.date

    def to_dict(self) -> dict:
        return {"item": self.item, "due": self.due.isoformat(), "attempts": self.attempts,
                "last_score": self.last_score, "since": self.since.isoformat()}


def estimate_mastery(
    events: Sequence[Event], items: Mapping[str, Item], rules: MasteryRules, until: dt.datetime | None = None
) -> dict[str, TopicMastery]:
    """Replay a member's quiz events (in time order) into a mastery estimate per topic.

    Args:
        events: The member's events; only ``quiz`` events with a score count.
        items: The catalogue (quiz items of unknown ids are skipped).
        rules: The Elo step and thresholds.
        until: Ignore events at or after this time.

    Returns:
        Topic to its estimate, for every topic quizzed at least once.
    """
    rating: dict[str, float] = {}
    count: dict[str, int] = {}
    last: dict[str, float] = {}
    for e in events:
        if e.kind != "quiz" or e.value is None or (until is not None and e.at >= until):
            continue
        item = items.get(e.item)
        if item is None or not item.topics:
            continue
        share = rules.k / len(item.topics)
        for topic in item.topics:
            r = rating.get(topic, 0.0)
            rating[topic] = r + share * (e.value - expected_score(r, item.level))
            count[topic] = count.get(topic, 0) + 1
            last[topic] = e.value
    out = {}
    for topic, r in rating.items():
        level = max([lv for lv in (1, 2, 3) if expected_score(r, lv) >= rules.target_score], default=1)
        out[topic] = TopicMastery(topic, r, count[topic], last[topic], level,
                                  expected_score(r, 1) < rules.weak_below)
    return out


def review_schedule(
    events: Sequence[Event], items: Mapping[str, Item], rules: MasteryRules, until: dt.datetime | None = None
) -> dict[str, ReviewDue]:
    """The quiz items to review and when: those whose last attempt scored below ``review_below``.

    The n-th failed attempt waits ``review_days[n-1]`` days (the last interval repeats) after the
    member last did the item (took the quiz or completed it), so a review studied without a new
    quiz waits a full interval again.
    """
    if not any(e.kind == "quiz" for e in events):  # only a quiz score puts an item up for review
        return {}
    failed: dict[str, int] = {}
    last_score: dict[str, float] = {}
    last_done: dict[str, dt.datetime] = {}
    for e in events:
        if until is not None and e.at >= until:
            continue
        item = items.get(e.item)
        if item is None or item.kind != "quiz":
            continue
        if e.kind == "quiz" and e.value is not None:
            last_score[e.item] = e.value
            if e.value < rules.review_below:
                failed[e.item] = failed.get(e.item, 0) + 1
        if e.kind in ("quiz", "complete", "attend") or (e.kind == "progress" and (e.value or 0) >= 0.95):
            last_done[e.item] = max(last_done.get(e.item, e.at), e.at)
    out = {}
    for item_id, score in last_score.items():
        if score >= rules.review_below:
            continue
        n = failed[item_id]
        wait = rules.review_days[min(n, len(rules.review_days)) - 1]
        since = last_done[item_id].astimezone(TZ).date()
        out[item_id] = ReviewDue(item_id, since + dt.timedelta(days=wait), n, score, since)
    return out
