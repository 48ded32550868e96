"""The coverage report's "members not reached": for whom the hard rules leave no list or no
content for a required topic, who has studied all that is open to them, and who was not shown or
did not study anything lately, branch by branch (section 5 of
:func:`recsys.reports.coverage.build_coverage`).

:func:`reach_in_blocks` answers for a block of members at a time from their events as columns;
:func:`reach_by_member` is the readable reference, member by member from their events, that the
tests hold it to. The hard rules are :func:`recsys.pipeline.masks.hard_rules`, not a copy.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from recsys.pipeline import PlanContext, rules_context
from recsys.pipeline.masks import REASONS, ReachMasks, StaticRules, hard_rules, reach_mask, static_key, static_rules
from recsys.records import TZ, Event, Member
from recsys.storage.base import EventColumns

if TYPE_CHECKING:  # the report's inputs; the report imports this module
    from recsys.reports.coverage import CoverageInputs

__all__ = ["REACH_FLAGS", "Shown", "reach_in_blocks", "reach_by_member"]

#: Member flags of the reach section, with their Chinese labels.
REACH_FLAGS: Mapping[str, str] = {
    "no_feasible_list": "无法生成可行清单",
    "studied_all": "线上内容已全部学完",
    "required_unreachable": "必修主题无可学内容",
    "no_impression_14": "14天无推送",
    "no_impression_30": "30天无推送",
    "no_completion_14": "14天无完成",
    "no_completion_30": "30天无完成",
    "mobile_no_online": "流动党员30天无线上学习",
}


@dataclass(frozen=True)
class Shown:
    """Impressions recorded as events, as columns: member ids, Shanghai days (ordinals) and item
    ids (a member, day and item may repeat)."""

    member: np.ndarray
    day: np.ndarray
    item: np.ndarray

    @classmethod
    def joined(cls, parts: Sequence[Shown]) -> Shown:
        if not parts:
            return cls(np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("member", "day", "item")))

    def as_set(self) -> set[tuple[str, dt.date, str]]:
        """``(member, day, item)`` as :func:`reach_by_member` gives them."""
        return set(zip(self.member.tolist(), map(dt.date.fromordinal, self.day.tolist()), self.item.tolist()))



def reach_in_blocks(
    data: CoverageInputs, members: Sequence[Member], day: dt.date, *, first: int = 1024, kinds: int = 512
) -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, tuple[str, ...]], dict[str, int], Shown, np.ndarray]:
    """Which members the rules leave without a list or a required topic, and who was not shown or
    did not study anything lately, by branch; with the impressions recorded as events in the 90
    days up to ``day`` (as columns), and per catalogue row how many of ``members`` have done the
    item (a complete, attend or quiz event) among those whose record lets them take it
    (:func:`~recsys.pipeline.masks.reach_mask`).

    The answers of :func:`reach_by_member`, the readable reference, over a block of members at
    a time: their events are read as columns (no event object each) and the times last seen are
    array reductions. The hard rules run for a member only when :class:`_OpenToday` cannot tell
    from their kind's shared codes that something is open to them (few members: those whose
    history closes all that is open to their kind for a question); ``first`` and ``kinds`` are
    its bounds."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
    catalogue = data.catalogue
    cols = catalogue.columns
    # Row -1 (an item the catalogue no longer holds) reads the last entry: not online.
    online = np.append(~cols.offline, False)
    rules = _MemberRules(data, day)
    open_today = _OpenToday(rules, first=first, most=kinds)
    policy_of = data.curriculum.for_member
    flags: dict[str, dict[str, list[str]]] = defaultdict(lambda: {k: [] for k in REACH_FLAGS})
    unreachable: dict[str, tuple[str, ...]] = {}
    branch_members: Counter = Counter()
    impressions: list[Shown] = []
    studied = np.zeros(len(cols), dtype=np.int64)
    for part, found in _history_blocks(data, members):
        seen = _BlockHistory(found, end, cols.row, online)
        impressions.append(seen.impressions(end - dt.timedelta(days=90)))
        index = {member: k for k, member in enumerate(found.members)}
        place = [index[m.id] for m in part]
        # Who has done each item of those it is open to, by their record (their kind's mask).
        bounds = np.searchsorted(seen.studied_member, np.arange(len(found.members) + 1)).tolist()
        for m, p in zip(part, place):
            a, b = bounds[p], bounds[p + 1]
            if a < b:
                rows = seen.studied_row[a:b]
                studied[rows[rules.reach_of(m)[rows]]] += 1
        decided = [open_today(m, seen.named[p], policy_of(m).required) for m, p in zip(part, place)]
        # The members the shared codes leave in doubt get the rules of their own history.
        doubtful = [m.id for m, ok in zip(part, decided) if not ok]
        exact = data.histories(doubtful) if doubtful else {}
        late = {key: {w: seen.before(key, (end - dt.timedelta(days=w)).timestamp()) for w in (14, 30)}
                for key in ("impression", "completion")}
        no_online_month = seen.before("online", (end - dt.timedelta(days=30)).timestamp())
        for m, p, ok in zip(part, place, decided):
            branch_members[m.org] += 1
            row = flags[m.org]
            if not ok:
                rules.mark(m, _until(exact.get(m.id, ()), end), row, unreachable)
            for window in (14, 30):
                for key in ("impression", "completion"):
                    if late[key][window][p]:
                        row[f"no_{key}_{window}"].append(m.id)
            if m.situation == "mobile" and no_online_month[p]:
                row["mobile_no_online"].append(m.id)
    reach = {b: {k: tuple(v) for k, v in f.items()} for b, f in sorted(flags.items())}
    return reach, unreachable, dict(sorted(branch_members.items())), Shown.joined(impressions), studied


