"""The hours ledger and the points ledger against totals computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys import Event, Item, Member
from recsys.curriculum import Curriculum
from recsys.learning.ledger import build_ledger
from recsys.learning.points import build_points
from recsys.records import TZ, Schedule
from recsys.learning.rules import HourRules, PointRules

DAY = dt.date(2026, 3, 31)  # day 90 of 365


def at(y, m, d, h=20):
    return dt.datetime(y, m, d, h, tzinfo=TZ)


def activity(id_, title, start, hours, topics=("党史",)):
    return Item(id=id_, title=title, body="", kind="activity", mode="offline", minutes=int(hours * 60),
                published=dt.date(2025, 1, 1), topics=topics,
                schedule=Schedule(start, start + dt.timedelta(hours=hours), "太原·纪念馆"))


ITEMS = {i.id: i for i in [
    Item(id="a0", title="旧文章", body="", kind="article", minutes=30, published=dt.date(2025, 1, 1), topics=("党史",)),
    Item(id="a1", title="中共一大", body="", kind="article", minutes=30, published=dt.date(2025, 1, 1), topics=("党史",)),
    Item(id="v1", title="理论视频", body="", kind="video", minutes=60, published=dt.date(2025, 1, 1),
         topics=("党的创新理论", "党史")),
    activity("act", "现场教学：纪念馆", at(2026, 3, 1, 9), 3),       # a half day: counts 4 hours
    activity("act2", "专题研讨", at(2026, 3, 20, 14), 1.5),          # shorter: its 1.5 hours
    Item(id="q1", title="党章测验", body="", kind="quiz", minutes=10, published=dt.date(2025, 1, 1),
         topics=("党章党规党纪",)),
    Item(id="x", title="以后", body="", kind="article", minutes=45, published=dt.date(2025, 1, 1), topics=("党史",)),
]}
MEMBER = Member(id="m1", name="张伟", org="hx.b1", roles=("member",))
EVENTS = [
    Event("m1", "a0", "complete", at(2025, 12, 30)),               # last year: the year resets the count
    Event("m1", "a1", "complete", at(2026, 1, 5), id="e1"),         # 0.5 h
    Event("m1", "a1", "complete", at(2026, 1, 6), id="e2"),         # again: counts once
    Event("m1", "v1", "progress", at(2026, 2, 10), value=0.5),      # not finished
    Event("m1", "v1", "progress", at(2026, 2, 11), value=0.96, id="e3"),  # finished: 1 h, half per topic
    Event("m1", "act", "attend", at(2026, 3, 1, 12), id="e4"),      # 4 h
    Event("m1", "q1", "quiz", at(2026, 3, 2), value=0.9, id="e5"),  # 10 min
    Event("m1", "act2", "attend", at(2026, 3, 20, 16), id="e6"),    # 1.5 h
    Event("m1", "x", "complete", at(2026, 4, 2)),                   # after the day asked about
]


def test_hours_by_hand():
    ledger = build_ledger(MEMBER, EVENTS, ITEMS, Curriculum(), DAY)
    assert [e.event for e in ledger.entries] == ["e1", "e3", "e4", "e5", "e6"]
    assert ledger.total == pytest.approx(0.5 + 1 + 4 + 1 / 6 + 1.5)
    assert ledger.by_topic == pytest.approx({"党史": 0.5 + 0.5 + 4 + 1.5, "党的创新理论": 0.5, "党章党规党纪": 1 / 6})
    assert ledger.by_mode == pytest.approx({"online": 0.5 + 1 + 1 / 6, "offline": 5.5})
    assert ledger.by_kind == pytest.approx({"article": 0.5, "video": 1, "activity": 5.5, "quiz": 1 / 6})
    assert ledger.by_month == pytest.approx({"2026-01": 0.5, "2026-02": 1, "2026-03": 4 + 1 / 6 + 1.5})
    assert ledger.target == 32
    assert ledger.expected == pytest.approx(32 * 90 / 365)
    assert ledger.pace == pytest.approx(7 + 1 / 6 - 32 * 90 / 365)
    assert ledger.projection == pytest.approx((7 + 1 / 6) * 365 / 90)
    # 7.17 h against 7.89 due: within the 10 % tolerance.
    assert ledger.status == "on_pace"
    data = ledger.to_dict()
    assert data["hours"] == 7.17 and data["status"] == "on_pace" and len(data["entries"]) == 5


def test_counting_rules_are_configurable_and_the_year_resets():
    strict = Curriculum(hours=HourRules(half_day_hours=3.0, online_factor=0.5, pace_tolerance=0.0))
    ledger = build_ledger(MEMBER, EVENTS, ITEMS, strict, DAY)
    assert ledger.total == pytest.approx(0.25 + 0.5 + 3 + 1 / 12 + 1.5)
    assert ledger.status == "behind"
    assert build_ledger(MEMBER, EVENTS, ITEMS, Curriculum(), dt.date(2027, 1, 10)).total == 0
    capped = Curriculum(hours=HourRules(online_daily_cap=0.75))
    events = [Event("m1", "v1", "complete", at(2026, 3, 3, 9)), Event("m1", "a1", "complete", at(2026, 3, 3, 10))]
    assert [e.hours for e in build_ledger(MEMBER, events, ITEMS, capped, DAY).entries] == [0.75, 0.0]


def test_the_first_days_of_the_year_put_nobody_behind_pace():
    # On 2 January 0.18 h is due of a 32-hour year: less than a lesson, not a member behind.
    assert build_ledger(MEMBER, [], ITEMS, Curriculum(), dt.date(2026, 1, 2)).status == "on_pace"
    assert build_ledger(MEMBER, [], ITEMS, Curriculum(), dt.date(2026, 1, 11)).status == "on_pace"  # 0.96 h due
    assert build_ledger(MEMBER, [], ITEMS, Curriculum(), dt.date(2026, 1, 12)).status == "behind"  # 1.05 h due
    none = Curriculum(hours=HourRules(pace_slack_hours=0.0))  # a share alone, as before
    assert build_ledger(MEMBER, [], ITEMS, none, dt.date(2026, 1, 2)).status == "behind"


def test_a_member_who_joined_this_year_owes_hours_from_joining():
    """A probationary member who joined the party on 20 November owes, on 3 December, the hours
    of 14 days of a 32-hour year (1.2 h), not of eleven months (29.5 h); joined in an earlier year,
    the whole year is due. The lists' curriculum need counts the same way."""
    import dataclasses

    from recsys.pipeline.profile import build_profile

    day = dt.date(2026, 12, 3)
    new = dataclasses.replace(MEMBER, roles=("probationary",), joined=dt.date(2026, 11, 20))
    ledger = build_ledger(new, [], ITEMS, Curriculum(), day)
    assert (ledger.target, round(ledger.expected, 2), ledger.status) == (32, round(32 * 14 / 365, 2), "behind")
    assert round(ledger.projection, 2) == 0
    older = build_ledger(dataclasses.replace(new, joined=dt.date(2025, 11, 20)), [], ITEMS, Curriculum(), day)
    assert round(older.expected, 2) == round(32 * 337 / 365, 2)
    profile = build_profile(new, day, [], {}, None, None, Curriculum(), vectors=False)
    assert round(profile.year_fraction(), 4) == round(14 / 365, 4)


