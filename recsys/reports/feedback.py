"""Content feedback for editors: items members do not finish, skip or rate low, per role.

For each item and each role of the members who met it, counts are per member (a member who
skipped twice counts once): ``shown`` (shown, skipped or started), ``started`` (started or
completed), ``completed``, ``skipped``, and the mean of each member's last rating. An item is
flagged for a role with ``low_completion`` (under 30 % of starters finish), ``high_skip`` (30 %
or more of those shown skip) or ``low_rating`` (mean of 2.5 stars or less), each judged only
once enough members give evidence (``min_members``), so one member's opinion flags nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.records import Event, Item, Member

__all__ = ["ContentFlag", "content_feedback"]


@dataclass(frozen=True)
class ContentFlag:
    """An item with a problem for one role."""

    item: str
    title: str
    role: str
    shown: int
    started: int
    completed: int
    skipped: int
    ratings: int
    rating: float | None
    problems: tuple[str, ...]

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.started if self.started else None

    @property
    def skip_rate(self) -> float | None:
        return self.skipped / self.shown if self.shown else None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"item": self.item, "title": self.title, "role": self.role, "shown": self.shown,
                "started": self.started, "completed": self.completed, "skipped": self.skipped,
                "ratings": self.ratings, "rating": r(self.rating), "completion_rate": r(self.completion_rate),
                "skip_rate": r(self.skip_rate), "problems": list(self.problems)}


def content_feedback(
    members: Sequence[Member],
    events: Sequence[Event],
    items: Mapping[str, Item],
    *,
    min_members: int = 5,
    low_completion: float = 0.3,
    high_skip: float = 0.3,
    low_rating: float = 2.5,
) -> list[ContentFlag]:
    """Items with low completion, high skip rates or low ratings, per role.

    Args:
        members: The members whose events count (others' are ignored).
        events: Their events.
        items: The catalogue (events on items no longer in it are ignored).
        min_members: Members needed as evidence before a rate is judged (3 for ratings).
        low_completion: Completion rate (of starters) below which an item is flagged.
        high_skip: Skip rate (of those shown) from which an item is flagged.
        low_rating: Mean rating at or below which an item is flagged.

    Returns:
        Flags sorted by item id, then role.
    """
    by_id = {m.id: m for m in members}
    sets: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    ratings: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for e in events:
        m = by_id.get(e.member)
        if m is None or e.item not in items:
            continue
        for role in m.roles:
            s = sets[(e.item, role)]
            if e.kind in ("impression", "skip", "start", "progress", "complete", "quiz", "rate"):
                s["shown"].add(m.id)
            if e.kind in ("start", "progress", "complete", "quiz"):
                s["started"].add(m.id)
            if e.kind in ("complete", "quiz") or (e.kind == "progress" and (e.value or 0) >= 0.95):
                s["completed"].add(m.id)
                s["started"].add(m.id)
            if e.kind == "skip":
                s["skipped"].add(m.id)
            if e.kind == "rate" and e.value is not None:
                ratings[(e.item, role)][m.id] = e.value
    out = []
    for (item_id, role), s in sorted(sets.items()):
        shown, started, completed, skipped = (len(s[k]) for k in ("shown", "started", "completed", "skipped"))
        rates = ratings.get((item_id, role), {})
        mean = sum(rates.values()) / len(rates) if rates else None
        problems = []
        if started >= min_members and completed / started < low_completion:
            problems.append("low_completion")
        if shown >= min_members and skipped / shown >= high_skip:
            problems.append("high_skip")
        if len(rates) >= 3 and mean <= low_rating:
            problems.append("low_rating")
        if problems:
            out.append(ContentFlag(item_id, items[item_id].title, role, shown, started, completed, skipped,
                                   len(rates), mean, tuple(problems)))
    return out