def reach_by_member(
    data: CoverageInputs, members: Sequence[Member], day: dt.date
) -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, tuple[str, ...]], dict[str, int],
           set[tuple[str, dt.date, str]], Counter]:
    """:func:`reach_in_blocks` member by member from their events: the reference the tests hold it to
    (who has done each item: a count by item id)."""
    cols = data.catalogue.columns
    studied: Counter = Counter()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
    exposure_start = end - dt.timedelta(days=90)
    impressions: set[tuple[str, dt.date, str]] = set()
    online_ids = {i for i, it in data.catalogue.items.items() if it.online}
    rules = _MemberRules(data, day)
    flags: dict[str, dict[str, list[str]]] = defaultdict(lambda: {k: [] for k in REACH_FLAGS})
    unreachable: dict[str, tuple[str, ...]] = {}
    branch_members: Counter = Counter()
    for m, events in _histories(data, members, end):
        branch_members[m.org] += 1
        row = flags[m.org]
        last = _last_seen(events, online_ids)
        for e in reversed(events):  # in time order: the window is the end of the history
            if e.at < exposure_start:
                break
            if e.kind == "impression":
                impressions.add((m.id, e.at.astimezone(TZ).date(), e.item))
        rules.mark(m, events, row, unreachable)
        mine = reach_mask(cols, m, data.curriculum)
        studied.update({e.item for e in events if e.kind in ("complete", "attend", "quiz")
                        and e.item in cols.row and mine[cols.row[e.item]]})
        for window in (14, 30):
            since = end - dt.timedelta(days=window)
            for key in ("impression", "completion"):
                seen = last.get(key)
                if seen is None or seen < since:
                    row[f"no_{key}_{window}"].append(m.id)
        online = last.get("online")
        if m.situation == "mobile" and (online is None or online < end - dt.timedelta(days=30)):
            row["mobile_no_online"].append(m.id)
    reach = {b: {k: tuple(v) for k, v in f.items()} for b, f in sorted(flags.items())}
    return reach, unreachable, dict(sorted(branch_members.items())), impressions, studied


