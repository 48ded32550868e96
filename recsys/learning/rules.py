"""The rules of the learning records: how hours are counted, how points are earned, when to alert.

These are local policy, not constants (DOMAIN: "hour-counting rules are local"), so each is a
frozen dataclass with documented defaults that an organisation overrides in the ``hours``,
``points``, ``mastery`` and ``alerts`` sections of its curriculum JSON (see
:meth:`recsys.curriculum.Curriculum.from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from recsys.exceptions import ValidationError

__all__ = ["HourRules", "PointRules", "MasteryRules", "AlertRules"]


@dataclass(frozen=True)
class HourRules:
    """How study hours are counted.

    An online item counts its recorded minutes once, when first completed (a ``complete`` event, a
    ``progress`` of 95 % or more, or a ``quiz`` taken). An offline activity counts once, when
    attended: a session of at least ``half_day_from`` hours counts ``half_day_hours`` (a half-day
    on-site session is 4 hours in most local rules), one of at least ``full_day_from`` hours
    counts ``full_day_hours``; a shorter one counts its scheduled length. An activity held on
    several days (a three-day course) counts each day so, by the part of it scheduled between
    ``day_from`` and ``day_until`` o'clock that day. The year resets the count.

    Attributes:
        online_factor: Multiplier of online minutes (some organisations count online study at
            a discount).
        half_day_from: Scheduled hours from which an offline session is a half day.
        half_day_hours: Hours a half-day session counts.
        full_day_from: Scheduled hours from which an offline session is a full day.
        full_day_hours: Hours a full-day session counts.
        day_from, day_until: The hours of the day (0-24) within which each day of an activity
            held on several days is counted.
        online_daily_cap: Most online hours counted per day, or None for no cap.
        pace_tolerance: Share of the hours due by a date a member may lag before being
            "behind pace" (0.1: up to 10 % behind is still on pace).
        pace_slack_hours: Hours a member may lag whatever the share: in the first days of the
            year the hours due are less than one lesson, and a share of them would put every
            member behind pace on 2 January.
    """

    online_factor: float = 1.0
    half_day_from: float = 2.5
    half_day_hours: float = 4.0
    full_day_from: float = 5.5
    full_day_hours: float = 8.0
    day_from: float = 8.0
    day_until: float = 18.0
    online_daily_cap: float | None = None
    pace_tolerance: float = 0.1
    pace_slack_hours: float = 1.0


@dataclass(frozen=True)
class PointRules:
    """How points (积分) are earned. Every point is traced to the events that earned it.

    Attributes:
        actions: Points per event kind, once per item and kind (completing an item twice earns
            once). A ``quiz`` earns its points only at or above ``quiz_pass``.
        quiz_pass: The score from which a quiz earns points.
        daily_cap: Most action points a day; bonuses are outside the cap.
        required_topic_bonus: Once a year per required topic, when the member's hours in it reach
            the topic's target.
        streak_days: Consecutive days of study that earn ``streak_bonus`` (again at every
            multiple: 7, 14, 21 days ...).
        streak_bonus: Points for a streak.
        deductions: Explicit deduction rules: event kind to the points taken away for it (a
            positive number). None by default: points are never taken away otherwise.
    """

    actions: Mapping[str, float] = field(default_factory=lambda: {"complete": 1.0, "attend": 3.0, "quiz": 1.0})
    quiz_pass: float = 0.8
    daily_cap: float = 10.0
    required_topic_bonus: float = 5.0
    streak_days: int = 7
    streak_bonus: float = 3.0
    deductions: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MasteryRules:
    """The mastery estimate and its feedback into the lists.

    Attributes:
        k: Elo step: how far one quiz moves a topic's rating.
        weak_below: A topic is weak when the expected score on its level-1 items is below this.
        target_score: The level recommended is the highest whose expected score is at least this.
        review_below: A quiz scored below this comes back for review.
        review_days: Days after the last attempt before the n-th review (the last repeats).
        reviews_per_day: Most reviews in one daily list (0: none), so reviews due cannot crowd
            out new study; the best-scored are kept, the others wait for a later day.
    """

    k: float = 1.0
    weak_below: float = 0.65
    target_score: float = 0.65
    review_below: float = 0.8
    review_days: tuple[int, ...] = (1, 3, 7, 14, 30)
    reviews_per_day: int = 1


@dataclass(frozen=True)
class AlertRules:
    """When party-affairs workers are alerted.

    Attributes:
        inactive_days: A member with no study for this many days is inactive.
        mobile_months: A mobile member (流动党员) with no contact for this many months is
            flagged (the regulations' six months).
        themed_day_keywords: Words in an activity's title that make it a themed party day.
        pace_grace_days: No behind-pace alert in the first this many days of the year: on
            1 January everyone is at 0 hours, and a few days of pace say nothing yet.
    """

    inactive_days: int = 30
    mobile_months: int = 6
    themed_day_keywords: tuple[str, ...] = ("主题党日",)
    pace_grace_days: int = 31


def parse_rules(cls: type, data: Any, *, source: str, where: str) -> Any:
    """Build one of the rule classes from its JSON section; omitted settings keep defaults.

    Raises:
        ValidationError: naming the setting (``where.name``) that is wrong.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(f"{where} must be a JSON object", source=source, field=where)
    base = cls()
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"unknown setting(s) {unknown} in {where}", source=source, field=f"{where}.{unknown[0]}")
    out = {}
    for name, value in data.items():
        default = getattr(base, name)
        path = f"{where}.{name}"
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and _number(v) and v >= 0 for k, v in value.items()
            ):
                raise ValidationError(f"{path} must map event kinds to non-negative numbers", source=source, field=path)
            out[name] = {k: float(v) for k, v in value.items()}
        elif isinstance(default, tuple):
            kind = int if name == "review_days" else str
            if not isinstance(value, list) or not value or not all(
                isinstance(v, kind) and not isinstance(v, bool) and (kind is str or v >= 1) for v in value
            ):
                what = "whole numbers of days (at least 1)" if kind is int else "text"
                raise ValidationError(f"{path} must be a non-empty list of {what}", source=source, field=path)
            out[name] = tuple(value)
        elif isinstance(default, int) and not isinstance(default, bool):
            least = 0 if name in _ZERO_ALLOWED else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValidationError(f"{path} must be a whole number of at least {least}, got {value!r}", source=source, field=path)
            out[name] = value
        else:  # numbers, some nullable
            if value is None and name == "online_daily_cap":
                out[name] = None
            elif not _number(value) or value < 0:
                raise ValidationError(f"{path} must be a non-negative number, got {value!r}", source=source, field=path)
            elif name in _SHARES and value > 1:
                raise ValidationError(f"{path} must be between 0 and 1, got {value!r}", source=source, field=path)
            else:
                out[name] = float(value)
    return replace(base, **out)


def rules_to_dict(rules: Any) -> dict[str, Any]:
    """The JSON form of a rules object."""
    out = {}
    for f in fields(rules):
        value = getattr(rules, f.name)
        out[f.name] = dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) else value
    return out


#: Whole-number settings for which 0 makes sense (it turns the thing off).
_ZERO_ALLOWED = {"reviews_per_day", "pace_grace_days"}

#: Settings that are shares or scores, between 0 and 1.
_SHARES = {"pace_tolerance", "quiz_pass", "weak_below", "target_score", "review_below"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
