"""Checks of request arguments shared by every entry point: a day, minutes, k, a path's length."""

from __future__ import annotations

import datetime as dt

from recsys.exceptions import ValidationError
from recsys.records import TZ, Member

__all__ = ["as_day", "budget_of", "check_k", "check_days", "MAX_PATH_DAYS"]

#: Longest study path, in days.
MAX_PATH_DAYS = 366


def as_day(day: dt.date | str | None, field: str = "day") -> dt.date:
    """A day from a date, a datetime (its Shanghai date), an ISO string, or None for today."""
    if day is None:
        return dt.datetime.now(TZ).date()
    if isinstance(day, dt.datetime):
        return day.astimezone(TZ).date()
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be a date like 2026-12-01, got {day!r}", field=field) from None


def budget_of(member: Member, minutes: int | None) -> int:
    """The minutes of a list: those asked for, else the member's ``daily_minutes``."""
    if minutes is None:
        return member.daily_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise ValidationError(f"minutes must be a whole number from 1 to 1440, got {minutes!r}", field="minutes")
    return minutes


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"k must be a whole number of at least 1, got {k!r}", field="k")


def check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_PATH_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_PATH_DAYS}, got {days!r}", field="days")
