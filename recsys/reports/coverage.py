"""Coverage for content editors: what is missing, what nobody sees, who is not reached.

:func:`build_coverage` reads a catalogue, members, events and served lists (:class:`CoverageInputs`) as of a day
and returns a :class:`CoverageReport` with six sections:

1. **supply** — for each role × required topic, the hours of content a member of that role may
   take (online and offline, by level) against the demand (members × their hour target);
2. **health** — kinds or levels missing for a required topic, stale current-affairs items, items
   expiring soon, offline activities of the next 30 days with their seats, broken or cyclic
   prerequisite chains;
3. **exposure** — items never or rarely served in the last 30/90 days, the Gini of exposure, and
   why each never-served item is not reaching anyone;
4. **duplicates** — clusters of items with the same content (embeddings above a threshold);
5. **reach** — members for whom no list can be built or whose required topics have no content they
   can take, members without impressions or completions in 14/30 days, mobile members with no
   online activity, branch by branch;
6. **gaps** — every gap ranked by members hurt, each with the closest existing items an editor
   could re-target or extend and a short description (Chinese) of what to commission.

The hard rules come from :func:`recsys.pipeline.masks.hard_rules`, checked against the reference
:func:`recsys.pipeline.infeasibility`: not from a copy of them here. Section 5 is
:mod:`recsys.reports.reach`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from recsys.curriculum import Curriculum
from recsys.catalogue import Catalogue, Columns
from recsys.embedding.index import VectorIndex
from recsys.pipeline.explain import book_title
from recsys.pipeline.masks import ReachMasks, reach_mask
from recsys.orgs import display_org, within
from recsys.records import TZ, Event, Item, Member, city_key
from recsys.reports.reach import REACH_FLAGS, Shown, reach_in_blocks
from recsys.storage.base import EventColumns


__all__ = [
    "CoverageReport",
    "CoverageInputs",
    "SupplyCell",
    "Gap",
    "ItemRef",
    "build_coverage",
    "format_coverage",
    "gini",
    "KIND_GROUPS",
    "NEVER_SERVED_REASONS",
]

#: Kinds an editor expects for every required topic, grouped: any one kind of a group covers it.
KIND_GROUPS: Mapping[str, tuple[str, ...]] = {
    "课程": ("lecture", "video", "article"),
    "案例": ("case",),
    "答题": ("quiz",),
}
#: Why an item was never served, in the order they are checked, with their Chinese labels.
NEVER_SERVED_REASONS: Mapping[str, str] = {
    "unpublished": "尚未发布",
    "expired": "已过期或活动已结束",
    "no_role": "面向的角色无人担任",
    "no_audience": "没有党员能参加（组织范围、线下条件）",
    "prerequisite": "前置内容缺失、循环或不可达",
    "studied": "能学的党员都已学完",
    "out_competed": "可推送但总被其他内容挤掉",
}
_LEVELS = (1, 2, 3)
#: How far above the catalogue's mean similarity to a gap's topic (in standard deviations) an
#: item must be to be suggested for it.
RELATED_SPREAD = 3.0


def _hours(minutes: float) -> float:
    return round(minutes / 60, 2)


@dataclass(frozen=True)
class ItemRef:
    """An item as the report names it: id, title and, where it matters, a score or count."""

    id: str
    title: str
    value: float | None = None


@dataclass(frozen=True)
class SupplyCell:
    """Supply against demand for one role and one required topic.

    Attributes:
        role: The role id.
        role_name: Its Chinese name.
        topic: The required topic.
        members: Members of the role with an hour target in the topic.
        target_hours: Hours a year one member of the role needs in the topic (the largest target).
        demand_hours: Sum of those members' targets.
        online_hours: Hours of online content by level (``"1"``..``"3"``) that the cell's median
            member (by hours in the topic) can take: their roles, organisation, situation, less
            items whose prerequisites cannot be met.
        offline_hours: That member's hours of offline activities by level, each activity by
            their share of its seats (it counts in full when it has a seat for everyone it is
            open to).
        short_members: Members whose own content in the topic (counted as for the median
            member) is less than their target.
        shortfall_hours: The largest shortfall among them (hours to add so that none is short).
    """

    role: str
    role_name: str
    topic: str
    members: int
    target_hours: float
    demand_hours: float
    online_hours: Mapping[str, float]
    offline_hours: Mapping[str, float]
    short_members: tuple[str, ...]
    shortfall_hours: float = 0.0

    @property
    def supply_hours(self) -> float:
        return round(sum(self.online_hours.values()) + sum(self.offline_hours.values()), 2)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["short_members"] = list(self.short_members)
        out["supply_hours"] = self.supply_hours
        return out


@dataclass(frozen=True)
class Gap:
    """Something missing, with what to do about it.

    Attributes:
        kind: ``supply`` (a role's topic has fewer hours than its members need), ``unreachable``
            (members have no content they can take in a required topic), ``kind`` (a kind of
            content missing for a topic) or ``level`` (a level missing for a topic).
        topic: The topic.
        role: For ``supply`` gaps, the role with the most members short (all are in ``roles``).
        members_hurt: Members affected, each once (a member may hold several short roles).
        detail: What is wrong, in Chinese.
        commission: What to commission, in Chinese.
        closest: Existing items closest to the gap (re-target or extend them), best first.
        roles: For ``supply`` gaps, every role short in the topic, most members short first.
        role_names: Their Chinese names.
    """

    kind: str
    topic: str
    role: str | None
    members_hurt: int
    detail: str
    commission: str
    closest: tuple[ItemRef, ...] = ()
    roles: tuple[str, ...] = ()
    role_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["closest"] = [asdict(r) for r in self.closest]
        out["roles"], out["role_names"] = list(self.roles), list(self.role_names)
        return out


@dataclass(frozen=True)
class CoverageReport:
    """The coverage of a catalogue for one organisation (or all) as of a day.

    Every section is plain data (see :meth:`to_dict` for the JSON form); ``gaps`` are ranked by
    members hurt, most first.
    """

    org: str | None
    day: dt.date
    encoder: str
    duplicate_threshold: float
    counts: Mapping[str, int]
    supply: tuple[SupplyCell, ...]
    gaps: tuple[Gap, ...]
    missing_kinds: Mapping[str, tuple[str, ...]]
    missing_levels: Mapping[str, tuple[int, ...]]
    stale: tuple[ItemRef, ...]
    expiring: tuple[ItemRef, ...]
    offline_upcoming: Mapping[str, tuple[dict[str, Any], ...]]
    broken_prerequisites: Mapping[str, tuple[str, ...]]
    prerequisite_cycles: tuple[tuple[str, ...], ...]
    served: Mapping[int, Mapping[str, int]]
    never_served: Mapping[str, str]
    rarely_served: tuple[ItemRef, ...]
    gini: Mapping[int, float]
    duplicates: tuple[tuple[tuple[ItemRef, ...], float], ...]
    reach: Mapping[str, Mapping[str, tuple[str, ...]]]
    required_unreachable: Mapping[str, tuple[str, ...]]
    branch_members: Mapping[str, int] = field(default_factory=dict)
    #: Titles of the items in scope and names of its members, so that every section can name
    #: them rather than show ids.
    item_titles: Mapping[str, str] = field(default_factory=dict)
    member_names: Mapping[str, str] = field(default_factory=dict)
    #: Display names of the organisations the report shows, by code (see :mod:`recsys.orgs`).
    org_names: Mapping[str, str] = field(default_factory=dict)

    def title(self, item: str) -> str:
        return self.item_titles.get(item, item)

    def name(self, member: str) -> str:
        return self.member_names.get(member, member)

    def org_name(self, org: str | None) -> str:
        """What the report calls an organisation: its display name, else its code (None: all)."""
        return "全部组织" if org is None else display_org(org, self.org_names)

    @property
    def supply_gaps(self) -> list[Gap]:
        return [g for g in self.gaps if g.kind == "supply"]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (dates as ISO strings, windows as ``"30"``/``"90"``)."""
        return {
            "org": self.org,
            "org_name": None if self.org is None else self.org_name(self.org),
            "org_names": dict(self.org_names),
            "day": self.day.isoformat(),
            "encoder": self.encoder,
            "counts": dict(self.counts),
            "supply": [c.to_dict() for c in self.supply],
            "gaps": [g.to_dict() for g in self.gaps],
            "health": {
                "missing_kinds": {t: list(k) for t, k in self.missing_kinds.items()},
                "missing_levels": {t: list(v) for t, v in self.missing_levels.items()},
                "stale": [asdict(r) for r in self.stale],
                "expiring": [asdict(r) for r in self.expiring],
                "offline_upcoming": {b: list(rows) for b, rows in self.offline_upcoming.items()},
                "broken_prerequisites": {i: list(m) for i, m in self.broken_prerequisites.items()},
                "prerequisite_cycles": [list(c) for c in self.prerequisite_cycles],
            },
            "exposure": {
                "served": {str(w): dict(c) for w, c in self.served.items()},
                "gini": {str(w): g for w, g in self.gini.items()},
                "never_served": [
                    {"id": i, "title": self.title(i), "reason": r, "label": NEVER_SERVED_REASONS[r]}
                    for i, r in self.never_served.items()
                ],
                "rarely_served": [asdict(r) for r in self.rarely_served],
            },
            "duplicates": {
                "threshold": self.duplicate_threshold,
                "clusters": [{"items": [asdict(r) for r in refs], "min_cosine": round(s, 4)}
                             for refs, s in self.duplicates],
            },
            "reach": {
                "branches": {b: {k: list(v) for k, v in flags.items()} for b, flags in self.reach.items()},
                "branch_members": dict(self.branch_members),
                "required_unreachable": {m: list(t) for m, t in self.required_unreachable.items()},
                "member_names": {m: self.name(m) for b in self.reach.values() for ms in b.values() for m in ms},
            },
        }


def gini(values: Iterable[float]) -> float:
    """The Gini coefficient of non-negative values: 0 when equal, towards 1 when one takes all.

    Returns 0 for no values or all zeros.
    """
    x = np.sort(np.asarray(list(values), dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def _within(org: str, scope: str | None) -> bool:
    return scope is None or within(org, scope)


def _visible(item: Item, scope: str | None) -> bool:
    if scope is None or item.org is None:
        return True
    return within(item.org, scope) or within(scope, item.org)


def _live(item: Item, day: dt.date) -> bool:
    """Published, not expired and (offline) not over by ``day``."""
    if item.published > day or (item.expires is not None and item.expires < day):
        return False
    return item.schedule is None or item.schedule.ends > dt.datetime.combine(day, dt.time(), TZ)


def _cycles(items: Mapping[str, Item]) -> list[tuple[str, ...]]:
    """Strongly connected groups of two or more items along ``requires`` (cyclic chains)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    ids = sorted(items)
    pos = {i: n for n, i in enumerate(ids)}
    rows, cols = [], []
    for i in ids:
        for r in items[i].requires:
            if r in pos:
                rows.append(pos[i])
                cols.append(pos[r])
    if not rows:
        return []
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=True, connection="strong")
    groups: dict[int, list[str]] = defaultdict(list)
    for i, label in zip(ids, labels):
        groups[int(label)].append(i)
    return sorted(tuple(g) for g in groups.values() if len(g) > 1)


def _blocked(items: Mapping[str, Item], day: dt.date, cycles: Sequence[tuple[str, ...]]) -> set[str]:
    """Items whose prerequisite chain cannot be completed: a required item missing, expired or
    unpublished, in a cycle, or itself blocked."""
    blocked = {i for c in cycles for i in c}
    changed = True
    while changed:
        changed = False
        for i, it in items.items():
            if i in blocked:
                continue
            if any(r not in items or r in blocked or not _live(items[r], day) for r in it.requires):
                blocked.add(i)
                changed = True
    return blocked


@dataclass(frozen=True)
class CoverageInputs:
    """What a coverage report reads, gathered once by the caller (the engine reads it from its store).

    Attributes:
        catalogue: Every item.
        index: The vectors of the items (duplicates, closest items to a gap).
        members: Every member (the report keeps those of its organisation).
        histories: The events of a block of members, each member's in time order (the report
            reads its members' histories a block at a time and keeps none of them; events after
            the as-of day are left out by the report).
        history_columns: The events of a block of members as columns (what the report reads
            of most members' histories, without an event object each); None: made from
            ``histories``.
        served: Lists served in the 90 days up to the as-of day: ``(member, day, item ids)``.
        seats_taken: Enrolments per offline activity (at least those of the coming weeks).
        curriculum: The curriculum policy.
        encode_queries: Embeds short texts on the query side (topics of gaps).
        encoder_name: The encoder's name (it sets the default duplicate threshold).
        duplicate_threshold: The engine's cosine for "the same content" in lists.
        org_names: Display names of organisations, by code (the report names units by them).
    """

    catalogue: Catalogue
    index: VectorIndex
    members: Sequence[Member]
    histories: Callable[[Sequence[str]], Mapping[str, Sequence[Event]]]
    served: Sequence[tuple[str, dt.date, list[str]]]
    seats_taken: Mapping[str, int]
    curriculum: Curriculum
    encode_queries: Callable[[list[str]], np.ndarray]
    encoder_name: str
    duplicate_threshold: float
    org_names: Mapping[str, str] = field(default_factory=dict)
    history_columns: Callable[[Sequence[str]], EventColumns] | None = None


def build_coverage(
    data: CoverageInputs,
    *,
    org: str | None = None,
    day: dt.date | None = None,
    duplicate_threshold: float | None = None,
    horizon_days: int = 30,
    rare_share: float = 0.1,
    closest: int = 3,
) -> CoverageReport:
    """The coverage report for organisation ``org`` as of ``day``.

    Args:
        data: The catalogue, members, events, served lists and components it reads.
        org: The organisation (it and the units under it; its own and shared items); None: all.
        day: The as-of day (default: today, Asia/Shanghai).
        duplicate_threshold: Cosine at or above which two items are the same content; default:
            the recommender's (``data.duplicate_threshold``), so the report shows as duplicates
            what lists treat as the same content. A stricter one, such as
            :func:`recsys.embedding.duplicates.coverage_threshold`, lists fewer false alarms.
        horizon_days: Window for items expiring soon and upcoming offline activities.
        rare_share: An item served at least once but fewer times than this share of the mean
            exposure of live items (90 days) is "rarely served".
        closest: Existing items suggested per gap.

    Returns:
        The :class:`CoverageReport`.
    """
    day = day or dt.datetime.now(TZ).date()
    curriculum = data.curriculum
    catalogue = data.catalogue
    items = {i: it for i, it in catalogue.items.items() if _visible(it, org)}
    members = [m for m in data.members if _within(m.org, org)]
    live = {i: it for i, it in items.items() if _live(it, day)}
    # The recommender's own threshold by default: an editor sees as one content what the engine
    # treats as one (a member who completed either is never offered the other).
    threshold = data.duplicate_threshold if duplicate_threshold is None else duplicate_threshold

    cycles = _cycles(items)
    broken = {i: tuple(r for r in it.requires if r not in items) for i, it in sorted(items.items())
              if any(r not in items for r in it.requires)}
    blocked = _blocked(items, day, cycles)
    supply = _supply(curriculum, members, data.members, live, catalogue.columns, blocked)
    missing_kinds, missing_levels = _health_topics(supply, live)
    # One pass over the members' histories, a block at a time: who is reached, and what they
    # were shown as impressions recorded as events.
    reach, unreachable, branch_members, impressions, studied = reach_in_blocks(data, members, day)
    served, never, rarely, gini_by, n_lists = _exposure(data.served, impressions, studied, items, catalogue.columns,
                                                         data.curriculum, members, day, blocked, rare_share)

    def ref(i: str, value: float | None = None) -> ItemRef:
        return ItemRef(i, items[i].title, value)

    stale_before = day - dt.timedelta(days=round(3 * curriculum.fresh_days))
    # Online only: an upcoming activity is as current as its date, whenever it was announced.
    stale = tuple(ref(i) for i, it in sorted(live.items())
                  if it.online and set(it.topics) & set(curriculum.current_topics) and it.published < stale_before)
    until = day + dt.timedelta(days=horizon_days)
    expiring = tuple(ref(i, float((it.expires - day).days)) for i, it in sorted(live.items())
                     if it.expires is not None and it.expires <= until)
    upcoming = _offline_upcoming(data.seats_taken, live, day, until)

    ids = sorted(live)
    dup = data.catalogue.duplicate_clusters(ids, threshold)
    duplicates = tuple((tuple(ref(i) for i in c), s) for c, s in dup)

    gaps = _gaps(data, supply, missing_kinds, missing_levels, unreachable, members, live, closest)
    counts = {"items": len(items), "live_items": len(live), "members": len(members),
              "served_lists_90": n_lists}
    return CoverageReport(
        org=org, day=day, encoder=data.encoder_name, duplicate_threshold=threshold, counts=counts,
        supply=tuple(supply), gaps=tuple(gaps), missing_kinds=missing_kinds, missing_levels=missing_levels,
        stale=stale, expiring=expiring, offline_upcoming=upcoming, broken_prerequisites=broken,
        prerequisite_cycles=tuple(cycles), served=served, never_served=never,
        rarely_served=tuple(ref(i, float(n)) for i, n in rarely), gini=gini_by, duplicates=duplicates,
        reach=reach, required_unreachable=unreachable, branch_members=branch_members,
        item_titles={i: it.title for i, it in items.items()}, member_names={m.id: m.name for m in members},
        org_names=_names_shown(data.org_names, org, branch_members, upcoming),
    )


def _names_shown(names: Mapping[str, str], org: str | None, branches: Mapping[str, int],
                 offline: Mapping[str, Any]) -> dict[str, str]:
    """The display names of the organisations a report shows: its own, its branches and their
    parents (the dashboard's unit filter), and the owners of its offline activities."""
    shown = {org} if org is not None else set()
    for code in [*branches, *offline]:
        parts = code.split(".")
        shown.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return {code: names[code] for code in sorted(shown) if code in names}


# -- 1. supply against demand -------------------------------------------------------------

def _supply(
    curriculum: Curriculum, members: Sequence[Member], everyone: Sequence[Member], live: Mapping[str, Item],
    cols: Columns, blocked: set[str],
) -> list[SupplyCell]:
    """Each role's required topics: the hours a member of the role can take against their target.

    A member's hours in a topic are those of the live items their record lets them take (roles,
    organisation, situation, offline attendance and city), less items whose prerequisite chain
    cannot be completed; an offline activity with fewer seats than the members it is open to
    counts for each of them by their share of its seats (30 seats open to 3,000 members: one
    hundredth of its hours each), since only that many can attend; those it is open to are
    counted among ``everyone``, a report on one branch sharing a group's activity with the rest. A cell's hours by level are
    those of its median member (by hours in the topic), what a typical member of the role has
    to study; the members short are each member against their own target.
    """
    open_rows = [cols.row[i] for i, it in live.items() if i not in blocked]
    by_topic: dict[str, list[int]] = defaultdict(list)
    for r in open_rows:
        for t in live[cols.ids[r]].topics:
            by_topic[t].append(r)
    topic_rows = {t: np.asarray(rows, dtype=np.int64) for t, rows in by_topic.items()}
    level_at = {lv: n for n, lv in enumerate(_LEVELS)}
    # Which of the six sums (online by level, then offline by level) an item's hours go to.
    slot = np.array([3 * int(off) + level_at.get(int(lv), 0) for lv, off in zip(cols.level, cols.offline)],
                    dtype=np.int64)
    reach = ReachMasks(cols, curriculum)
    city_of = {city: n for n, city in enumerate(cols.cities)}
    cities: dict[str, int] = {}  # by location as written: a roster repeats a few

    def kind_of(m: Member) -> Hashable:
        if not m.location:
            return reach.key(m), None
        city = cities.get(m.location)
        if city is None:
            city = cities[m.location] = city_of.get(city_key(m.location), -2)
        return reach.key(m), city

    # What reaches a member depends only on their record: one mask per kind of member, where a
    # large group has thousands of kinds for hundreds of thousands of members.
    kind_of_id = {(m.org, m.id): kind_of(m) for m in everyone}  # ids are an enterprise's own
    kinds: dict[Hashable, Member] = {}
    for m in everyone:
        kinds.setdefault(kind_of_id[m.org, m.id], m)
    count = Counter(kind_of_id.values())
    kind_by = [kind_of_id[m.org, m.id] for m in members]

    def mask_of(k: Hashable) -> np.ndarray:
        m = kinds[k]
        mask = reach(m)
        if k[1] is not None:  # an activity in another city is not one this member can go to
            mask = mask & ~(cols.offline & (cols.city >= 0) & (cols.city != k[1]))
        return mask

    # Seats shared among those an activity is open to: the share of its hours each can expect.
    open_to = np.zeros(len(cols), dtype=np.int64)
    for k, n in count.items():
        open_to += mask_of(k) * n
    share = np.ones(len(cols))
    limited = cols.offline & (cols.capacity >= 0) & (open_to > 0)
    share[limited] = np.minimum(1.0, cols.capacity[limited] / open_to[limited])
    minutes = cols.minutes.astype(np.float64) * share
    # Per kind of member, each topic's minutes in the six sums: a few floats a kind, where a
    # mask a kind would hold a gigabyte for a group of thousands of kinds over 100,000 items.
    hours: dict[Hashable, dict[str, np.ndarray]] = {}
    totals: dict[Hashable, dict[str, float]] = {}  # the six summed, read per member and topic

    def own_hours(k: Hashable) -> dict[str, np.ndarray]:
        found = hours.get(k)
        if found is None:
            mask = mask_of(k)
            found = hours[k] = {t: np.bincount(slot[rows[mask[rows]]], weights=minutes[rows[mask[rows]]],
                                               minlength=6) / 60 for t, rows in topic_rows.items()}
            totals[k] = {t: float(six.sum()) for t, six in found.items()}
        return found

    none = np.zeros(6)
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for m, k in zip(members, kind_by):
        policy = curriculum.for_member(m)
        # Each required topic under the role that requires it most of the member, the role their
        # target comes from: a cadre who is also a 党员 counts once, under 领导干部, not again under
        # 党员 with a cadre's hours.
        for topic, (_, role) in policy.required.items():
            target = policy.topic_target(topic)
            if target <= 0:
                continue  # no hard requirement (e.g. infirm members)
            cell = cells.get((role, topic))
            if cell is None:
                cell = cells[role, topic] = {"members": 0, "target": 0.0, "demand": 0.0, "short": [],
                                             "shortfall": 0.0, "kinds": Counter()}
            cell["members"] += 1
            cell["target"] = max(cell["target"], target)
            cell["demand"] += target
            cell["kinds"][k] += 1
            if k not in totals:
                own_hours(k)
            mine = totals[k].get(topic, 0.0)
            if mine + 1e-9 < target:
                cell["short"].append(m.id)
                cell["shortfall"] = max(cell["shortfall"], target - mine)
    out = []
    for (role, topic), c in sorted(cells.items()):
        typical = _median_member(c["kinds"], lambda k, t=topic: own_hours(k).get(t, none))
        out.append(SupplyCell(
            role=role, role_name=curriculum.role_name(role), topic=topic, members=c["members"],
            target_hours=round(c["target"], 2), demand_hours=round(c["demand"], 2),
            online_hours={str(lv): round(float(typical[n]), 2) for n, lv in enumerate(_LEVELS)},
            offline_hours={str(lv): round(float(typical[3 + n]), 2) for n, lv in enumerate(_LEVELS)},
            short_members=tuple(sorted(c["short"])), shortfall_hours=round(c["shortfall"], 2),
        ))
    return out


def _median_member(kinds: Counter, sums: Callable[[Hashable], np.ndarray]) -> np.ndarray:
    """The six sums of the cell's median member by hours in the topic (the lower middle one of
    an even count; members of equal hours in order of their six sums, so that the answer does
    not depend on the order members come in)."""

    def order(k: Hashable) -> tuple:
        six = sums(k)
        return round(float(six.sum()), 9), tuple(round(float(x), 9) for x in six)

    ranked = sorted(kinds.items(), key=lambda kn: order(kn[0]))
    middle = (sum(kinds.values()) - 1) // 2
    seen = 0
    for k, n in ranked:
        seen += n
        if seen > middle:
            return sums(k)
    raise ValueError("a supply cell without members")


# -- 2. catalogue health --------------------------------------------------------------------

def _health_topics(
    supply: Sequence[SupplyCell], live: Mapping[str, Item]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[int, ...]]]:
    """For each required topic with demand: kind groups and levels no live item covers."""
    topics = sorted({c.topic for c in supply if c.members})
    kinds, levels = {}, {}
    for t in topics:
        have = [it for it in live.values() if t in it.topics]
        missing = tuple(g for g, ks in KIND_GROUPS.items() if not any(it.kind in ks for it in have))
        if missing:
            kinds[t] = missing
        lv = tuple(level for level in _LEVELS if not any(it.level == level for it in have))
        if lv:
            levels[t] = lv
    return kinds, levels


def _offline_upcoming(
    taken: Mapping[str, int], live: Mapping[str, Item], day: dt.date, until: dt.date
) -> dict[str, tuple[dict[str, Any], ...]]:
    """Offline activities starting from ``day`` to ``until``, per owning branch, with seats left."""
    rows = [it for it in live.values()
            if it.schedule is not None and day <= it.schedule.starts.astimezone(TZ).date() <= until]
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in sorted(rows, key=lambda it: (it.schedule.starts, it.id)):
        cap = it.schedule.capacity
        n = taken.get(it.id, 0)
        out[it.org or "共享"].append({
            "id": it.id, "title": it.title, "starts": it.schedule.starts.isoformat(),
            "location": it.schedule.location, "capacity": cap, "enrolled": n,
            "remaining": None if cap is None else max(cap - n, 0),
        })
    return {b: tuple(v) for b, v in sorted(out.items())}


# -- 3. exposure ------------------------------------------------------------------------------

def _exposure(
    all_lists: Sequence[tuple[str, dt.date, list[str]]],
    impressions: Shown,
    studied: np.ndarray,
    items: Mapping[str, Item],
    cols: Columns,
    curriculum: Curriculum,
    members: Sequence[Member],
    day: dt.date,
    blocked: set[str],
    rare_share: float,
) -> tuple[dict[int, dict[str, int]], dict[str, str], list[tuple[str, int]], dict[int, float], int]:
    scope = {m.id: k for k, m in enumerate(members)}
    start = day - dt.timedelta(days=89)
    lists = [row for row in all_lists if row[0] in scope and start <= row[1] <= day]
    # Every way a member was shown an item, once per member, item and day: the entries and the
    # announced activities of stored lists, and impressions recorded as events (history imported
    # from another system, or shown by a portal outside recsys's lists). Each is one integer
    # (member, day of the 90, item in id order), so that "once" is one np.unique.
    ids = sorted(items)
    place = {i: k for k, i in enumerate(ids)}
    listed = [(scope[member], d.toordinal(), place[i]) for member, d, entries in lists for i in entries if i in place]
    n = len(impressions.member)
    who = np.fromiter(map(scope.get, impressions.member, repeat(-1)), dtype=np.int64, count=n)
    what = np.fromiter(map(place.get, impressions.item, repeat(-1)), dtype=np.int64, count=n)
    when = impressions.day
    keep = (who >= 0) & (what >= 0) & (when >= start.toordinal()) & (when <= day.toordinal())
    by_list = np.array(listed, dtype=np.int64).reshape(-1, 3)
    who = np.concatenate([by_list[:, 0], who[keep]])
    offset = np.concatenate([by_list[:, 1], when[keep]]) - start.toordinal()
    what = np.concatenate([by_list[:, 2], what[keep]])
    once = np.unique((who * 90 + offset) * max(len(ids), 1) + what)
    what, offset = once % max(len(ids), 1), once // max(len(ids), 1) % 90
    served: dict[int, dict[str, int]] = {}
    gini_by: dict[int, float] = {}
    for window in (30, 90):
        first = day - dt.timedelta(days=window - 1)
        counts = np.bincount(what[offset >= 90 - window], minlength=len(ids))
        served[window] = {ids[k]: int(counts[k]) for k in np.flatnonzero(counts).tolist()}
        # Concentration among items that could have been shown during the window.
        eligible = [place[i] for i, it in items.items()
                    if it.published <= day and (it.expires is None or it.expires >= first)]
        gini_by[window] = round(gini(counts[eligible].tolist()), 4)
    counts90 = served[90]
    # How many members could take an item at all, over every kind of member.
    roles_held = {r for m in members for r in m.roles}
    reach = ReachMasks(cols, curriculum, most=0)
    first = {}
    kinds = Counter()
    for m in members:
        key = reach.key(m)
        first.setdefault(key, m)
        kinds[key] += 1
    audience = np.zeros(len(cols), dtype=np.int64)
    for key, n in kinds.items():
        audience += reach_mask(cols, first[key], curriculum) * n
    never: dict[str, str] = {}
    for i, it in sorted(items.items()):
        if counts90.get(i):
            continue
        if it.published > day:
            reason = "unpublished"
        elif not _live(it, day):
            reason = "expired"
        elif it.roles and not set(it.roles) & roles_held:
            reason = "no_role"
        elif not audience[cols.row[i]]:
            reason = "no_audience"
        elif i in blocked:
            reason = "prerequisite"
        elif studied[cols.row[i]] >= audience[cols.row[i]]:
            reason = "studied"  # nothing left to show: new content is what those members need
        else:
            reason = "out_competed"
        never[i] = reason
    live_counts = [counts90.get(i, 0) for i, it in items.items() if _live(it, day)]
    mean = sum(live_counts) / len(live_counts) if live_counts else 0.0
    rarely = sorted(((i, n) for i, n in counts90.items() if n < rare_share * mean), key=lambda x: (x[1], x[0]))
    return served, never, rarely, gini_by, len(lists)


# -- 6. gaps and suggestions ------------------------------------------------------------------

def _closest(
    data: CoverageInputs, text: str, live: Mapping[str, Item], skip: set[str], k: int, keep=None
) -> tuple[ItemRef, ...]:
    """Live items nearest to ``text`` (query side), leaving out ``skip`` and what ``keep`` refuses,
    and those not clearly related: an item is suggested only if its similarity stands
    :data:`RELATED_SPREAD` standard deviations above the catalogue's mean similarity to ``text``
    (a floor relative to the catalogue, so it holds for any encoder's scale of cosines)."""
    if k <= 0 or not live:
        return ()
    index = data.index
    query = data.encode_queries([text])
    ids, scores = index.search(query, len(index))
    floor = float(scores[0].mean() + RELATED_SPREAD * scores[0].std()) if len(scores[0]) > 1 else -np.inf
    out = []
    for i, s in zip(ids[0], scores[0]):
        if s < floor:
            break  # best first: nothing further is related
        if i in live and i not in skip and (keep is None or keep(live[i])):
            out.append(ItemRef(i, live[i].title, round(float(s), 4)))
            if len(out) == k:
                break
    return tuple(out)


def _gaps(
    data: CoverageInputs,
    supply: Sequence[SupplyCell],
    missing_kinds: Mapping[str, tuple[str, ...]],
    missing_levels: Mapping[str, tuple[int, ...]],
    unreachable: Mapping[str, tuple[str, ...]],
    members: Sequence[Member],
    live: Mapping[str, Item],
    k: int,
) -> list[Gap]:
    gaps: list[Gap] = []
    offline_only = {m.id for m in members if not m.offline}
    # One gap per topic: the roles short in it are listed in it, not repeated as gaps of their own.
    short_by_topic: dict[str, list[SupplyCell]] = defaultdict(list)
    for c in supply:
        if c.short_members:
            short_by_topic[c.topic].append(c)
    for topic, cells in sorted(short_by_topic.items()):
        cells.sort(key=lambda c: (-len(c.short_members), c.role))
        short = {m for c in cells for m in c.short_members}
        roles = {c.role for c in cells}
        online = round(max(sum(c.online_hours.values()) for c in cells), 2)
        need_online = bool(short & offline_only)
        eligible = {i for i, it in live.items() if topic in it.topics and (not it.roles or roles & set(it.roles))}
        # What a typical member of the role can take (the median member), and what the one worst
        # off lacks: members of a role reach different content (another unit's, offline for one
        # who cannot attend, an activity's few seats).
        names = "、".join(f"{c.role_name} {len(c.short_members)} 人（每人最多需 {c.target_hours} 学时，可学学时中位数 "
                         f"{c.supply_hours}，可学内容最少的党员还差 {c.shortfall_hours} 学时）" for c in cells)
        detail = f"「{topic}」可学内容不足：{names}；其中线上最多 {online} 学时"
        audience = "、".join(c.role_name for c in cells)
        commission = (f"为{audience}补充「{topic}」{'线上' if need_online else ''}内容约 "
                      f"{max(c.shortfall_hours for c in cells)} 学时"
                      + ("，供不能参加线下活动的党员学习" if need_online else ""))
        gaps.append(Gap("supply", topic, cells[0].role, len(short), detail, commission,
                        _closest(data, topic, live, eligible, k, keep=(lambda it: it.online) if need_online else None),
                        roles=tuple(c.role for c in cells), role_names=tuple(c.role_name for c in cells)))
    by_topic: dict[str, list[str]] = defaultdict(list)
    for member, topics in unreachable.items():
        for t in topics:
            by_topic[t].append(member)
    for t, ms in sorted(by_topic.items()):
        detail = f"「{t}」：{len(ms)} 名党员是必修，却没有他们能学的内容"
        commission = f"补充「{t}」线上内容（不依赖线下活动、面向这些党员的角色）"
        gaps.append(Gap("unreachable", t, None, len(ms), detail, commission,
                        _closest(data, t, live, set(), k, keep=lambda it: it.online)))
    # Members with an hour target in the topic, each once (a member may hold several roles).
    members_by_topic: Counter = Counter()
    policy_of = data.curriculum.for_member
    for m in members:
        policy = policy_of(m)
        members_by_topic.update(t for t in policy.required if policy.topic_target(t) > 0)
    for t, groups in missing_kinds.items():
        have = {i for i, it in live.items() if t in it.topics}
        names = "、".join(groups)
        gaps.append(Gap("kind", t, None, members_by_topic[t], f"「{t}」缺少{names}类内容",
                        f"为「{t}」组织编写{names}（如{_kind_examples(groups)}）",
                        # A case or quiz of a neighbouring topic can be re-targeted or adapted.
                        _closest(data, t, live, have, k,
                                 keep=lambda it, g=groups: any(it.kind in KIND_GROUPS[x] for x in g))))
    for t, levels in missing_levels.items():
        have = {i for i, it in live.items() if t in it.topics and it.level not in levels}
        names = "、".join(f"{lv}级" for lv in levels)
        gaps.append(Gap("level", t, None, members_by_topic[t], f"「{t}」缺少{names}（难度层次）内容",
                        f"为「{t}」补充{names}内容，或将下列相近内容扩充为该层次",
                        _closest(data, t, live, have, k)))
    order = {"unreachable": 0, "supply": 1, "kind": 2, "level": 3}
    gaps.sort(key=lambda g: (-g.members_hurt, order[g.kind], g.topic, g.role or ""))
    return gaps


def _kind_examples(groups: Sequence[str]) -> str:
    examples = {"课程": "微课、专题视频、理论文章", "案例": "先进典型或警示教育案例", "答题": "知识测验"}
    return "、".join(examples[g] for g in groups)


def format_coverage(report: CoverageReport, *, limit: int = 8) -> str:
    """A short Chinese summary of the report for a terminal: counts, the worst gaps, health,
    exposure, duplicates and members not reached (at most ``limit`` rows a section)."""
    c = report.counts
    lines = [f"内容覆盖（{report.org_name(report.org)}，截至 {report.day}）：内容 {c['items']} 条（在架 {c['live_items']} 条），"
             f"党员 {c['members']} 名，近90天推送清单 {c['served_lists_90']} 份"]
    lines.append(f"缺口 {len(report.gaps)} 项" + ("：" if report.gaps else "。"))
    for g in report.gaps[:limit]:
        lines.append(f"  · [{g.members_hurt}人] {g.detail}")
        lines.append(f"      建议：{g.commission}" + (f"；相近内容：{'、'.join(r.title for r in g.closest)}"
                                                   if g.closest else ""))
    lines.append(f"内容健康：陈旧时效内容 {len(report.stale)} 条，30天内过期 {len(report.expiring)} 条，"
                 f"未来30天线下活动 {sum(len(v) for v in report.offline_upcoming.values())} 场，"
                 f"前置缺失 {len(report.broken_prerequisites)} 条，前置成环 {len(report.prerequisite_cycles)} 组")
    reasons = Counter(report.never_served.values())
    lines.append(f"曝光：基尼系数 近30天 {report.gini.get(30, 0):.2f} / 近90天 {report.gini.get(90, 0):.2f}；"
                 f"近90天从未推送 {len(report.never_served)} 条（"
                 + "，".join(f"{NEVER_SERVED_REASONS[r]} {n}" for r, n in reasons.most_common()) + "）")
    lines.append(f"疑似重复：{len(report.duplicates)} 组（相似度阈值 {report.duplicate_threshold}）")
    for refs, s in report.duplicates[:limit]:
        more = f" 等 {len(refs)} 条" if len(refs) > limit else ""  # a terminal line, not a page of titles
        lines.append("  · " + " ≈ ".join(f"{book_title(r.title)}[{r.id}]" for r in refs[:limit]) + f"{more}（{s:.3f}）")
    totals = Counter()
    for flags in report.reach.values():
        for k, v in flags.items():
            totals[k] += len(v)
    lines.append("未覆盖党员：" + "，".join(f"{label} {totals[k]} 人" for k, label in REACH_FLAGS.items()))
    return "\n".join(lines)
