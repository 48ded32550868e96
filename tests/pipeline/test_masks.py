"""The vectorised hard rules against the readable reference, on random worlds."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Event, Item, Member, Schedule
from recsys.catalogue import Catalogue
from recsys.curriculum import Curriculum
from recsys.embedding.index import ExactIndex
from recsys.pipeline import infeasibility, rules_context
from recsys.pipeline.masks import REASONS, ReachMasks, StaticRules, hard_rules, reach_mask
from recsys.records import TZ

DAY = dt.date(2026, 6, 15)
ORGS = ["t", "t.a", "t.a.zb1", "t.a.zb2", "t.b", "u"]
ROLES = ["member", "cadre", "young", "retired", "frontline"]
# A city written every way rosters and notices write it: 太原, 太原市 and 山西省太原市 are one city.
CITIES = ["太原", "大同", "", "太原市", "山西省大同市"]
KINDS = ["complete", "impression", "skip", "start", "dislike", "enroll", "quiz", "progress", "attend"]


def _date(offset: int) -> dt.date:
    return DAY + dt.timedelta(days=offset)


@st.composite
def members(draw, id_: str):
    # Joined near an anniversary of the day often enough for the birthday week to matter.
    joined = draw(st.none() | st.integers(-4000, 4000).map(_date)
                  | st.tuples(st.integers(1, 40), st.integers(-5, 5)).map(
                      lambda yd: _date(yd[1]).replace(year=DAY.year - yd[0])))
    situation = draw(st.sampled_from(["regular", "regular", "mobile", "infirm"]))
    return Member(
        id=id_, name="张三", org=draw(st.sampled_from(ORGS)),
        roles=tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))),
        offline=situation == "regular" and draw(st.booleans()), situation=situation,
        location=draw(st.sampled_from(["太原", "大同", None, "大同市", "山西省太原市", "太原市小店区"])), joined=joined,
    )


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 14))
    ids = [f"i{k}" for k in range(n)]
    items = []
    for k, id_ in enumerate(ids):
        offline = draw(st.booleans())
        schedule = None
        if offline:
            starts = dt.datetime.combine(_date(draw(st.integers(-5, 20))), dt.time(draw(st.integers(0, 23))), TZ)
            schedule = Schedule(starts=starts, ends=starts + dt.timedelta(hours=draw(st.integers(1, 60))),
                                location=draw(st.sampled_from(CITIES)) + "·某地",
                                capacity=draw(st.none() | st.integers(1, 3)))
        published = _date(draw(st.integers(-40, 3)))
        expires = draw(st.none() | st.integers(-5, 30).map(_date))
        if expires is not None and expires < published:
            expires = published
        title = draw(st.sampled_from(["学习材料", "过政治生日", "入党纪念日活动", "专题党课", "流动党员线上组织生活指南",
                                      "年老体弱党员送学上门", "流动党员与年老体弱党员学习手册"])) + str(k)
        items.append(Item(
            id=id_, title=title, body="", kind="activity" if offline else draw(st.sampled_from(["article", "quiz"])),
            mode="offline" if offline else "online", minutes=draw(st.integers(5, 90)),
            topics=("党史",), roles=tuple(draw(st.lists(st.sampled_from(ROLES), max_size=2, unique=True))),
            level=draw(st.integers(1, 3)), published=published, expires=expires,
            requires=tuple(draw(st.lists(st.sampled_from(ids[:k] + ["gone"]), max_size=2, unique=True))) if k else (),
            schedule=schedule, org=draw(st.none() | st.sampled_from(ORGS)),
        ))
    member = draw(members("m1"))
    events = []
    for _ in range(draw(st.integers(0, 20))):
        kind = draw(st.sampled_from(KINDS))
        at = dt.datetime.combine(_date(draw(st.integers(-40, 0))), dt.time(draw(st.integers(0, 23))), TZ)
        value = draw(st.floats(0, 1)) if kind in ("quiz", "progress") else None
        events.append(Event(member="m1", item=draw(st.sampled_from(ids + ["gone"])), kind=kind, value=value, at=at))
    events.sort(key=lambda e: e.at)
    planned = frozenset(draw(st.lists(st.sampled_from(ids), max_size=3)))
    seats = {id_: draw(st.integers(0, 4)) for id_ in draw(st.lists(st.sampled_from(ids), max_size=4))}
    feedback = draw(st.booleans())
    return items, member, events, planned, seats, feedback


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.booleans(), st.data())
def test_vectorised_rules_equal_the_reference(world, for_day, data):
    items, member, events, planned, seats, feedback = world
    catalogue = Catalogue.build({it.id: it for it in items})
    curriculum = Curriculum(mastery_feedback=feedback)
    ctx = rules_context(member, DAY, events, items=catalogue, index=ExactIndex(4), curriculum=curriculum,
                        seats_taken=seats, duplicate_threshold=0.9, planned=planned)
    # Items a path keeps for a later day already given: not placed, not done.
    ctx = dataclasses.replace(ctx, held_back=frozenset(data.draw(st.lists(st.sampled_from(catalogue.columns.ids),
                                                                          max_size=2))))
    codes = hard_rules(ctx, for_day=for_day)
    expected = [infeasibility(catalogue[i], ctx, for_day=for_day) for i in catalogue.columns.ids]
    assert [REASONS[c] for c in codes] == expected
    # The same codes for a subset of rows, and from static codes shared by members alike.
    rows = np.array(data.draw(st.lists(st.integers(0, len(items) - 1), unique=True)), dtype=np.int64)
    assert list(hard_rules(ctx, rows, for_day=for_day)) == list(codes[rows])
    shared = StaticRules(for_day=for_day)
    assert list(hard_rules(ctx, for_day=for_day, static=shared(ctx))) == list(codes)
    # ... and from a context carrying them, asked for either kind of day.
    carried = dataclasses.replace(ctx, static_rules=StaticRules())
    assert list(hard_rules(carried, rows, for_day=for_day)) == list(codes[rows])
    assert list(hard_rules(carried, for_day=not for_day)) == list(hard_rules(ctx, for_day=not for_day))


def test_a_subset_of_rows_gives_the_same_codes_as_all_rows():
    items = [Item(id=f"i{k}", title=f"t{k}", body="", kind="article", minutes=10, published=_date(k - 3),
                  roles=("cadre",) if k % 2 else ()) for k in range(6)]
    catalogue = Catalogue.build({it.id: it for it in items})
    member = Member(id="m1", name="张三", org="t.a", roles=("member",))
    ctx = rules_context(member, DAY, [], items=catalogue, index=ExactIndex(4), curriculum=Curriculum(),
                        seats_taken={}, duplicate_threshold=0.9)
    every = hard_rules(ctx)
    rows = np.array([4, 1, 3])
    assert list(hard_rules(ctx, rows)) == list(every[rows])
    # Known answers: odd items target cadres; items published after the day are not out yet (checked first).
    assert [REASONS[c] for c in every] == [None, "role", None, "role", "unpublished", "unpublished"]


def test_a_full_activity_stays_open_to_those_enrolled():
    starts = dt.datetime.combine(DAY, dt.time(9), TZ)
    visit = Item(id="visit", title="红色教育基地参观", body="", kind="activity", mode="offline", minutes=120,
                 published=_date(-10),
                 schedule=Schedule(starts=starts, ends=starts + dt.timedelta(hours=3), location="太原", capacity=1))
    catalogue = Catalogue.build({"visit": visit})
    enrolled = [Event(member="m1", item="visit", kind="enroll", at=starts - dt.timedelta(days=3))]
    for events, expected in ((enrolled, None), ([], "full")):
        member = Member(id="m1", name="张三", org="t.a", roles=("member",), location="太原")
        ctx = rules_context(member, DAY, events, items=catalogue, index=ExactIndex(4), curriculum=Curriculum(),
                            seats_taken={"visit": 1}, duplicate_threshold=0.9)
        assert REASONS[hard_rules(ctx)[0]] == expected == infeasibility(visit, ctx)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), members("m2"), st.integers(1, 30))
def test_static_codes_shared_between_members_alike_stay_right(world, other, cooldown):
    """Coverage shares static codes between members with equal keys: the codes it lays the second
    member's history over must give that member's reference answers."""
    items, member, events, planned, seats, feedback = world
    catalogue = Catalogue.build({it.id: it for it in items})
    curriculum = Curriculum(mastery_feedback=feedback, cooldown_days=cooldown)
    shared = StaticRules()
    first = rules_context(member, DAY, events, items=catalogue, index=ExactIndex(4), curriculum=curriculum,
                          seats_taken=seats, duplicate_threshold=0.9)
    shared(first)
    ctx = rules_context(other, DAY, [], items=catalogue, index=ExactIndex(4), curriculum=curriculum,
                        seats_taken=seats, duplicate_threshold=0.9)
    codes = hard_rules(ctx, static=shared(ctx))
    assert [REASONS[c] for c in codes] == [infeasibility(catalogue[i], ctx) for i in catalogue.columns.ids]
    # What coverage counts as reaching a member by their record alone.
    expected = [(not it.roles or bool(set(it.roles) & set(other.roles)))
                and (it.org is None or other.org == it.org or other.org.startswith(it.org + "."))
                and (it.mode == "online" or other.offline) for it in catalogue.values()]
    assert list(reach_mask(catalogue.columns, other)) == expected
    # With the curriculum, content meant for another situation (by its title) reaches nobody else.
    def for_them(it):
        meant = curriculum.item_situations(it)
        return bool(it.roles) or not meant or other.situation in meant
    assert list(reach_mask(catalogue.columns, other, curriculum)) == [
        ok and for_them(it) for ok, it in zip(expected, catalogue.values())]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.lists(members("m"), min_size=2, max_size=8))
def test_reach_masks_shared_by_kind_equal_each_members_own(world, people):
    """Coverage shares reach masks between members of one kind: each member's must be their own."""
    items = world[0]
    cols = Catalogue.build({it.id: it for it in items}).columns
    for curriculum in (None, Curriculum()):
        shared = ReachMasks(cols, curriculum, most=2)  # small: masks are dropped and made again
        for m in people + people[::-1]:
            assert list(shared(m)) == list(reach_mask(cols, m, curriculum))
        for a in people:
            for b in people:
                if shared.key(a) == shared.key(b):
                    assert list(reach_mask(cols, a, curriculum)) == list(reach_mask(cols, b, curriculum))

