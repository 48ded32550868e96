"""Alerts fire on planted cases and not otherwise; content feedback flags the items planted bad."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from recsys import Event, Item, Member
from recsys.reports.alerts import find_alerts, months_before
from recsys.curriculum import Curriculum
from recsys.reports.feedback import content_feedback
from recsys.records import TZ, Schedule

DAY = dt.date(2026, 6, 30)


def at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=TZ)


def day_activity(id_, title, start):
    return Item(id=id_, title=title, body="", kind="activity", mode="offline", minutes=480,
                published=dt.date(2026, 1, 1), topics=("党史",),
                schedule=Schedule(start, start + dt.timedelta(hours=8, minutes=30), "太原·纪念馆"))


ITEMS = {i.id: i for i in [
    day_activity("themed-jun", "6月主题党日：重温入党誓词", at(2026, 6, 10, 9)),
    day_activity("visit", "红色教育基地现场教学", at(2026, 6, 12, 9)),
    day_activity("themed-may", "5月主题党日：学习党章", at(2026, 5, 20, 9)),
    Item(id="a1", title="文章", body="", kind="article", minutes=10, published=dt.date(2026, 1, 1)),
]}

MEMBERS = [
    Member(id="busy", name="甲", org="g.b1", roles=("member",)),                  # 16 h by June: on pace
    Member(id="idle", name="乙", org="g.b1", roles=("member",)),                  # nothing at all
    Member(id="away", name="丙", org="g.b2", roles=("member",), offline=False, situation="mobile"),
    Member(id="away2", name="丁", org="g.b2", roles=("member",), offline=False, situation="mobile"),
    Member(id="old", name="戊", org="g.b3", roles=("retired",), offline=False, situation="infirm"),
]
EVENTS = {
    "busy": [Event("busy", "themed-jun", "attend", at(2026, 6, 10, 18)),
             Event("busy", "visit", "attend", at(2026, 6, 12, 18)),
             Event("busy", "a1", "complete", at(2026, 6, 29))],
    "away": [Event("away", "a1", "complete", at(2025, 12, 1))],                   # 7 months ago
    "away2": [Event("away2", "a1", "complete", at(2026, 5, 20))],                 # 41 days ago
    "old": [Event("old", "themed-may", "attend", at(2026, 5, 20, 18)),            # last month's themed day
            Event("old", "a1", "complete", at(2026, 6, 25))],
}


def test_alerts_fire_on_the_planted_cases_only():
    alerts = find_alerts(MEMBERS, EVENTS, ITEMS, Curriculum(), DAY)
    got = {(a.kind, a.member or a.org) for a in alerts}
    assert got == {
        ("behind_pace", "idle"), ("inactive", "idle"),
        ("behind_pace", "away"), ("inactive", "away"), ("mobile_no_contact", "away"),
        ("behind_pace", "away2"), ("inactive", "away2"),
        ("no_themed_day", "g.b2"), ("no_themed_day", "g.b3"),
    }
    away = next(a for a in alerts if a.kind == "mobile_no_contact")
    assert away.last_active == dt.date(2025, 12, 1) and "6 个月" in away.message
    behind = next(a for a in alerts if a.kind == "behind_pace" and a.member == "idle")
    assert abs(behind.hours_behind - 32 * 181 / 365) < 1e-9  # nothing done of the 15.9 h due by 30 June


def test_a_themed_day_still_ahead_this_month_is_not_reported_missing():
    own = replace(day_activity("b3-jun", "6月主题党日：参观纪念馆", at(2026, 6, 20, 9)), org="g.b3")
    items = {**ITEMS, own.id: own}
    events = {**EVENTS, "busy": [Event("busy", "themed-jun", "enroll", at(2026, 6, 3))]}

    def missing(day):
        return {a.org for a in find_alerts(MEMBERS, events, items, Curriculum(), day) if a.kind == "no_themed_day"}

    # 5 June: g.b1 has members signed up for the 10th, g.b3 its own day on the 20th; g.b2 nothing.
    assert missing(dt.date(2026, 6, 5)) == {"g.b2"}
    assert missing(dt.date(2026, 6, 20)) == {"g.b1", "g.b2"}  # the 10th passed with no one attending
    assert missing(dt.date(2026, 6, 25)) == {"g.b1", "g.b2", "g.b3"}
    # A member who withdrew (an enrolment of value 0) has given the seat back: nobody is going.
    events["busy"].append(Event("busy", "themed-jun", "enroll", at(2026, 6, 4), value=0))
    assert missing(dt.date(2026, 6, 5)) == {"g.b1", "g.b2"}


def test_no_behind_pace_alert_in_the_first_month_of_the_year():
    idle = [MEMBERS[1]]

    def behind(day, curriculum=Curriculum()):
        return [a for a in find_alerts(idle, {}, ITEMS, curriculum, day) if a.kind == "behind_pace"]

    assert behind(dt.date(2026, 1, 5)) == [] and behind(dt.date(2026, 1, 31)) == []
    assert len(behind(dt.date(2026, 2, 1))) == 1  # from day 32 the member at 0 h is behind
    no_grace = Curriculum.from_dict({"alerts": {"pace_grace_days": 0}})
    assert len(behind(dt.date(2026, 1, 20), no_grace)) == 1
    # On 5 January less than an hour is due: behind by less than a lesson is on pace.
    assert behind(dt.date(2026, 1, 5), no_grace) == []


def test_thresholds_are_exact_at_the_boundary():
    assert months_before(dt.date(2026, 8, 31), 6) == dt.date(2026, 2, 28)
    member = MEMBERS[2]
    at_limit = {"away": [Event("away", "a1", "complete", at(2025, 12, 30))]}  # exactly six months
    inside = {"away": [Event("away", "a1", "complete", at(2025, 12, 31))]}

    def kinds(events):
        return {a.kind for a in find_alerts([member], events, ITEMS, Curriculum(), DAY)}

    assert "mobile_no_contact" in kinds(at_limit) and "mobile_no_contact" not in kinds(inside)
    recent = {"idle": [Event("idle", "a1", "complete", at(2026, 6, 1))]}  # 29 days: not yet inactive
    assert "inactive" not in {a.kind for a in find_alerts([MEMBERS[1]], recent, ITEMS, Curriculum(), DAY)}


def test_content_feedback_flags_planted_items_per_role():
    items = {i: Item(id=i, title=i, body="", kind="video", minutes=10, published=dt.date(2026, 1, 1))
             for i in ("dull", "skipped", "fine", "hated")}
    young = [Member(id=f"y{n}", name="青", org="g.b1", roles=("member", "young")) for n in range(6)]
    cadres = [Member(id=f"c{n}", name="干", org="g.b1", roles=("cadre",)) for n in range(6)]
    events = []
    t = at(2026, 6, 1)
    for n, m in enumerate(young):
        events += [Event(m.id, "dull", "start", t), Event(m.id, "fine", "start", t), Event(m.id, "fine", "complete", t),
                   Event(m.id, "skipped", "impression", t), Event(m.id, "hated", "complete", t)]
        if n == 0:
            events.append(Event(m.id, "dull", "complete", t))  # 1 of 6 finish: low completion
        if n < 2:
            events.append(Event(m.id, "skipped", "skip", t))   # 2 of 6 skip: high skip rate
        events.append(Event(m.id, "hated", "rate", t, value=2.0 if n < 4 else 3.0))
    for m in cadres:  # cadres finish everything and skip nothing
        events += [Event(m.id, i, "complete", t) for i in items]
    flags = {(f.item, f.role): f.problems for f in content_feedback(young + cadres, events, items)}
    assert flags == {
        ("dull", "member"): ("low_completion",), ("dull", "young"): ("low_completion",),
        ("skipped", "member"): ("high_skip",), ("skipped", "young"): ("high_skip",),
        ("hated", "member"): ("low_rating",), ("hated", "young"): ("low_rating",),
    }


def test_a_terminal_gets_the_most_urgent_alerts_of_each_kind_and_a_count_of_the_rest():
    from recsys.reports.alerts import Alert, format_alerts

    behind = [Alert("behind_pace", "g.b1", f"m{k}", f"党员{k}学时进度落后", hours_behind=float(k)) for k in range(30)]
    quiet = [Alert("inactive", "g.b2", f"q{k}", f"党员q{k}长期未学习", last_active=dt.date(2026, 5, 1 + k))
             for k in range(3)]
    lines = format_alerts(quiet + behind, most=5)
    assert lines[:5] == [f"⚠ 党员{k}学时进度落后｜编号 m{k}，g.b1" for k in (29, 28, 27, 26, 25)]  # furthest behind first
    assert "另有 25 条“学时进度落后”提醒未列出（共 30 条" in lines[5]
    assert lines[6:] == [f"⚠ 党员q{k}长期未学习｜编号 q{k}，g.b2" for k in range(3)]  # quiet longest first
    assert len(format_alerts(quiet + behind, most=None)) == 33