def test_curriculum_json_rules_round_trip_and_errors_name_the_setting():
    cur = Curriculum.from_dict({"mastery_feedback": False, "hours": {"half_day_hours": 3.5},
                                "points": {"daily_cap": 6, "deductions": {"skip": 1}},
                                "mastery": {"review_days": [2, 5]}})
    assert not cur.mastery_feedback and cur.hours.half_day_hours == 3.5 and cur.points.deductions == {"skip": 1.0}
    assert Curriculum.from_dict(cur.to_dict()) == cur
    from recsys.exceptions import ValidationError

    for bad, field in [({"hours": {"half_day_hourz": 1}}, "hours.half_day_hourz"),
                       ({"points": {"daily_cap": -1}}, "points.daily_cap"),
                       ({"mastery": {"review_days": [0]}}, "mastery.review_days"),
                       ({"mastery": {"review_below": 2}}, "mastery.review_below"),
                       ({"mastery_feedback": "yes"}, "mastery_feedback")]:
        with pytest.raises(ValidationError) as caught:
            Curriculum.from_dict(bad, source="cur.json")
        assert caught.value.field == field and "cur.json" in str(caught.value)


def test_points_by_hand_trace_to_their_events():
    points = build_points(MEMBER, EVENTS, ITEMS, Curriculum(), DAY)
    got = [(e.day, e.rule, e.detail, e.points, e.events) for e in points.entries]
    assert got == [
        (dt.date(2026, 1, 5), "action", "complete", 1.0, ("e1",)),
        # 党史 is required of members at 10 % of 32 h = 3.2 h: reached with the half day on 1 March.
        (dt.date(2026, 3, 1), "action", "attend", 3.0, ("e4",)),
        (dt.date(2026, 3, 1), "required_topic", "党史", 5.0, ("e1", "e3", "e4")),
        (dt.date(2026, 3, 2), "action", "quiz", 1.0, ("e5",)),
        (dt.date(2026, 3, 20), "action", "attend", 3.0, ("e6",)),
    ]
    assert points.total == 13
    assert points.by_rule == {"action": 8.0, "required_topic": 5.0}


