"""The hard rules as array operations: why each row of the catalogue cannot be in a list.

:func:`hard_rules` answers, for many items at once, what :func:`recsys.pipeline.infeasibility`
answers for one: the first rule an item breaks, as a code into :data:`REASONS` (0: none). The
per-item function stays the readable reference; ``tests/pipeline/test_masks.py`` checks on random
worlds that the two agree on every item.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from recsys.pipeline.context import PlanContext
from recsys.records import TZ

__all__ = ["REASONS", "hard_rules", "feasible"]

#: The rules in the order they are checked; a code is an index into this tuple.
REASONS: tuple[str | None, ...] = (
    None, "completed", "disliked", "cooldown", "unpublished", "expired", "role", "org", "prerequisite",
    "birthday", "offline", "location", "past", "date", "full",
)
_CODE = {r: k for k, r in enumerate(REASONS) if r}
#: Smaller than any ordinal: a date that is not there.
_NONE = np.iinfo(np.int32).min


def _days(values: dict, cols, default: int = _NONE) -> np.ndarray:
    """A column of ordinals from an item id -> date mapping (``default`` elsewhere)."""
    out = np.full(len(cols), default, dtype=np.int64)
    row = cols.row
    for id_, day in values.items():
        i = row.get(id_)
        if i is not None:
            out[i] = day.toordinal()
    return out


def hard_rules(ctx: PlanContext, rows: np.ndarray | None = None, *, for_day: bool = True) -> np.ndarray:
    """The first hard rule each item breaks for the member and day of ``ctx``, as a code.

    Args:
        ctx: The planning context (a rules-only one is enough).
        rows: Catalogue rows to check (see :attr:`recsys.catalogue.Catalogue.columns`); default all.
        for_day: As in :func:`recsys.pipeline.infeasibility`: False checks everything but the
            offline date.

    Returns:
        One ``int8`` code per row: an index into :data:`REASONS`, 0 where no rule is broken.
    """
    cols = ctx.items.columns
    rows = np.arange(len(cols)) if rows is None else np.asarray(rows, dtype=np.int64)
    m = ctx.profile.member
    h = ctx.profile.history
    cur = ctx.curriculum
    day = ctx.day.toordinal()
    n = len(rows)

    completed = cols.flag(h.completed)[rows]
    planned = cols.flag(ctx.planned)[rows]
    # A completed quiz may come back as a review that is due (the one sanctioned repeat).
    due = {i: r for i, r in ctx.profile.reviews.items() if r.due <= ctx.day} if cur.mastery_feedback else {}
    review = cols.flag(due)[rows] & completed & ~planned
    since = _days({i: r.since for i, r in due.items()}, cols)[rows]
    since = np.where(review, since, _NONE)
    started = cols.flag(h.started)[rows]
    cooldown = cur.cooldown_days
    shown = _days(h.shown, cols)[rows]
    skipped = _days(h.skipped, cols)[rows]

    member_roles = [cols.role_names.index(r) for r in m.roles if r in cols.role_names]
    holds_role = cols.roles[rows][:, member_roles].any(axis=1) if member_roles else np.zeros(n, dtype=bool)
    owner_ok = np.array([m.org == o or m.org.startswith(o + ".") for o in cols.owners] + [True], dtype=bool)
    done = set(h.completed) | set(ctx.planned)
    missing = np.array([r not in done for r in cols.required], dtype=bool)
    lacks = np.zeros(len(cols), dtype=bool)
    if len(cols.req_item):
        lacks = np.bincount(cols.req_item, weights=missing[cols.req_key], minlength=len(cols)) > 0

    offline = cols.offline[rows]
    city = cols.city[rows]
    member_city = cols.cities.index(m.location) if m.location and m.location in cols.cities else -2
    day_start = dt.datetime.combine(ctx.day, dt.time(), TZ).timestamp()
    seats = np.zeros(len(cols), dtype=np.int64)
    for id_, taken in ctx.seats_taken.items():
        i = cols.row.get(id_)
        if i is not None:
            seats[i] = taken
    capacity = cols.capacity[rows]
    enrolled = cols.flag(h.enrolled)[rows]

    checks = [  # in the order of REASONS
        ("completed", planned | (completed & ~review)),
        ("disliked", cols.flag(h.disliked)[rows]),
        ("cooldown", ((shown != _NONE) & (shown > since) & ~started & (day - shown < cooldown))
         | ((skipped != _NONE) & (skipped > since) & (day - skipped < cooldown))),
        ("unpublished", cols.published[rows] > day),
        ("expired", cols.expires[rows] < day),
        ("role", cols.targeted[rows] & ~holds_role),
        ("org", ~owner_ok[cols.owner[rows]]),
        ("prerequisite", lacks[rows]),
        ("birthday", cols.title_flag(cur.birthday_keywords)[rows] & (not cur.in_birthday_week(m, ctx.day))),
        ("offline", offline & (not m.offline)),
        ("location", offline & bool(m.location) & (city >= 0) & (city != member_city)),
        ("past", offline & (cols.ends_at[rows] <= day_start)),
        ("date", offline & for_day & ((cols.starts_day[rows] > day) | (cols.ends_day[rows] < day))),
        ("full", offline & (capacity >= 0) & ~enrolled & (seats[rows] >= capacity)),
    ]
    codes = np.zeros(n, dtype=np.int8)
    for reason, broken in reversed(checks):  # the first rule broken wins
        codes[broken] = _CODE[reason]
    return codes


def feasible(ctx: PlanContext, rows: np.ndarray | None = None, *, for_day: bool = True) -> np.ndarray:
    """Whether each row breaks no hard rule (see :func:`hard_rules`)."""
    return hard_rules(ctx, rows, for_day=for_day) == 0
