"""The hours ledger: study hours a member has earned this year, and how they stand against target.

Each item counts once, at its first completion (see :class:`~recsys.learning.rules.HourRules` for the
counting rules); only completions in the year of the day asked about count, so the year resets
the count. Every entry names the event that earned it, so a total can be checked line by line.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.curriculum import Curriculum
from recsys.records import TZ, Event, Item, Member
from recsys.learning.rules import HourRules

__all__ = ["HourEntry", "HoursLedger", "build_ledger", "item_hours", "event_ref", "year_fraction", "due_from",
           "COMPLETING"]

#: Event kinds that complete an item (a progress of 95 % or more also does).
COMPLETING = ("complete", "attend", "quiz")


def item_hours(item: Item, rules: HourRules) -> float:
    """The hours an item counts when completed, by the counting rules."""
    if item.mode == "offline" and item.schedule is not None:
        s = item.schedule
        first, last = s.days
        if last == first:
            return _session_hours((s.ends - s.starts).total_seconds() / 3600.0, item, rules)
        # Held on several days: each day a session, its part within the day's hours.
        total = 0.0
        for n in range((last - first).days + 1):
            day = dt.datetime.combine(first + dt.timedelta(days=n), dt.time(), TZ)
            opens = max(s.starts, day + dt.timedelta(hours=rules.day_from))
            closes = min(s.ends, day + dt.timedelta(hours=rules.day_until))
            total += _session_hours(max((closes - opens).total_seconds() / 3600.0, 0.0), item, rules)
        return total
    return item.minutes / 60.0 * rules.online_factor


def _session_hours(scheduled: float, item: Item, rules: HourRules) -> float:
    """The hours one day's session of ``scheduled`` hours counts: a full or half day, or its length."""
    if scheduled >= rules.full_day_from:
        return rules.full_day_hours
    if scheduled >= rules.half_day_from:
        return rules.half_day_hours
    return min(scheduled, item.minutes / 60.0)


def event_ref(event: Event) -> str:
    """A reference to an event: its id, or ``kind:item@time`` for events without one."""
    return event.id or f"{event.kind}:{event.item}@{event.at.isoformat()}"


def year_fraction(day: dt.date, since: dt.date | None = None) -> float:
    """How far through its year ``day`` is, counting the day itself (1.0 on 31 December); with
    ``since``, only the part from that day on (a member who joined the party in November owes
    no hours for the months before)."""
    start = dt.date(day.year, 1, 1)
    first = max(start, since) if since is not None else start
    return max((day - first).days + 1, 0) / (dt.date(day.year + 1, 1, 1) - start).days


def due_from(member: Member, day: dt.date) -> dt.date | None:
    """From when the member owes study hours in ``day``'s year: their joining day if they joined
    the party that year (a probationary member joined on 20 November is not behind on 3
    December by eleven months of hours), else None (the whole year)."""
    joined = member.joined
    return joined if joined is not None and joined.year == day.year else None


def _completes(event: Event) -> bool:
    return event.kind in COMPLETING or (event.kind == "progress" and (event.value or 0) >= 0.95)


@dataclass(frozen=True)
class HourEntry:
    """Hours earned by one completion.

    Attributes:
        item: The item id.
        title: Its title.
        day: The day of the completion (Asia/Shanghai).
        hours: Hours credited.
        kind: The item's kind.
        mode: ``online`` or ``offline``.
        topics: The item's topics (its hours are split evenly over them).
        event: The event that earned them (see :func:`event_ref`).
    """

    item: str
    title: str
    day: dt.date
    hours: float
    kind: str
    mode: str
    topics: tuple[str, ...]
    event: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "title": self.title, "day": self.day.isoformat(), "hours": round(self.hours, 4),
                "kind": self.kind, "mode": self.mode, "topics": list(self.topics), "event": self.event}


