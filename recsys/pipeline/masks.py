"""The hard rules as array operations: why each row of the catalogue cannot be in a list.

:func:`hard_rules` answers, for many items at once, what :func:`recsys.pipeline.infeasibility`
answers for one: the first rule an item breaks, as a code into :data:`REASONS` (0: none). The
per-item function stays the readable reference; ``tests/pipeline/test_masks.py`` checks on random
worlds that the two agree on every item.

The work is split in two so that many members can share most of it. :func:`static_rules` covers
what depends only on the member's record (roles, organisation, offline attendance, city,
birthday week), the day and the seats taken: members alike in those get the same codes, which a
report over thousands of members computes once per kind of member (:class:`StaticRules`). What
depends on a member's history (completed, disliked, cool-down, prerequisites done, enrolment
that keeps a seat) touches only the few rows the history names, and is laid over the shared
codes per member.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from recsys.curriculum import Curriculum
from recsys.pipeline.context import PlanContext
from recsys.records import TZ, Member, city_key

__all__ = ["REASONS", "attendable", "hard_rules", "static_rules", "static_key", "reach_mask", "ReachMasks",
           "StaticRules"]

#: The rules in the order they are checked; a code is an index into this tuple.
REASONS: tuple[str | None, ...] = (
    None, "completed", "disliked", "cooldown", "unpublished", "expired", "role", "org", "situation", "prerequisite",
    "birthday", "offline", "location", "past", "date", "begun", "full",
)
_CODE = {r: k for k, r in enumerate(REASONS) if r}
_PREREQUISITE, _BEGUN, _FULL = _CODE["prerequisite"], _CODE["begun"], _CODE["full"]


def _member_columns(cols, m: Member) -> tuple[list[int], np.ndarray, int]:
    """A member's record in the catalogue's codes: the role columns they hold, which owners they
    see (the last entry, for shared items, is always True) and their city (-2: none known)."""
    member_roles = [cols.role_names.index(r) for r in m.roles if r in cols.role_names]
    owner_ok = cols.seen_by(m.org)
    city = city_key(m.location)
    member_city = cols.cities.index(city) if city in cols.cities else -2
    return member_roles, owner_ok, member_city


def _other_situation(cols, cur, m: Member) -> np.ndarray:
    """Items meant for a situation the member is not in (see
    :meth:`recsys.curriculum.Curriculum.item_situations`): untargeted, naming another situation
    and not the member's."""
    other = np.zeros(len(cols), dtype=bool)
    for situation, words in cur.situation_keywords.items():
        if situation != m.situation and words:
            other |= cols.title_flag(tuple(words))
    mine = tuple(cur.situation_keywords.get(m.situation, ()))
    if mine:
        other &= ~cols.title_flag(mine)
    return other & ~cols.targeted


def static_key(member: Member, ctx: PlanContext) -> Hashable:
    """What :func:`static_rules` reads of a member, in the catalogue's codes: members with equal
    keys get equal codes (they may differ in organisation, for instance, and see the same items)."""
    roles, owner_ok, city = _member_columns(ctx.items.columns, member)
    return (tuple(roles), owner_ok.tobytes(), member.offline, city if member.location else None,
            ctx.curriculum.in_birthday_week(member, ctx.day), member.situation)


def reach_mask(cols, member: Member, curriculum: Curriculum | None = None) -> np.ndarray:
    """Items the member could ever take by their record alone: targeted at a role they hold, of
    an organisation they see, online unless they attend offline activities, and, given the
    curriculum, not meant for a situation other than theirs (see :func:`static_rules`)."""
    roles, owner_ok, _ = _member_columns(cols, member)
    holds = cols.roles[:, roles].any(axis=1) if roles else np.zeros(len(cols), dtype=bool)
    mask = (~cols.targeted | holds) & owner_ok[cols.owner] & (~cols.offline | member.offline)
    return mask if curriculum is None else mask & ~_other_situation(cols, curriculum, member)


def attendable(cols, members, curriculum: Curriculum | None = None) -> np.ndarray:
    """Rows some of ``members`` could ever take by their records alone (:func:`reach_mask`), an
    offline activity only in a city one of them lives in (or one that names none), as the
    location rule reads it: what a group of members may be told about. Once per kind of member."""
    out = np.zeros(len(cols), dtype=bool)
    kinds = {}
    for m in members:  # in the catalogue's codes: thousands of members are a few kinds
        roles, owner_ok, city = _member_columns(cols, m)
        kinds.setdefault((tuple(roles), owner_ok.tobytes(), m.offline, m.situation, bool(m.location), city), m)
    for (*_, located, city), m in kinds.items():
        elsewhere = cols.offline & located & (cols.city >= 0) & (cols.city != city)  # as the rules read it
        out |= reach_mask(cols, m, curriculum) & ~elsewhere
    return out