_NOT_YET = [REASONS.index(r) for r in ("unpublished", "expired", "situation")]
_COMPLETED = REASONS.index("completed")


class _MemberRules:
    """One member's hard rules over the whole catalogue and what the report reads of them: no
    item fits the day, every online item they may take is completed, and the required topics
    with nothing they can take on any day. The part of the rules that reads no history is shared
    by members alike."""

    def __init__(self, data: CoverageInputs, day: dt.date) -> None:
        self.data, self.day = data, day
        self.static_today, self.static_any_day = StaticRules(), StaticRules(for_day=False)
        self.reach_of = ReachMasks(data.catalogue.columns, data.curriculum)
        self._rows_of: dict[str, np.ndarray] = {}

    def topic_rows(self, topic: str) -> np.ndarray:
        found = self._rows_of.get(topic)
        if found is None:
            catalogue = self.data.catalogue
            found = self._rows_of[topic] = catalogue.columns.rows(catalogue.by_topic.get(topic, ()))
        return found

    def context(self, m: Member, events: Sequence[Event] = ()) -> PlanContext:
        """What the hard rules read of ``m`` with their events up to the end of the day."""
        data = self.data
        return rules_context(m, self.day, events, items=data.catalogue, index=data.index,
                             curriculum=data.curriculum, seats_taken=data.seats_taken,
                             duplicate_threshold=data.duplicate_threshold)

    def __call__(self, m: Member, events: Sequence[Event]) -> tuple[bool, bool, tuple[str, ...]]:
        """``(no feasible list, studied all, required topics unreachable)`` for ``m`` with their
        events up to the end of the day."""
        cols = self.data.catalogue.columns
        ctx = self.context(m, events)
        # The hard rules for the whole catalogue at once, for the day and for any day; the part
        # that reads no history is shared by members alike.
        codes = hard_rules(ctx, static=self.static_today(ctx))
        today = codes == 0
        no_list = not (today & (cols.minutes <= m.daily_minutes)).any()
        # Nothing left to study: every online item the member's record lets them take (published,
        # not expired) is completed; new content is what they need.
        studied_all = False
        if not (today & ~cols.offline).any():  # else something online is open: not all studied
            could = ~cols.offline & self.reach_of(m) & ~np.isin(codes, _NOT_YET)
            studied_all = bool(could.any() and (codes[could] == _COMPLETED).all())
        # What is open today is open on some day: the any-day rules are needed only for the
        # required topics with nothing open today.
        required = [t for t in self.data.curriculum.for_member(m).required if not today[self.topic_rows(t)].any()]
        if required:
            any_day = hard_rules(ctx, for_day=False, static=self.static_any_day(ctx)) == 0
            required = [t for t in required if not any_day[self.topic_rows(t)].any()]
        return no_list, studied_all, tuple(sorted(required))

    def mark(self, m: Member, events: Sequence[Event], row: dict[str, list[str]],
             unreachable: dict[str, tuple[str, ...]]) -> None:
        """Note what the rules find for ``m`` in their branch's ``row`` of flags and in
        ``unreachable`` (required topics by member)."""
        no_list, studied_all, missing = self(m, events)
        if no_list:
            row["no_feasible_list"].append(m.id)
        if studied_all:
            row["studied_all"].append(m.id)
        if missing:
            unreachable[m.id] = missing
            row["required_unreachable"].append(m.id)


