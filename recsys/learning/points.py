"""Points (积分): computed from the event history and the rules, never stored.

Recomputing from the events keeps points auditable: every :class:`PointEntry` names the rule
that gave it and the events that earned it, the same history and rules always give the same
ledger, and a change of rules is visible as a change of the rules, not of a table. The rules
(:class:`~recsys.learning.rules.PointRules`): points per action, once per item and kind, within a daily
cap; a bonus when the hours of a required topic reach their target, and one for every streak of
study days; deductions only by explicitly configured rules. The year resets the count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.curriculum import Curriculum
from recsys.learning.ledger import HoursLedger, build_ledger, event_ref
from recsys.records import TZ, Event, Item, Member

__all__ = ["PointEntry", "PointsLedger", "build_points"]

#: Rule names as they appear in entries.
ACTION, DEDUCTION, REQUIRED_TOPIC, STREAK = "action", "deduction", "required_topic", "streak"


@dataclass(frozen=True)
class PointEntry:
    """Points given (or taken) by one rule.

    Attributes:
        day: The day they were earned.
        points: The points (negative for a deduction; 0 when the daily cap was reached).
        rule: ``action``, ``deduction``, ``required_topic`` or ``streak``.
        detail: What it was for (the event kind, the topic, the streak length).
        events: References of the events that earned it (see :func:`recsys.learning.ledger.event_ref`).
        item: The item, for action points and deductions.
        capped: Points the daily cap withheld.
    """

    day: dt.date
    points: float
    rule: str
    detail: str
    events: tuple[str, ...]
    item: str | None = None
    capped: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "points": round(self.points, 4), "rule": self.rule, "detail": self.detail,
                "events": list(self.events), "item": self.item, "capped": self.capped}


@dataclass(frozen=True)
class PointsLedger:
    """A member's points for the year of ``day``."""

    member: str
    day: dt.date
    entries: tuple[PointEntry, ...]

    @property
    def total(self) -> float:
        return sum(e.points for e in self.entries)

    @property
    def by_rule(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for e in self.entries:
            out[e.rule] += e.points
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "day": self.day.isoformat(), "year": self.day.year,
                "total": round(self.total, 4), "by_rule": {k: round(v, 4) for k, v in self.by_rule.items()},
                "entries": [e.to_dict() for e in self.entries]}


def build_points(
    member: Member,
    events: Sequence[Event],
    items: Mapping[str, Item],
    curriculum: Curriculum,
    day: dt.date,
    ledger: HoursLedger | None = None,
) -> PointsLedger:
    """The member's points ledger for the year of ``day``, up to its end.

    Args:
        member: The member.
        events: The member's events in time order.
        items: The catalogue (for the required-topic bonus).
        curriculum: The rules and the member's required topics.
        day: The day asked about.
        ledger: The member's hours ledger for ``day``, if already built.
    """
    rules = curriculum.points
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
    earned: set[tuple[str, str]] = set()
    used: dict[dt.date, float] = defaultdict(float)
    study_days: dict[dt.date, str] = {}
    entries: list[tuple[dt.date, int, PointEntry]] = []
    n = 0
    for e in events:
        if e.member != member.id or e.at >= end:
            continue
        local = e.at.astimezone(TZ).date()
        studied = e.kind in ("complete", "attend", "quiz") or (e.kind == "progress" and (e.value or 0) >= 0.95)
        if local.year == day.year and studied:
            study_days.setdefault(local, event_ref(e))
        if e.kind in rules.actions:
            passed = e.kind != "quiz" or (e.value is not None and e.value >= rules.quiz_pass)
            key = (e.kind, e.item)
            if passed and key not in earned:
                earned.add(key)
                if local.year == day.year:
                    want = rules.actions[e.kind]
                    got = max(0.0, min(want, rules.daily_cap - used[local]))
                    used[local] += got
                    n += 1
                    entries.append((local, n, PointEntry(local, got, ACTION, e.kind, (event_ref(e),), e.item,
                                                         capped=round(want - got, 4))))
        if e.kind in rules.deductions and ("-" + e.kind, e.item) not in earned:
            earned.add(("-" + e.kind, e.item))
            if local.year == day.year:
                n += 1
                entries.append((local, n, PointEntry(local, -rules.deductions[e.kind], DEDUCTION, e.kind,
                                                     (event_ref(e),), e.item)))
    # Streaks: every run of consecutive study days earns a bonus at each multiple of streak_days.
    run: list[str] = []
    previous = None
    for d in sorted(study_days):
        run = run + [study_days[d]] if previous is not None and (d - previous).days == 1 else [study_days[d]]
        previous = d
        if rules.streak_bonus and len(run) % rules.streak_days == 0:
            n += 1
            entries.append((d, n, PointEntry(d, rules.streak_bonus, STREAK, f"连续学习 {len(run)} 天",
                                             tuple(run[-rules.streak_days:]))))
    # Required topics: a bonus on the day the topic's hours reach their target.
    if rules.required_topic_bonus:
        if ledger is None:
            ledger = build_ledger(member, events, items, curriculum, day)
        policy = curriculum.for_member(member)
        for topic in sorted(policy.required):
            target = policy.topic_target(topic)
            if target <= 0:
                continue
            hours, refs = 0.0, []
            for h in ledger.entries:
                if topic in h.topics:
                    hours += h.hours / len(h.topics)
                    refs.append(h.event)
                    if hours >= target - 1e-9:
                        n += 1
                        entries.append((h.day, n, PointEntry(h.day, rules.required_topic_bonus, REQUIRED_TOPIC,
                                                             topic, tuple(refs))))
                        break
    return PointsLedger(member.id, day, tuple(e for _, _, e in sorted(entries, key=lambda t: (t[0], t[1]))))