@dataclass(frozen=True)
class HoursLedger:
    """A member's hours for the year of ``day``, up to its end.

    Attributes:
        member: The member id.
        day: The day the ledger is for.
        target: The annual target of the member's roles, or None (no target).
        entries: One per credited completion, in time order.
        pace_tolerance: Share of the hours due a member may lag and still be on pace.
        pace_slack: Hours a member may lag and still be on pace, whatever the share.
        since: The day hours are due from when not 1 January (:func:`due_from`).
    """

    member: str
    day: dt.date
    target: float | None
    entries: tuple[HourEntry, ...]
    pace_tolerance: float = 0.1
    pace_slack: float = 0.0
    since: dt.date | None = None

    @property
    def total(self) -> float:
        return sum(e.hours for e in self.entries)

    def _by(self, key) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for e in self.entries:
            for k, share in key(e):
                out[k] += share
        return dict(sorted(out.items()))

    @property
    def by_topic(self) -> dict[str, float]:
        return self._by(lambda e: [(t, e.hours / len(e.topics)) for t in e.topics] or [("未分类", e.hours)])

    @property
    def by_kind(self) -> dict[str, float]:
        return self._by(lambda e: [(e.kind, e.hours)])

    @property
    def by_mode(self) -> dict[str, float]:
        return self._by(lambda e: [(e.mode, e.hours)])

    @property
    def by_month(self) -> dict[str, float]:
        return self._by(lambda e: [(f"{e.day:%Y-%m}", e.hours)])

    @property
    def expected(self) -> float | None:
        """Hours due by ``day`` at an even pace, or None without a target."""
        return None if self.target is None else self.target * year_fraction(self.day, self.since)

    @property
    def pace(self) -> float | None:
        """Hours ahead (positive) or behind (negative) of an even pace."""
        return None if self.target is None else self.total - self.expected

    @property
    def projection(self) -> float:
        """Hours at year end if the member keeps the pace of the year so far."""
        so_far = year_fraction(self.day, self.since)
        whole = year_fraction(dt.date(self.day.year, 12, 31), self.since)
        return self.total / so_far * whole if so_far else self.total

    @property
    def status(self) -> str:
        """``ahead``, ``on_pace``, ``behind`` or ``no_target``."""
        if self.target is None:
            return "no_target"
        if self.total >= self.expected:
            return "ahead"
        lag = self.expected - self.total
        return "on_pace" if lag <= self.expected * self.pace_tolerance or lag < self.pace_slack else "behind"

    def to_dict(self) -> dict[str, Any]:
        r = _round
        return {
            "member": self.member, "day": self.day.isoformat(), "year": self.day.year,
            "target": self.target, "hours": r(self.total), "expected": r(self.expected), "pace": r(self.pace),
            "projection": r(self.projection), "status": self.status,
            "progress": None if not self.target else round(self.total / self.target, 4),
            "by_topic": {k: r(v) for k, v in self.by_topic.items()},
            "by_kind": {k: r(v) for k, v in self.by_kind.items()},
            "by_mode": {k: r(v) for k, v in self.by_mode.items()},
            "by_month": {k: r(v) for k, v in self.by_month.items()},
            "entries": [e.to_dict() for e in self.entries],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def build_ledger(
    member: Member, events: Sequence[Event], items: Mapping[str, Item], curriculum: Curriculum, day: dt.date
) -> HoursLedger:
    """The member's hours ledger for the year of ``day``, from their events up to its end.

    Args:
        member: The member.
        events: The member's events in time order (others' events are ignored).
        items: The catalogue; completions of items no longer in it are not credited.
        curriculum: Targets and counting rules.
        day: The day asked about.
    """
    rules = curriculum.hours
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
    seen: set[str] = set()
    online_used: dict[dt.date, float] = defaultdict(float)
    entries = []
    for e in events:
        if e.member != member.id or e.at >= end or not _completes(e) or e.item in seen:
            continue
        seen.add(e.item)
        item = items.get(e.item)
        local = e.at.astimezone(TZ).date()
        if item is None or local.year != day.year:
            continue
        hours = item_hours(item, rules)
        if item.mode == "online" and rules.online_daily_cap is not None:
            hours = max(0.0, min(hours, rules.online_daily_cap - online_used[local]))
            online_used[local] += hours
        entries.append(HourEntry(item.id, item.title, local, hours, item.kind, item.mode, item.topics, event_ref(e)))
    target = curriculum.for_member(member).annual_hours
    return HoursLedger(member.id, day, target, tuple(entries), rules.pace_tolerance, rules.pace_slack_hours,
                       since=due_from(member, day))