class _OpenToday:
    """Whether something is open today to a member for each question of :class:`_MemberRules`,
    told from their kind's shared codes and the rows their history names, without their rules.

    :func:`recsys.pipeline.masks.hard_rules` lays a member's history over the static codes of
    their kind only at rows the history names (completed, shown, skipped, disliked, enrolled) and
    at rows that require something; every other row keeps the static code. So a row open in the
    static codes, requiring nothing and named by none of the member's events is open to the
    member. Among the first ``n + 1`` such rows of a kind, where the member's events name ``n``
    rows, one is not named: a handful of set lookups a member settles each question, and when
    none is found (everything open to the kind is in the member's history) the member's own
    rules answer.

    Args:
        rules: The report's rules (their data, day, contexts and topic rows).
        first: Rows kept per kind and question. A row found among them proves the answer; a
            member whose history names all of them (a history longer than ``first`` items) gets
            their own rules.
        most: Kinds of member kept (the least recently used beyond are computed again if asked):
            each holds a flag per item, as :class:`~recsys.pipeline.masks.StaticRules` does.
    """

    def __init__(self, rules: _MemberRules, *, first: int = 1024, most: int = 512) -> None:
        self.rules, self.first, self.most = rules, first, most
        cols = rules.data.catalogue.columns
        self.free = ~(np.bincount(cols.req_item, minlength=len(cols)) > 0)
        self._kinds: OrderedDict[Hashable, _KindRows] = OrderedDict()
        self._template: PlanContext | None = None

    def kind(self, m: Member) -> _KindRows:
        # static_key reads the member it is given and only the catalogue, curriculum and day of
        # the context: one context of the day names every member's kind.
        if self._template is None:
            self._template = self.rules.context(m)
        key = static_key(m, self._template)
        found = self._kinds.get(key)
        if found is None:
            found = self._kinds[key] = _KindRows(self, static_rules(self.rules.context(m)) == 0)
            if len(self._kinds) > self.most:
                self._kinds.popitem(last=False)
        else:
            self._kinds.move_to_end(key)
        return found

    def __call__(self, m: Member, named: set[int], required: Iterable[str]) -> bool:
        """True if, for every question, a row open to ``m``'s kind and named by none of ``named``
        (the rows of their events up to the end of the day) answers it."""
        kind = self.kind(m)
        need = len(named) + 1
        # named.issuperset(rows): every row of the few looked at is in the member's history.
        fits = kind.by_minutes[:min(bisect_right(kind.minutes, m.daily_minutes), need)]
        if named.issuperset(fits) or named.issuperset(kind.online[:need]):
            return False
        topic = kind.topic
        for t in required:
            if named.issuperset(topic(t)[:need]):
                return False
        return True


class _KindRows:
    """The first rows open to a kind of member whatever their history (open in the kind's static
    codes, requiring nothing): by minutes (with the minutes, ascending), online, by topic. Lists,
    not arrays: each member slices a few and looks them up in a set."""

    def __init__(self, owner: _OpenToday, open_: np.ndarray) -> None:
        cols = owner.rules.data.catalogue.columns
        first = owner.first
        self.owner = owner
        self.open = open_ & owner.free
        rows = np.flatnonzero(self.open)
        order = np.argsort(cols.minutes[rows], kind="stable")[:first]
        self.by_minutes: list[int] = rows[order].tolist()
        self.minutes: list[int] = cols.minutes[rows][order].tolist()
        self.online: list[int] = np.flatnonzero(self.open & ~cols.offline)[:first].tolist()
        self._topics: dict[str, list[int]] = {}

    def topic(self, topic: str) -> list[int]:
        found = self._topics.get(topic)
        if found is None:
            rows = self.owner.rules.topic_rows(topic)
            found = self._topics[topic] = rows[self.open[rows]][:self.owner.first].tolist()
        return found


