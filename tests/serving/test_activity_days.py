"""Offline activities held over midnight or over several days: offered on the day they begin,
kept on their later days for those who go, never beside another activity, and counted by day."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Engine, Event, Item, Member
from recsys.records import TZ, Schedule


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def activity(id_: str, title: str, starts: dt.datetime, ends: dt.datetime, minutes: int, place: str) -> Item:
    return Item(id=id_, title=title, body=f"{title}。", kind="activity", mode="offline", minutes=minutes,
                topics=("党的创新理论",), published=dt.date(2026, 11, 1),
                schedule=Schedule(starts=starts, ends=ends, location=f"太原·{place}", capacity=30))


NIGHT = activity("night", "平安夜夜间安全巡检", at(24, 20), at(25, 2), 360, "集控楼")
COURSE = activity("course", "年末三天集中轮训", at(28, 8, 30), at(30, 17), 480, "省委党校")
DRILL = activity("drill", "应急演练现场教学", at(29, 9), at(29, 11), 120, "集控楼")
ARTICLE = Item(id="on-1", title="党章总纲导读", body="党章总纲阐明党的性质和宗旨。", kind="article", minutes=15,
               topics=("党章党规党纪",), published=dt.date(2026, 10, 3))


@pytest.fixture
def engine(tmp_path):
    with Engine.open(tmp_path / "store", encoder="tfidf") as engine:
        engine.add_items([NIGHT, COURSE, DRILL, ARTICLE])
        engine.upsert_members([Member(m, name, "hx.zb1", location="太原", daily_minutes=600)
                               for m, name in (("a1", "张三"), ("a2", "李四"))])
        engine.record([Event(id="e1", member="a1", item="course", kind="enroll", at=at(1, 9))])
        yield engine


def ids(lst) -> list[str]:
    return [e.item.id for e in lst.entries]


def test_an_evening_past_midnight_is_held_on_the_day_it_starts(engine):
    assert "night" in ids(engine.daily("a2", dt.date(2026, 12, 24)))
    assert "night" not in ids(engine.daily("a2", dt.date(2026, 12, 25)))
    assert NIGHT.schedule.days == (dt.date(2026, 12, 24), dt.date(2026, 12, 24))


def test_a_course_of_several_days_is_joined_on_its_first_and_kept_for_those_enrolled(engine):
    assert COURSE.schedule.days == (dt.date(2026, 12, 28), dt.date(2026, 12, 30))
    assert "course" in ids(engine.daily("a2", dt.date(2026, 12, 28)))
    for day in (29, 30):
        assert "course" not in ids(engine.daily("a2", dt.date(2026, 12, day)))
    second = engine.daily("a1", dt.date(2026, 12, 29))
    (entry,) = [e for e in second.entries if e.item.id == "course"]
    assert entry.reasons[0] == "您已报名，今天是活动第 2 天（共 3 天），在省委党校举行"
    assert "drill" not in ids(second)  # one activity a day


def test_a_path_never_puts_another_activity_on_a_day_of_the_course(engine):
    path = engine.path("a1", start=dt.date(2026, 12, 28), days=3)
    first, second, third = path.days
    assert "course" in ids(first)
    for later, n in ((second, 2), (third, 3)):
        assert not [e for e in later.entries if e.item.mode == "offline"]
        assert later.upcoming[0].item.id == "course"
        assert later.upcoming[0].reasons == (f"今天是活动第 {n} 天（共 3 天），在省委党校举行（不计入今日学习时长）",)


def test_each_day_of_a_course_counts_its_hours(engine):
    engine.record([Event(id="e2", member="a1", item="course", kind="attend", at=at(30, 17))])
    hours = {e.item: e.hours for e in engine.progress("a1", day=dt.date(2026, 12, 31)).hours.entries}
    assert hours["course"] == 24  # three full days of 8 hours
    half = activity("half", "一天半专题培训", at(28, 14), at(29, 17), 300, "党校")  # afternoon, then a day
    engine.add_items([half])
    engine.record([Event(id="e3", member="a2", item="half", kind="attend", at=at(29, 17))])
    hours = {e.item: e.hours for e in engine.progress("a2", day=dt.date(2026, 12, 31)).hours.entries}
    assert hours["half"] == 12  # 14:00-18:00 a half day, then a full day


def test_a_course_of_several_days_is_enrolled_in_before_its_second_day(engine):
    """As lists offer it: a seat is taken on the first day at the latest; after it the enrolment
    is refused saying why, and an import of such an enrolment is warned of."""
    from recsys import ConflictError

    now = dt.datetime.now(TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    under_way = activity("under-way", "集中轮训（进行中）", now - dt.timedelta(days=1), now + dt.timedelta(days=1), 480, "党校")
    ahead = activity("ahead", "集中轮训（下期）", now + dt.timedelta(days=1), now + dt.timedelta(days=3), 480, "党校")
    engine.add_items([under_way, ahead])
    with pytest.raises(ConflictError, match=f"began on {under_way.schedule.days[0]}: an activity of several days "
                                            "is joined on its first day"):
        engine.enroll("a2", "under-way")
    assert engine.enroll("a2", "ahead")
    late = Event(id="late", member="a2", item="course", kind="enroll", at=at(29, 8))
    (warning,) = engine.event_warnings([late])
    assert warning.field == "at" and warning.message.startswith("报名时间 2026-12-29 08:00 晚于活动首日 2026-12-28：多日活动")