def static_rules(ctx: PlanContext, rows: np.ndarray | None = None, *, for_day: bool = True) -> np.ndarray:
    """Codes of the rules that read no history: published, expired, role, organisation, situation,
    birthday week, offline attendance, city, past, date, begun and seats (as if the member had
    not enrolled).

    Args:
        ctx: The planning context (only its member, day, curriculum, catalogue and seats are read).
        rows: Catalogue rows to check; default all.
        for_day: False checks everything but the offline date.
    """
    cols = ctx.items.columns
    rows = np.arange(len(cols)) if rows is None else np.asarray(rows, dtype=np.int64)
    m = ctx.profile.member
    cur = ctx.curriculum
    day = ctx.day.toordinal()
    n = len(rows)

    member_roles, owner_ok, member_city = _member_columns(cols, m)
    holds_role = cols.roles[rows][:, member_roles].any(axis=1) if member_roles else np.zeros(n, dtype=bool)
    offline = cols.offline[rows]
    city = cols.city[rows]
    day_start = dt.datetime.combine(ctx.day, dt.time(), TZ).timestamp()
    seats = np.zeros(len(cols), dtype=np.int64)
    for id_, taken in ctx.seats_taken.items():
        i = cols.row.get(id_)
        if i is not None:
            seats[i] = taken
    capacity = cols.capacity[rows]

    checks = [  # in the order of REASONS
        ("unpublished", cols.published[rows] > day),
        ("expired", cols.expires[rows] < day),
        ("role", cols.targeted[rows] & ~holds_role),
        ("org", ~owner_ok[cols.owner[rows]]),
        ("situation", _other_situation(cols, cur, m)[rows]),
        ("birthday", cols.title_flag(cur.birthday_keywords)[rows] & (not cur.in_birthday_week(m, ctx.day))),
        ("offline", offline & (not m.offline)),
        ("location", offline & bool(m.location) & (city >= 0) & (city != member_city)),
        ("past", offline & (cols.ends_at[rows] <= day_start)),
        ("date", offline & for_day & ((cols.starts_day[rows] > day) | (cols.ends_day[rows] < day))),
        ("begun", offline & for_day & (cols.starts_day[rows] < day)),
        ("full", offline & (capacity >= 0) & (seats[rows] >= capacity)),
    ]
    codes = np.zeros(n, dtype=np.int8)
    for reason, broken in reversed(checks):  # the first rule broken wins
        codes[broken] = _CODE[reason]
    return codes


def hard_rules(
    ctx: PlanContext, rows: np.ndarray | None = None, *, for_day: bool = True, static: np.ndarray | None = None
) -> np.ndarray:
    """The first hard rule each item breaks for the member and day of ``ctx``, as a code.

    Args:
        ctx: The planning context (a rules-only one is enough).
        rows: Distinct catalogue rows to check (see :attr:`recsys.catalogue.Catalogue.columns`);
            default all.
        for_day: As in :func:`recsys.pipeline.infeasibility`: False checks everything but the
            offline date.
        static: The member's :func:`static_rules` codes for the same ``rows`` and ``for_day``,
            if already known (shared by members alike); otherwise read from the context's
            :attr:`~recsys.pipeline.PlanContext.static_rules` if it has them, else computed.

    Returns:
        One ``int8`` code per row: an index into :data:`REASONS`, 0 where no rule is broken.
    """
    cols = ctx.items.columns
    h = ctx.profile.history
    cur = ctx.curriculum
    if static is None and ctx.static_rules is not None:
        every = ctx.static_rules(ctx, for_day)
        static = every if rows is None else every[np.asarray(rows, dtype=np.int64)]
    codes = (static_rules(ctx, rows, for_day=for_day) if static is None else static).copy()
    if rows is None:
        def at(catalogue_rows: np.ndarray) -> np.ndarray:
            return catalogue_rows
    else:
        position = np.full(len(cols), -1, dtype=np.int64)
        position[np.asarray(rows, dtype=np.int64)] = np.arange(len(rows))

        def at(catalogue_rows: np.ndarray) -> np.ndarray:
            """Positions in ``codes`` of those catalogue rows that are checked."""
            found = position[catalogue_rows]
            return found[found >= 0]

    # Seats: an enrolled member keeps theirs, so "full" does not apply to them, nor "begun" to a
    # later day of a course they joined ("begun" and "full" are the last rules: nothing else is
    # hidden behind them).
    pos = at(cols.rows(h.enrolled))
    if len(pos):
        seat = (codes[pos] == _BEGUN) | (codes[pos] == _FULL)
        codes[pos[seat]] = 0
    # Prerequisites: only items that require something can break it, and it comes after the
    # rules of rows 4-7 (publication, expiry, role, organisation).
    if len(cols.req_item):
        done = set(h.completed) | set(ctx.planned)
        missing = np.array([r not in done for r in cols.required], dtype=bool)
        lacks = np.bincount(cols.req_item, weights=missing[cols.req_key], minlength=len(cols)) > 0
        pos = at(np.flatnonzero(lacks))
        if len(pos):
            later = (codes[pos] == 0) | (codes[pos] > _PREREQUISITE)
            codes[pos[later]] = _PREREQUISITE
    # The history's rules come first: cool-down, disliked, completed (set last so it wins).
    due = {i: r for i, r in ctx.profile.reviews.items() if r.due <= ctx.day} if cur.mastery_feedback else {}
    cooldown = cur.cooldown_days
    day = ctx.day
    cooling = set()
    for item_id, shown in h.shown.items():
        review = due.get(item_id) if item_id in h.completed and item_id not in ctx.planned else None
        since = review.since if review is not None else None
        if (since is None or shown > since) and item_id not in h.started and (day - shown).days < cooldown:
            cooling.add(item_id)
    for item_id, skipped in h.skipped.items():
        review = due.get(item_id) if item_id in h.completed and item_id not in ctx.planned else None
        since = review.since if review is not None else None
        if (since is None or skipped > since) and (day - skipped).days < cooldown:
            cooling.add(item_id)
    codes[at(cols.rows(cooling))] = _CODE["cooldown"]
    codes[at(cols.rows(h.disliked))] = _CODE["disliked"]
    blocked = set(ctx.planned) | set(ctx.held_back) | {i for i in h.completed if not (i in due and i not in ctx.planned)}
    codes[at(cols.rows(blocked))] = _CODE["completed"]
    return codes