class _BlockHistory:
    """What the report reads of a block of members' events (columns, up to ``end``): the rows of
    the catalogue each member's events name, when each last had an impression, a completion and
    any online study, and their impressions."""

    def __init__(self, found: EventColumns, end: dt.datetime, row: Mapping[str, int], online: np.ndarray) -> None:
        keep = found.at <= end.timestamp()  # events after the as-of day are left out
        self.members = found.members
        self.member, self.item, self.kind, self.at = found.member[keep], found.item[keep], found.kind[keep], found.at[keep]
        rows = np.fromiter(map(row.get, self.item, repeat(-1)), dtype=np.int64, count=len(self.item))
        self.impression = self.kind == "impression"
        n = len(self.members)
        known = rows >= 0
        bounds = np.searchsorted(self.member[known], np.arange(n + 1)).tolist()
        flat = rows[known].tolist()
        self.named: list[set[int]] = [set(flat[a:b]) for a, b in zip(bounds, bounds[1:])]
        # As _last_seen: an impression is only an impression; any other event of an online item
        # is online study.
        done = (self.kind == "complete") | (self.kind == "attend")
        self.last = {"impression": self._last(self.impression), "completion": self._last(done),
                     "online": self._last(~self.impression & online[rows])}
        # What each member has done (a quiz taken is the quiz done), once. Progress of 95 % and
        # more, which the rules count too, is not: the columns carry no event's value.
        studied = (done | (self.kind == "quiz")) & known
        pairs = np.unique(self.member[studied] * (len(online) + 1) + rows[studied])
        self.studied_member, self.studied_row = pairs // (len(online) + 1), pairs % (len(online) + 1)

    def _last(self, mask: np.ndarray) -> np.ndarray:
        out = np.full(len(self.members), -np.inf)
        np.maximum.at(out, self.member[mask], self.at[mask])
        return out

    def before(self, key: str, since: float) -> np.ndarray:
        """Per member: never, or last before ``since`` (seconds since the epoch)."""
        return self.last[key] < since

    def impressions(self, start: dt.datetime) -> Shown:
        """The impressions from ``start``, on their Shanghai days."""
        sel = self.impression & (self.at >= start.timestamp())
        times, which = np.unique(self.at[sel], return_inverse=True)
        days = np.array([dt.datetime.fromtimestamp(t, TZ).toordinal() for t in times.tolist()], dtype=np.int64)
        return Shown(np.array(self.members, dtype=object)[self.member[sel]], days[which].reshape(-1), self.item[sel])


def _history_blocks(data: CoverageInputs, members: Sequence[Member], block: int = 1_000
                    ) -> Iterator[tuple[Sequence[Member], EventColumns]]:
    """Each block of members with their events as columns: a report over a large group holds one
    block's events, not every event of the store."""
    for first in range(0, len(members), block):
        part = members[first:first + block]
        ids = [m.id for m in part]
        if data.history_columns is not None:
            yield part, data.history_columns(ids)
        else:
            found = data.histories(ids)
            yield part, EventColumns.from_rows(ids, [(m, e.item, e.kind, e.at.timestamp(), n)
                                                     for m in ids for n, e in enumerate(found.get(m, ()))])


def _until(events: Sequence[Event], end: dt.datetime) -> Sequence[Event]:
    """The events (in time order) up to ``end``."""
    cut = len(events)
    while cut and events[cut - 1].at > end:  # in time order: later events are at the end
        cut -= 1
    return events[:cut]


def _histories(data: CoverageInputs, members: Sequence[Member], end: dt.datetime, block: int = 1_000):
    """Each member with their events up to ``end``, read a block of members at a time."""
    for first in range(0, len(members), block):
        part = members[first:first + block]
        found = data.histories([m.id for m in part])
        for m in part:
            yield m, _until(found.get(m.id, ()), end)


def _last_seen(events: Sequence[Event], online_ids: set[str]) -> dict[str, dt.datetime]:
    """When a member's events (in time order) last were an impression, a completion, and any
    online study: read from the end, stopping once all three are found."""
    last: dict[str, dt.datetime] = {}
    for e in reversed(events):
        if e.kind == "impression":
            last.setdefault("impression", e.at)
            continue
        if e.kind in ("complete", "attend"):
            last.setdefault("completion", e.at)
        if e.item in online_ids:
            last.setdefault("online", e.at)
        if len(last) == 3:
            break
    return last
