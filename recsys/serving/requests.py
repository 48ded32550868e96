"""Checks of request arguments shared by every entry point: a day, minutes, k, a path's length."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from recsys.exceptions import ValidationError
from recsys.records import FIRST_YEAR, LAST_YEAR, TZ, Member

__all__ = ["as_day", "budget_of", "check_k", "check_days", "ranking_scores", "MAX_PATH_DAYS"]

#: Longest study path, in days.
MAX_PATH_DAYS = 366


def as_day(day: dt.date | str | None, field: str = "day") -> dt.date:
    """A day from a date, a datetime (its Shanghai date), an ISO string, or None for today.

    Raises:
        ValidationError: not a date, or one outside the years records take
            (:data:`recsys.records.FIRST_YEAR` to ``LAST_YEAR``: planning counts back and ahead
            from the day, and past them the calendar runs out).
    """
    if day is None:
        return dt.datetime.now(TZ).date()
    if isinstance(day, dt.datetime):
        found = day.astimezone(TZ).date()
    elif isinstance(day, dt.date):
        found = day
    else:
        try:
            found = dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ValidationError(f"{field} must be a date like 2026-12-01, got {day!r}", field=field) from None
    if not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise ValidationError(f"{field} must be in the years {FIRST_YEAR}-{LAST_YEAR}, got {found}", field=field)
    return found


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


def check_days(days: int, start: dt.date | None = None) -> None:
    """``days`` of a path: 1 to :data:`MAX_PATH_DAYS`, and (from ``start``) none past the last
    year a date may take (the path's own study is dated on its days)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_PATH_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_PATH_DAYS}, got {days!r}", field="days")
    if start is not None and (start + dt.timedelta(days=days - 1)).year > LAST_YEAR:
        raise ValidationError(f"a path of {days} days from {start} runs past {LAST_YEAR}-12-31, the last day "
                              "a date may take", field="days")


def ranking_scores(ranking: Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    """An outside ranking as item id to score: a mapping as given (finite numbers), a sequence of
    distinct ids best first as the gain a ranking metric gives each position, ``1 / log2(n + 2)``."""
    if isinstance(ranking, Mapping):
        out = {}
        for item, score in ranking.items():
            if not isinstance(item, str):
                raise ValidationError(f"ranking ids must be strings, got {item!r}", field="ranking")
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise ValidationError(f"ranking score of {item!r} must be a finite number, got {score!r}",
                                      field="ranking")
            out[item] = float(score)
        return out
    if isinstance(ranking, (str, bytes)) or not isinstance(ranking, Sequence):
        raise ValidationError("ranking must be a list of item ids, best first, or a mapping of id to score",
                              field="ranking")
    out = {}
    for n, item in enumerate(ranking):
        if not isinstance(item, str):
            raise ValidationError(f"ranking ids must be strings, got {item!r}", field="ranking")
        if item in out:
            raise ValidationError(f"ranking names {item!r} twice", field="ranking")
        out[item] = 1.0 / math.log2(n + 2)
    return out