def test_daily_cap_streak_and_explicit_deductions():
    items = {f"t{n}": Item(id=f"t{n}", title=f"课{n}", body="", kind="article", minutes=5,
                           published=dt.date(2025, 1, 1), topics=("保密",)) for n in range(20)}
    # Eight consecutive days of one completion each, then twelve completions on one day.
    events = [Event("m1", f"t{n}", "complete", at(2026, 3, 1 + n)) for n in range(8)]
    events += [Event("m1", f"t{n}", "complete", at(2026, 3, 20, 8 + n % 12)) for n in range(8, 20)]
    events += [Event("m1", "t0", "skip", at(2026, 3, 21))]
    rules = PointRules(actions={"complete": 1.0}, daily_cap=10, streak_days=7, streak_bonus=3, required_topic_bonus=0)
    points = build_points(MEMBER, events, items, Curriculum(points=rules), DAY)
    streaks = [e for e in points.entries if e.rule == "streak"]
    assert [(s.day, s.points, len(s.events)) for s in streaks] == [(dt.date(2026, 3, 7), 3.0, 7)]
    march_20 = [e for e in points.entries if e.day == dt.date(2026, 3, 20)]
    assert sum(e.points for e in march_20) == 10 and sum(e.capped for e in march_20) == 2
    assert points.total == 8 + 3 + 10  # no deduction unless a rule says so
    strict = Curriculum(points=PointRules(actions={"complete": 1.0}, streak_bonus=0, required_topic_bonus=0,
                                          deductions={"skip": 0.5}))
    deducted = build_points(MEMBER, events, items, strict, DAY)
    assert [(e.rule, e.points, e.item) for e in deducted.entries if e.rule == "deduction"] == [("deduction", -0.5, "t0")]


@st.composite
def histories(draw):
    n = draw(st.integers(0, 40))
    kinds = st.sampled_from(["complete", "attend", "quiz", "progress", "skip", "impression", "rate"])
    events = []
    for k in range(n):
        kind = draw(kinds)
        value = {"quiz": draw(st.floats(0, 1)), "progress": draw(st.floats(0, 1)), "rate": 3.0}.get(kind)
        day = dt.date(2025, 12, 20) + dt.timedelta(days=draw(st.integers(0, 120)))
        events.append(Event("m1", draw(st.sampled_from(sorted(ITEMS))), kind, at(day.year, day.month, day.day),
                            value=value, id=f"e{k}"))
    return sorted(events, key=lambda e: e.at)


@settings(max_examples=60, deadline=None)
@given(events=histories(), cap=st.floats(1, 12))
def test_every_hour_and_point_traces_to_an_event_within_the_rules(events, cap):
    cur = Curriculum(points=PointRules(daily_cap=cap))
    ledger = build_ledger(MEMBER, events, ITEMS, cur, DAY)
    points = build_points(MEMBER, events, ITEMS, cur, DAY, ledger=ledger)
    refs = {e.id for e in events}
    assert len({h.item for h in ledger.entries}) == len(ledger.entries)  # an item counts once
    assert all(h.event in refs and h.day.year == DAY.year and h.day <= DAY for h in ledger.entries)
    assert ledger.total == pytest.approx(sum(ledger.by_topic.values()))
    assert all(set(p.events) <= refs and p.points >= 0 for p in points.entries)  # no deduction rule: none
    for day in {p.day for p in points.entries}:
        assert sum(p.points for p in points.entries if p.day == day and p.rule == "action") <= cap + 1e-9
    assert points.total == pytest.approx(sum(p.points for p in points.entries))
