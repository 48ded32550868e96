"""What the engine returns: search hits, study lists, study paths and answered quizzes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from recsys.records import Item

__all__ = ["SearchHit", "StudyEntry", "StudyList", "StudyPath", "QuizResult"]


@dataclass(frozen=True)
class SearchHit:
    """An item found by :meth:`Engine.search` or :meth:`Engine.similar`, with its cosine score."""

    item: Item
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.to_dict(), "score": round(float(self.score), 6)}


@dataclass(frozen=True)
class StudyEntry:
    """One entry of a study list: the item, its score and why it was chosen.

    ``review`` marks a completed quiz item brought back for review after its spaced interval:
    the only kind of repeat a list makes.
    """

    item: Item
    score: float
    reasons: tuple[str, ...]
    review: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.to_dict(), "score": round(float(self.score), 6), "reasons": list(self.reasons),
                "review": self.review}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyEntry:
        return cls(Item.from_dict(data["item"]), float(data["score"]), tuple(data["reasons"]),
                   bool(data.get("review", False)))


@dataclass(frozen=True)
class StudyList:
    """A member's study list for one day.

    Attributes:
        member: The member id.
        day: The day the list is for.
        budget: The minutes available that day.
        entries: The entries, in the order to study them; their minutes fit the budget.
        upcoming: Offline activities in the coming days the member can enrol in (not part of
            the day's minutes).
        notes: Messages about the list as a whole (e.g. why it is empty).
    """

    member: str
    day: dt.date
    budget: int
    entries: tuple[StudyEntry, ...] = ()
    upcoming: tuple[StudyEntry, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def minutes(self) -> int:
        """Total minutes of the entries."""
        return sum(e.item.minutes for e in self.entries)

    @property
    def items(self) -> list[Item]:
        return [e.item for e in self.entries]

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "day": self.day.isoformat(),
            "budget": self.budget,
            "minutes": self.minutes,
            "entries": [e.to_dict() for e in self.entries],
            "upcoming": [e.to_dict() for e in self.upcoming],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyList:
        return cls(
            member=data["member"],
            day=dt.date.fromisoformat(data["day"]),
            budget=int(data["budget"]),
            entries=tuple(StudyEntry.from_dict(e) for e in data["entries"]),
            upcoming=tuple(StudyEntry.from_dict(e) for e in data.get("upcoming", ())),
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True)
class StudyPath:
    """A multi-day plan: one :class:`StudyList` a day, no item twice."""

    member: str
    start: dt.date
    days: tuple[StudyList, ...]

    @property
    def minutes(self) -> int:
        return sum(d.minutes for d in self.days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "start": self.start.isoformat(),
            "minutes": self.minutes,
            "days": [d.to_dict() for d in self.days],
        }


@dataclass(frozen=True)
class QuizResult:
    """A quiz item answered by a member (:meth:`recsys.Engine.answer_quiz`).

    Attributes:
        member: The member id.
        item: The quiz item's id.
        score: The share of questions answered right, 0-1 (the ``quiz`` event's value).
        correct: Per question, in the item's order, whether it was answered right (a question
            left unanswered was not).
        answers: Per question, the right answer (an option's key or keys, or the blank's text),
            to show once the quiz is answered.
        recorded: False when the same event (by its id) was recorded before: a retry.
    """

    member: str
    item: str
    score: float
    correct: tuple[bool, ...]
    answers: tuple[str, ...]
    recorded: bool = True

    @property
    def right(self) -> int:
        """How many questions were answered right."""
        return sum(self.correct)

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "item": self.item, "score": round(float(self.score), 6), "right": self.right,
                "total": len(self.correct), "correct": list(self.correct), "answers": list(self.answers),
                "recorded": self.recorded}