class StaticRules:
    """The static codes of the whole catalogue per kind of member, computed once per kind.

    For planning or reports over many members on one day with one set of seats: members alike
    in what :func:`static_rules` reads share one array. A context may carry one
    (:attr:`~recsys.pipeline.PlanContext.static_rules`), which :func:`hard_rules` then reads.

    Args:
        for_day: The default of ``for_day`` when called.
        most: Kinds of member kept (the least recently used beyond are computed again if asked).
    """

    def __init__(self, *, for_day: bool = True, most: int = 512) -> None:
        self.for_day = for_day
        self.most = most
        self._codes: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def __call__(self, ctx: PlanContext, for_day: bool | None = None) -> np.ndarray:
        for_day = self.for_day if for_day is None else for_day
        key = (static_key(ctx.profile.member, ctx), for_day)
        codes = self._codes.get(key)
        if codes is None:
            codes = self._codes[key] = static_rules(ctx, for_day=for_day)
            # Kinds of member can run to thousands in a large group (roles x visible owners x
            # city x offline x birthday week), each a code per item: the least recently used go.
            if len(self._codes) > self.most:
                self._codes.popitem(last=False)
        else:
            self._codes.move_to_end(key)
        return codes


class ReachMasks:
    """:func:`reach_mask` for the many members of a report, by kind of member.

    Members alike in what the mask reads (the catalogue's role columns they hold, the owners
    they see, offline attendance) reach the same items, and a large group has far fewer kinds
    than members. :meth:`key` names a member's kind without building the mask; :meth:`__call__` keeps the ``most`` masks used last.

    Args:
        cols: The catalogue's columns.
        curriculum: As for :func:`reach_mask` (then the member's situation is part of the kind).
        most: Masks kept (each one boolean per item).
    """

    def __init__(self, cols, curriculum: Curriculum | None = None, *, most: int = 256) -> None:
        self.cols = cols
        self.curriculum = curriculum
        self.most = most
        self._roles: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._keys: dict[tuple, Hashable] = {}  # by the fields read: a group's members share a few
        self._masks: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def key(self, member: Member) -> Hashable:
        """The member's kind: members with equal keys get equal masks."""
        fields = (member.org, member.roles, member.offline, member.situation)
        found = self._keys.get(fields)
        if found is None:
            owners = self.cols.seen_by(member.org).tobytes()
            roles = self._roles.get(member.roles)
            if roles is None:
                names = self.cols.role_names
                roles = self._roles[member.roles] = tuple(sorted({names.index(r) for r in member.roles if r in names}))
            found = self._keys[fields] = (roles, owners, member.offline,
                                          None if self.curriculum is None else member.situation)
        return found

    def __call__(self, member: Member) -> np.ndarray:
        """:func:`reach_mask` of ``member`` (shared with its kind: do not change it)."""
        key = self.key(member)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = reach_mask(self.cols, member, self.curriculum)
            mask.flags.writeable = False
            if len(self._masks) > self.most:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        return mask

