"""Daily lists and study paths: each signal and guarantee on small catalogues built by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from factories import make_item
from recsys import Engine, Event, Member, NotFoundError, ValidationError
from recsys.curriculum import Curriculum, RolePolicy
from recsys.records import TZ, Item, Schedule

DAY = dt.date(2026, 10, 1)
ORG = "hxny.fdgs.zb-yunxing"

TEXT = {
    "党章党规党纪": ("学习党章", "党章是党的根本大法，党员必须遵守党的纪律，严守政治纪律和政治规矩。"),
    "安全生产": ("安全生产", "落实安全生产责任制，开展隐患排查治理，严格执行操作规程，防范事故发生。"),
    "党史": ("党史故事", "中国共产党成立以来的光辉历程，从南湖红船到遵义会议再到新中国成立。"),
    "数字化转型": ("数字化转型", "以数据为关键要素，推进智能巡检、工业互联网与智慧电厂建设。"),
    "廉洁从业": ("廉洁从业", "严守廉洁底线，不收受礼品礼金，规范采购招标，防范利益冲突。"),
}


def topic_items(topic: str, n: int, prefix: str, **fields) -> list:
    title, body = TEXT[topic]
    return [
        make_item(f"{prefix}{k}", f"{title}第{k}讲（{prefix}）", f"{body}（{prefix}第{k}部分）", topics=(topic,), **fields)
        for k in range(1, n + 1)
    ]


def at(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def member(id_="m1", **fields) -> Member:
    fields.setdefault("name", "李志刚")
    fields.setdefault("org", ORG)
    fields.setdefault("location", "太原")
    return Member(id=id_, **fields)


@pytest.fixture
def open_engine(tmp_path):
    engines = []

    def make(items, members, events=(), **kwargs):
        # The items of topic_items() differ in a word or two: only exact twins are duplicates here.
        kwargs.setdefault("duplicate_threshold", 0.99)
        eng = Engine.open(tmp_path / f"s{len(engines)}", encoder="tfidf", **kwargs)
        engines.append(eng)
        eng.add_items(items)
        eng.upsert_members(members)
        if events:
            eng.record(events)
        return eng

    yield make
    for eng in engines:
        eng.close()


def catalogue():
    return (
        topic_items("党章党规党纪", 4, "dj")
        + topic_items("安全生产", 4, "aq")
        + topic_items("党史", 4, "ds")
        + topic_items("数字化转型", 4, "sz")
    )


def test_secretary_behind_on_discipline_gets_discipline_first(open_engine):
    policy = Curriculum(roles={
        "member": RolePolicy("member", "党员", "党员日常学习", 32, {}),
        "branch_secretary": RolePolicy("branch_secretary", "支部书记", "支部书记", 56, {"党章党规党纪": 0.5}),
    })
    secretary = member(roles=("member", "branch_secretary"), interests=("数字化转型",), daily_minutes=20)
    plain = member("m2", name="王芳", roles=("member",), interests=("数字化转型",), daily_minutes=20)
    eng = open_engine(catalogue(), [secretary, plain], curriculum=policy)
    first = eng.daily("m1", day=DAY).entries[0]
    assert first.item.topics == ("党章党规党纪",)
    assert any("必修主题：党章党规党纪" in r and "本年度还差" in r for r in first.reasons)
    # The ordinary member, with the same interests but no such requirement, gets their interest.
    assert eng.daily("m2", day=DAY).entries[0].item.topics == ("数字化转型",)


def test_infirm_and_mobile_members_get_no_offline_item(open_engine):
    visit = make_item(
        "visit", "红色教育基地现场教学", "参观革命旧址，重温入党誓词。", kind="activity", mode="offline",
        minutes=120, topics=("党史",),
        schedule=Schedule(at(DAY, 9), at(DAY, 11), "太原·山西国民师范旧址", 30),
    )
    people = [
        member("able", daily_minutes=180, interests=("党史",)),
        member("infirm", daily_minutes=180, interests=("党史",), situation="infirm", offline=False),
        member("mobile", daily_minutes=180, interests=("党史",), situation="mobile", offline=False, location="成都"),
    ]
    eng = open_engine(catalogue() + [visit], people)
    able = eng.daily("able", day=DAY)
    assert able.entries[0].item.id == "visit"
    assert any("今天 09:00" in r for r in able.entries[0].reasons)
    for who in ("infirm", "mobile"):
        lst = eng.daily(who, day=DAY)
        assert lst.entries and all(e.item.mode == "online" for e in lst.entries)
        assert lst.minutes > 0.8 * lst.budget  # still a complete online plan
        assert not lst.upcoming


def test_an_activity_whose_place_names_no_city_is_offered_wherever_members_live(open_engine):
    day = DAY + dt.timedelta(days=5)
    hall = make_item(
        "hall", "集团机关主题党日", "主题党日活动。", kind="activity", mode="offline", minutes=120,
        topics=("党史",), schedule=Schedule(at(day, 9), at(day, 11), "太原 集团总部三楼会议室", 40),
    )
    eng = open_engine(catalogue() + [hall], [member("a", daily_minutes=30)])
    lst = eng.daily("a", day=DAY)
    assert [e.item.id for e in lst.upcoming] == ["hall"]
    assert "在太原 集团总部三楼会议室举行" in lst.upcoming[0].reasons[0]


def test_offline_activity_shows_as_upcoming_then_on_its_day(open_engine):
    day = DAY + dt.timedelta(days=5)
    visit = make_item(
        "visit", "红色教育基地现场教学", "参观革命旧址。", kind="activity", mode="offline", minutes=120,
        topics=("党史",), schedule=Schedule(at(day, 9), at(day, 11), "太原·山西国民师范旧址", 2),
    )
    far = make_item(
        "far", "外地现场教学", "参观。", kind="activity", mode="offline", minutes=120, topics=("党史",),
        schedule=Schedule(at(day, 9), at(day, 11), "延安·枣园革命旧址", 30),
    )
    people = [member("a", daily_minutes=30), member("b", name="王芳"), member("c", name="赵敏"),
              member("d", name="刘洋", daily_minutes=180)]
    eng = open_engine(catalogue() + [visit, far], people)
    lst = eng.daily("a", day=DAY)
    assert [e.item.id for e in lst.upcoming] == ["visit"]  # not the one in another city
    assert "10月6日在山西国民师范旧址举行，可报名（剩余 2 个名额）" in lst.upcoming[0].reasons[0]
    assert all(e.item.mode == "online" for e in lst.entries)
    # Capacity: once two members enrol it is full for the others, but not for those enrolled.
    eng.record([Event(member=m, item="visit", kind="enroll", at=at(DAY, 10)) for m in ("b", "c")])
    assert eng.daily("a", day=DAY + dt.timedelta(days=1)).upcoming == ()
    assert eng.daily("d", day=day).entries[0].item.id != "visit"
    b_day = eng.daily("b", day=day, minutes=180)
    assert b_day.entries[0].item.id == "visit"
    assert any("您已报名" in r for r in b_day.entries[0].reasons)
    assert "visit" not in [e.item.id for e in b_day.upcoming]  # an entry already
    # Ten minutes cannot hold the visit, but a member who signed up still sees it on its day.
    c_day = eng.daily("c", day=day, minutes=10)
    assert "visit" not in [e.item.id for e in c_day.entries] and c_day.minutes <= 10
    assert c_day.upcoming[0].item.id == "visit"
    assert c_day.upcoming[0].reasons == ("您已报名，今天 09:00 在山西国民师范旧址举行（不计入今日学习时长）",)


def test_no_other_activity_takes_the_place_of_one_enrolled_in_that_the_day_cannot_hold(open_engine):
    themed = make_item("themed", "主题党日：参观纪念馆", "参观革命纪念馆，重温入党誓词。", kind="activity", mode="offline",
                       minutes=120, topics=("党史",), schedule=Schedule(at(DAY, 9), at(DAY, 11), "太原·纪念馆", 30))
    talk = make_item("talk", "党史小组讨论", "党史学习小组讨论。", kind="activity", mode="offline", minutes=20,
                     topics=("党史",), schedule=Schedule(at(DAY, 9), at(DAY, 9) + dt.timedelta(minutes=20), "太原·会议室", 30))
    quizzes = [make_item(f"q{k}", f"党史小测验{k}", f"党史知识小测验第{k}组", kind="quiz", minutes=5, topics=("党史",))
               for k in range(3)]
    eng = open_engine([themed, talk, *quizzes], [member(daily_minutes=30)],
                      [Event(member="m1", item="themed", kind="enroll", at=at(DAY - dt.timedelta(days=5)))])
    day = eng.daily("m1", day=DAY, preview=True)
    # The morning is the themed day's (shown with the activities ahead), not a talk at the same hour.
    assert sorted(e.item.id for e in day.entries) == ["q0", "q1", "q2"]
    assert [u.item.id for u in day.upcoming] == ["themed"]
    assert [e.item.id for e in eng.daily("m1", day=DAY, minutes=200, preview=True).entries][0] == "themed"


def test_prerequisites_come_first(open_engine):
    a = make_item("a", "安全生产入门", TEXT["安全生产"][1], topics=("安全生产",), level=1)
    b = make_item("b", "安全生产进阶", TEXT["安全生产"][1] + "进阶", topics=("安全生产",), level=2, requires=("a",))
    c = make_item("c", "安全生产提高", TEXT["安全生产"][1] + "提高", topics=("安全生产",), level=3, requires=("b",))
    eng = open_engine([a, b, c] + topic_items("党史", 6, "ds"), [member(interests=("安全生产",), daily_minutes=10)],
                      curriculum=Curriculum(roles={}))
    assert "b" not in [e.item.id for e in eng.daily("m1", day=DAY).entries]
    path = eng.path("m1", start=DAY, days=6, minutes=10)
    order = [e.item.id for d in path.days for e in d.entries]
    assert order.index("a") < order.index("b") < order.index("c")
    assert [e.item.id for e in path.days[0].entries] == ["a"]
    assert any("这是进阶内容" in r for d in path.days for e in d.entries if e.item.id == "b" for r in e.reasons)


def test_daily_list_is_stable_and_recorded_as_impressions(open_engine):
    eng = open_engine(catalogue(), [member(interests=("党史",))])
    first = eng.daily("m1", day=DAY)
    assert eng.daily("m1", day=DAY) == first
    shown = {e.item for e in eng.events("m1") if e.kind == "impression"}
    assert shown == {e.item.id for e in first.entries}
    # A completed item changes the member's state: it is gone, the rest may stay.
    done = first.entries[0].item.id
    eng.record([Event(member="m1", item=done, kind="complete", at=at(DAY, 12))])
    again = eng.daily("m1", day=DAY)
    assert done not in [e.item.id for e in again.entries]
    # The cool-down: shown, not started, not back the next day.
    tomorrow = eng.daily("m1", day=DAY + dt.timedelta(days=1))
    assert not {e.item.id for e in again.entries} & {e.item.id for e in tomorrow.entries}


def test_cooldown_ends(open_engine):
    items = topic_items("党史", 3, "ds")
    eng = open_engine(items, [member(interests=("党史",), daily_minutes=10)])
    eng.record([Event(member="m1", item="ds1", kind="impression", at=at(DAY - dt.timedelta(days=3), 8))])
    assert "ds1" not in [e.item.id for e in eng.path("m1", start=DAY, days=2, minutes=10).days[0].entries]
    later = eng.daily("m1", day=DAY + dt.timedelta(days=12), minutes=30)
    assert "ds1" in [e.item.id for e in later.entries]


def test_near_duplicates_of_completed_items_count_as_completed(open_engine):
    a = make_item("a", "有限空间作业要点", "有限空间作业必须先通风、再检测、后作业，严禁盲目施救。", topics=("安全生产",))
    twin = make_item("twin", "有限空间作业要领", "有限空间作业必须先通风、再检测、后作业，严禁盲目施救！", topics=("安全生产",))
    eng = open_engine([a, twin] + topic_items("安全生产", 3, "aq"), [member(interests=("安全生产",))],
                      [Event(member="m1", item="a", kind="complete", at=at(DAY - dt.timedelta(days=2)))],
                      duplicate_threshold=0.9)
    ids = [e.item.id for d in eng.path("m1", start=DAY, days=5).days for e in d.entries]
    assert "a" not in ids and "twin" not in ids


def test_a_long_day_is_filled_too(open_engine):
    # 120 items of 12 minutes: a whole day's 1,440 minutes can be filled (forty candidates held 480).
    items = [it for topic, p in (("党史", "a"), ("廉洁从业", "b"), ("安全生产", "c"), ("数字化转型", "d"))
             for it in topic_items(topic, 30, p, minutes=12)]
    eng = open_engine(items, [member(interests=("党史",), daily_minutes=1440)])
    lst = eng.daily("m1", day=DAY, preview=True)
    assert lst.minutes >= 0.8 * 1440 and len({e.item.id for e in lst.entries}) == len(lst.entries)
    assert eng.daily("m1", day=DAY, minutes=30, preview=True).minutes == 24  # a short day as before


def test_budget_is_filled_by_a_knapsack(open_engine):
    # A greedy pick of the best item (25 min) would leave 5 of 30 minutes; 10+20 fills the day.
    items = [
        make_item("long", "党史长课", TEXT["党史"][1], topics=("党史",), minutes=25),
        make_item("ten", "党史短文", TEXT["党史"][1] + "短文", topics=("党史",), minutes=10),
        make_item("twenty", "党史视频", TEXT["党史"][1] + "视频", topics=("党史",), minutes=20, kind="video"),
    ]
    eng = open_engine(items, [member(interests=("党史",), daily_minutes=30)])
    lst = eng.daily("m1", day=DAY)
    assert lst.minutes == 30 and {e.item.id for e in lst.entries} == {"ten", "twenty"}


def test_empty_lists_say_why(open_engine):
    items = topic_items("党史", 2, "ds", minutes=20)
    eng = open_engine(items, [member(interests=("党史",))])
    small = eng.daily("m1", day=DAY, minutes=5)
    assert small.entries == () and "少于最短可学内容（20 分钟）" in small.notes[0]
    # Before the catalogue's first item is published there is nothing to study, not all studied.
    early = eng.daily("m1", day=dt.date(2000, 1, 1), preview=True)
    assert early.entries == () and early.notes == ("今天暂时没有适合您的学习内容",)
    eng.record([Event(member="m1", item=i.id, kind="complete", at=at(DAY - dt.timedelta(days=1))) for i in items])
    done = eng.daily("m1", day=DAY)
    assert done.entries == () and "已全部学完" in done.notes[0]


def test_a_short_day_is_filled_from_what_fits_it_however_much_longer_content_ranks_above(open_engine):
    # Fifty 30-minute lectures close to what the member studied, each unlike the others, outrank
    # three 5-minute quizzes on something else; all share a topic, so no topic cap lets the
    # quizzes through. The diversity step keeps 40: what fits the day must be chosen before it.
    names = list(TEXT)
    lectures = [make_item(f"l{a}{b}-{k}", f"{TEXT[names[a]][0]}与{TEXT[names[b]][0]}第{k}讲",
                          TEXT[names[a]][1] + TEXT[names[b]][1] + f"（第{k}部分）", topics=("党史",), minutes=30)
                for a in range(5) for b in range(5) for k in (1, 2)]
    quizzes = [make_item(f"q{k}", f"文明礼仪小测验{k}", f"日常文明礼仪与社交常识小测验，第{k}组。", topics=("党史",),
                         minutes=5, kind="quiz") for k in (1, 2, 3)]
    studied = [Event(member=m, item=f"l{n}{n}-2", kind="complete", at=at(DAY - dt.timedelta(days=3)))
               for m in ("m1", "m2") for n in range(5)]
    eng = open_engine(lectures + quizzes, [member(interests=("党史",), daily_minutes=30),
                                           member("m2", interests=("党史",), daily_minutes=15)], studied)
    short = eng.daily("m1", day=DAY, minutes=15, preview=True)
    assert sorted(e.item.id for e in short.entries) == ["q1", "q2", "q3"] and short.minutes == 15
    assert eng.daily("m1", day=DAY, preview=True).entries[0].item.minutes == 30  # a full day: a lecture
    assert sorted(h.item.id for h in eng.rank("m2", day=DAY, k=10)) == ["q1", "q2", "q3"]  # the order evaluated


def test_a_reason_is_given_once_a_list_unless_it_is_all_an_entry_has(open_engine):
    cases = topic_items("廉洁从业", 4, "an", kind="case", minutes=15)
    eng = open_engine(cases + topic_items("党史", 4, "ds", minutes=15),
                      [member(interests=("廉洁从业", "党史"), daily_minutes=120)])
    entries = eng.daily("m1", day=DAY, preview=True).entries
    assert sum(e.item.kind == "case" for e in entries) >= 2
    # "安排一个案例" once, not on every case of a long day; each entry still gives a reason.
    assert sum("安排一个案例" in r for e in entries for r in e.reasons) == 1
    assert all(e.reasons for e in entries)
    said: set[str] = set()
    for e in entries:  # a reason given above comes again only as all an entry has
        assert said.isdisjoint(e.reasons) or len(e.reasons) == 1, e.reasons
        said.update(e.reasons)


def test_political_birthday_only_in_the_anniversary_week(open_engine):
    bday = make_item("bday", "过政治生日：重温入党初心", "入党纪念日重温入党誓词，回顾入党初心。", topics=("党的宗旨",), minutes=10)
    joined = dt.date(2010, 10, 20)
    eng = open_engine(catalogue() + [bday], [member(joined=joined, daily_minutes=30)])
    week = eng.daily("m1", day=dt.date(2026, 10, 19))
    assert week.entries[0].item.id == "bday"
    assert "入党纪念日（10月20日）" in week.entries[0].reasons[0]
    assert "bday" not in [e.item.id for e in eng.daily("m1", day=dt.date(2026, 10, 5)).entries]


def test_several_interests_survive(open_engine):
    history = [
        Event(member="m1", item=i, kind="complete", at=at(DAY - dt.timedelta(days=n + 1)))
        for n, i in enumerate(["dj1", "aq1", "dj2", "aq2"])
    ]
    items = catalogue() + topic_items("廉洁从业", 4, "lj")
    eng = open_engine(items, [member(daily_minutes=40)], history, curriculum=Curriculum(roles={}))
    topics = {e.item.topics[0] for e in eng.daily("m1", day=DAY).entries}
    assert {"党章党规党纪", "安全生产"} <= topics  # both interests, not their midpoint


def test_cold_start_member_gets_a_role_based_list(open_engine):
    eng = open_engine(catalogue(), [member(roles=("member", "frontline"), daily_minutes=30)])
    lst = eng.daily("m1", day=DAY)
    assert lst.minutes >= 20 and all(e.reasons for e in lst.entries)
    assert any(e.item.topics[0] == "安全生产" for e in lst.entries)  # the frontline curriculum


def test_targeting_expiry_and_org_are_respected(open_engine):
    items = catalogue() + [
        make_item("cadre", "领导干部专题", TEXT["廉洁从业"][1], topics=("廉洁从业",), roles=("cadre",)),
        make_item("old", "过期形势政策", TEXT["党史"][1] + "过期", topics=("党史",), expires=dt.date(2026, 9, 1)),
        make_item("other", "他企专属", TEXT["党史"][1] + "他企", topics=("党史",), org="zjjt"),
        make_item("ours", "本企专属", TEXT["党史"][1] + "本企", topics=("党史",), org="hxny"),
        make_item("future", "尚未发布", TEXT["党史"][1] + "未发布", topics=("党史",), published=dt.date(2026, 12, 1)),
    ]
    eng = open_engine(items, [member(interests=("党史", "廉洁从业"), daily_minutes=600)])
    ids = {e.item.id for d in eng.path("m1", start=DAY, days=3).days for e in d.entries}
    assert "ours" in ids
    assert not ids & {"cadre", "old", "other", "future"}


def test_bad_requests(open_engine):
    eng = open_engine(catalogue(), [member()])
    with pytest.raises(NotFoundError, match="ghost"):
        eng.daily("ghost")
    with pytest.raises(ValidationError, match="minutes"):
        eng.daily("m1", minutes=0)
    with pytest.raises(ValidationError, match="day"):
        eng.daily("m1", day="tomorrow")
    with pytest.raises(ValidationError, match="days"):
        eng.path("m1", days=0)
    far = eng.daily("m1", day=dt.date(1990, 1, 1))  # a day far away is computed against that day
    assert far.entries == () and far.notes


def test_path_rotates_topics_and_raises_levels(open_engine):
    items = []
    for topic, prefix in (("党史", "ds"), ("安全生产", "aq"), ("党章党规党纪", "dj")):
        for level in (1, 2, 3):
            items += topic_items(topic, 2, f"{prefix}{level}-", level=level)
    eng = open_engine(items, [member(daily_minutes=10)], curriculum=Curriculum(roles={}))
    path = eng.path("m1", start=DAY, days=12)
    mains = [d.entries[0].item.topics[0] for d in path.days if d.entries]
    assert all(a != b for a, b in zip(mains, mains[1:]))  # topics rotate day to day
    for topic in ("安全生产", "党章党规党纪"):
        levels = [e.item.level for d in path.days for e in d.entries if e.item.topics[0] == topic]
        firsts = [levels.index(level) for level in (1, 2, 3)]
        assert firsts == sorted(firsts)  # difficulty rises: each level is reached after the one below


def test_a_path_keeps_the_list_a_day_was_given_and_plans_around_it(open_engine):
    """The member was pushed the list of the path's second day: the path shows that list on that
    day, plans the other days without its items, and plans afresh once the member's record moves."""
    items = []
    for topic, prefix in (("党史", "ds"), ("安全生产", "aq"), ("党章党规党纪", "dj")):
        items += topic_items(topic, 3, prefix)
    eng = open_engine(items, [member(daily_minutes=10, interests=("党史",))], curriculum=Curriculum(roles={}))
    second = DAY + dt.timedelta(days=1)
    alone = eng.path("m1", start=DAY, days=3)
    pushed = eng.daily("m1", day=second)
    assert [e.item.id for e in alone.days[0].entries] == [e.item.id for e in pushed.entries]  # the clash to avoid
    path = eng.path("m1", start=DAY, days=3)
    assert path.days[1] == pushed
    ids = [e.item.id for d in path.days for e in d.entries]
    assert len(ids) == len(set(ids)) and all(d.entries for d in path.days)
    # Studied since: the pushed list no longer holds, and the path plans that day afresh.
    done = pushed.entries[0].item.id
    eng.record([Event(member="m1", item=done, kind="complete", at=at(DAY - dt.timedelta(days=1)))])
    assert done not in {e.item.id for d in eng.path("m1", start=DAY, days=3).days for e in d.entries}


def test_two_days_pushed_on_their_own_give_a_path_no_item_twice(open_engine):
    """An item started and not finished is offered each day until it is: two days pushed apart
    both give it, and a path over them shows it on the first only (it takes each day as studied):
    the second day is planned afresh, its minutes filled."""
    items = topic_items("党史", 3, "ds", minutes=10) + topic_items("安全生产", 3, "aq", minutes=10)
    eng = open_engine(items, [member(daily_minutes=10, interests=("党史",))], curriculum=Curriculum(roles={}),
                      events=[Event(member="m1", item="ds1", kind="start", at=at(DAY - dt.timedelta(days=1)))])
    second = DAY + dt.timedelta(days=1)
    pushed = [eng.daily("m1", day=d) for d in (DAY, second)]
    assert [[e.item.id for e in p.entries] for p in pushed] == [["ds1"], ["ds1"]]  # the repeat to avoid
    path = eng.path("m1", start=DAY, days=3)
    assert path.days[0] == pushed[0] and path.days[1].minutes == 10 and all(d.entries for d in path.days)
    ids = [e.item.id for d in path.days for e in d.entries]
    assert ids.count("ds1") == 1 and len(ids) == len(set(ids))


def test_an_item_given_for_a_later_day_is_not_taken_as_done_before_it(open_engine):
    """The prerequisite was pushed for the path's second day: the first day cannot offer what
    requires it (it is not studied yet), nor the prerequisite itself (it is the second day's)."""
    basics = topic_items("党史", 1, "base")[0]
    needs = make_item("need", "党史进阶专题", TEXT["党史"][1] + "进阶", topics=("党史",), requires=("base1",))
    others = topic_items("安全生产", 3, "aq")
    eng = open_engine([basics, needs, *others], [member(daily_minutes=10, interests=("党史",))],
                      curriculum=Curriculum(roles={}))
    second = DAY + dt.timedelta(days=1)
    pushed = eng.daily("m1", day=second, minutes=10)
    assert [e.item.id for e in pushed.entries] == ["base1"]
    path = eng.path("m1", start=DAY, days=3, minutes=10)
    days = [[e.item.id for e in d.entries] for d in path.days]
    assert days[1] == ["base1"] and "need" not in days[0] and "base1" not in days[0]


def test_a_path_never_says_a_day_relates_to_what_earlier_days_only_plan(open_engine):
    items = []
    for topic, prefix in (("党史", "ds"), ("安全生产", "aq"), ("党章党规党纪", "dj")):
        items += topic_items(topic, 4, prefix)
    eng = open_engine(items, [member(daily_minutes=10, interests=("党史",))],
                      [Event(member="m1", item="ds1", kind="complete", at=at(DAY - dt.timedelta(days=2)))],
                      curriculum=Curriculum(roles={}))
    path = eng.path("m1", start=DAY, days=6)
    reasons = [r for d in path.days for e in d.entries for r in e.reasons]
    planned = [e.item.title for d in path.days for e in d.entries]
    assert any("近期学习的《党史故事第1讲（ds）》" in r for r in reasons)  # what was studied is still said
    assert not [r for r in reasons for t in planned if f"近期学习的《{t}》" in r]


def test_what_a_member_rated_poorly_is_not_given_as_the_reason_for_something_like_it(open_engine):
    def said(stars):
        done = at(DAY - dt.timedelta(days=2))
        eng = open_engine(topic_items("党史", 6, "ds"), [member(daily_minutes=60)],
                          [Event(member="m1", item="ds1", kind="complete", at=done),
                           Event(member="m1", item="ds1", kind="rate", value=stars, at=done)])
        return [r for e in eng.daily("m1", day=DAY, preview=True).entries for r in e.reasons if "近期学习的" in r]

    assert said(4) and all("《党史故事第1讲（ds）》" in r for r in said(4))
    assert said(2) == []


def test_a_path_says_a_stage_is_studied_only_of_what_the_member_studied(open_engine):
    items = []
    for topic, prefix in (("党史", "ds"), ("安全生产", "aq"), ("党章党规党纪", "dj")):
        for level in (1, 2, 3):
            items += topic_items(topic, 2, f"{prefix}{level}-", level=level)
    studied = [Event(member="m1", item="aq1-1", kind="complete", at=at(DAY - dt.timedelta(days=2)))]
    eng = open_engine(items, [member(daily_minutes=10)], studied, curriculum=Curriculum(roles={}))
    days = eng.path("m1", start=DAY, days=12).days
    said = {(e.item.topics[0], e.item.level, r) for d in days for e in d.entries for r in e.reasons
            if "您已学完" in r or "前几天安排" in r}
    # 安全生产 level 1 was studied: its level 2 follows it; every other stage follows a planned day.
    assert ("安全生产", 2, "您已学完安全生产的入门内容，这是进阶内容") in said
    assert {r for t, level, r in said if "您已学完" in r} == {"您已学完安全生产的入门内容，这是进阶内容"}
    assert ("党章党规党纪", 2, "接着前几天安排的党章党规党纪内容，这是进阶内容") in said


def test_search_and_similar_with_a_member_use_the_same_filters(open_engine):
    items = catalogue() + [
        make_item("cadre", "领导干部党史专题", TEXT["党史"][1] + "领导干部", topics=("党史",), roles=("cadre",)),
        make_item("other", "他企党史专题", TEXT["党史"][1] + "他企", topics=("党史",), org="zjjt"),
    ]
    eng = open_engine(items, [member(interests=("党史",))],
                      [Event(member="m1", item="ds1", kind="complete", at=at(DAY - dt.timedelta(days=1)))])
    everything = {h.item.id for h in eng.search("党史", k=30)}
    assert {"ds1", "cadre", "other"} <= everything
    mine = {h.item.id for h in eng.search("党史", k=30, member="m1")}
    assert mine and not mine & {"ds1", "cadre", "other"}
    assert {h.item.id for h in eng.similar("ds2", k=30, member="m1")}.isdisjoint({"ds1", "ds2", "cadre", "other"})
    # An organisation sees shared items and its own, not another enterprise's.
    assert "other" not in {h.item.id for h in eng.search("党史", k=30, org="hxny")}
    assert "other" in {h.item.id for h in eng.search("党史", k=30, org="zjjt.xmb.zb-xian")}


def test_nothing_left_to_study_is_said_so_even_with_a_long_activity_open(open_engine):
    """An activity longer than the day is open, but every online item is studied: the note says
    all is studied, not that the day is shorter than the shortest item."""
    items = topic_items("党史", 2, "ds", minutes=20) + [
        Item(id="act", title="红色教育基地现场教学", body="党史现场教学", kind="activity", mode="offline",
             minutes=180, topics=("党史",), published=DAY - dt.timedelta(days=30),
             schedule=Schedule(at(DAY, 9), at(DAY, 12), "太原·红色教育基地", None)),
    ]
    m = member(interests=("党史",), daily_minutes=30)
    eng = open_engine(items, [m])
    eng.record([Event(member="m1", item=i.id, kind="complete", at=at(DAY - dt.timedelta(days=1)))
                for i in items if i.mode == "online"])
    lst = eng.daily("m1", day=DAY)
    assert lst.entries == () and "已全部学完" in lst.notes[0]
    # One online item left, longer than the day: then the time is what is short.
    longer = make_item("long", "党史长课", TEXT["党史"][1] + "长课", topics=("党史",), minutes=45)
    eng.add_items([longer])
    lst = eng.daily("m1", day=DAY + dt.timedelta(days=1))
    assert lst.entries == () and "少于最短可学内容（45 分钟）" in lst.notes[0]


def test_content_meant_for_a_situation_goes_only_to_members_in_it(open_engine):
    """流动党员… with no role targeting is for mobile members; a guide for secretaries on
    managing mobile members is left to its roles. The per-item rule and the columns agree."""
    guide = make_item("guide", "流动党员线上组织生活指南", "流动党员如何参加线上组织生活。", topics=("党务工作",), minutes=10)
    manage = make_item("manage", "流动党员管理工作要点", "支部如何管理流动党员。", topics=("党务工作",), minutes=10,
                       roles=("branch_secretary",))
    home = make_item("home", "年老体弱党员送学上门学习材料", "送学上门。", topics=("党史",), minutes=10)
    plain = make_item("plain", "党史故事", TEXT["党史"][1], topics=("党史",), minutes=10)
    members = [
        member("reg", roles=("member", "branch_secretary"), daily_minutes=60),
        member("mob", roles=("member",), situation="mobile", offline=False, daily_minutes=60),
        member("old", roles=("member",), situation="infirm", offline=False, daily_minutes=60),
    ]
    eng = open_engine([guide, manage, home, plain], members)
    shown = {m.id: {e.item.id for e in eng.daily(m.id, day=DAY, preview=True).entries} for m in members}
    assert shown["reg"] == {"manage", "plain"}
    assert shown["mob"] == {"guide", "plain"}
    assert shown["old"] == {"home", "plain"}
    cur = Curriculum()
    assert cur.item_situations(guide) == {"mobile"} and cur.item_situations(manage) == set()
    assert Curriculum.from_dict({"situation_keywords": {"mobile": ["外出务工党员"]}}).item_situations(guide) == set()
    with pytest.raises(ValidationError):
        Curriculum.from_dict({"situation_keywords": {"regular": ["在岗"]}})


def test_the_curriculums_query_texts_are_every_description_and_required_topic_once():
    cur = Curriculum(
        roles={"a": RolePolicy("a", "甲", "甲的职责", required={"党史": 0.5, "党章": 0.2}),
               "b": RolePolicy("b", "乙", "", required={"党史": 0.3})},
        orgs={"hxny": {"a": RolePolicy("a", "甲", "甲在本企业的职责", required={"安全生产": 0.4})}},
    )
    # Known answer: descriptions first (an empty one left out), then topics, each once.
    assert cur.query_texts() == ["甲的职责", "甲在本企业的职责", "党史", "党章", "安全生产"]


def test_the_same_content_under_another_id_waits_as_long_as_the_item_shown_or_disliked(open_engine):
    """A copy (other id, same text) of yesterday's unopened article is as much a repeat as the
    article: it cools down with it; a copy of a disliked item is never shown either."""
    fee, fee_copy = (make_item(i, "党费交纳比例及基数计算", "党员每月按工资收入的规定比例交纳党费，基数为税后工资。",
                               topics=("党章党规党纪",)) for i in ("fee", "fee-copy"))
    meet, meet_copy = (make_item(i, "三会一课制度解读", "支部党员大会、支委会、党小组会和党课的召开要求。",
                                 topics=("党章党规党纪",)) for i in ("meet", "meet-copy"))
    other = topic_items("党史", 1, "ds")
    eng = open_engine([fee, fee_copy, meet, meet_copy, *other], [member(interests=("党章党规党纪",), daily_minutes=60)],
                      [Event(member="m1", item="fee", kind="impression", at=at(DAY - dt.timedelta(days=1), 8)),
                       Event(member="m1", item="meet", kind="dislike", at=at(DAY - dt.timedelta(days=1)))])
    today = eng.daily("m1", day=DAY, preview=True)
    assert [e.item.id for e in today.entries] == ["ds1"]
    # The cool-down over (14 days), the article and its copy may come back; the disliked never.
    later = {e.item.id for e in eng.daily("m1", day=DAY + dt.timedelta(days=14), preview=True).entries}
    assert {"fee", "fee-copy"} <= later and not later & {"meet", "meet-copy"}
    # With the other item studied, what is left today is only waiting: not "all studied".
    eng.record([Event(member="m1", item="ds1", kind="complete", at=at(DAY - dt.timedelta(days=1)))])
    empty = eng.daily("m1", day=DAY, preview=True)
    assert empty.entries == () and empty.notes == ("今天暂时没有适合您的学习内容",)


def test_a_city_written_with_its_province_or_shi_is_the_same_city(open_engine):
    act = Item(id="act", title="红色教育基地现场教学", body="党史现场教学", kind="activity", mode="offline",
               minutes=180, topics=("党史",), published=DAY - dt.timedelta(days=30),
               schedule=Schedule(at(DAY, 9), at(DAY, 12), "太原市·红色教育基地", None))
    members = [member("m1", location="山西省太原市", daily_minutes=240), member("m2", location="太原", daily_minutes=240),
               member("m3", location="大同市", daily_minutes=240)]
    eng = open_engine([act, *topic_items("党史", 2, "ds")], members)
    shown = {m.id: "act" in {e.item.id for e in eng.daily(m.id, day=DAY, preview=True).entries} for m in members}
    assert shown == {"m1": True, "m2": True, "m3": False}


@pytest.mark.parametrize("days_ahead, prepared", [(5, True), (40, False)])
def test_reading_for_an_activity_enrolled_in_is_offered_in_the_two_weeks_before_it(open_engine, days_ahead, prepared):
    visit_day = DAY + dt.timedelta(days=days_ahead)
    visit = Item(id="visit", title="遵义会议会址现场教学", body="遵义会议的历史意义与伟大转折，现场参观学习。", kind="activity",
                 mode="offline", minutes=180, topics=("党史",), published=DAY - dt.timedelta(days=30),
                 schedule=Schedule(at(visit_day, 9), at(visit_day, 12), "太原·红色教育基地", None))
    reading = make_item("zunyi", "遵义会议的历史意义", "遵义会议的历史意义与伟大转折，党史学习材料。", topics=("党史",))
    others = topic_items("安全生产", 3, "aq")
    eng = open_engine([visit, reading, *others], [member(daily_minutes=60)],
                      [Event(member="m1", item="visit", kind="enroll", at=at(DAY - dt.timedelta(days=1)))])
    reasons = {e.item.id: e.reasons for e in eng.daily("m1", day=DAY, preview=True).entries}
    said = any(r.startswith("为") and r.endswith("做准备") for r in reasons.get("zunyi", ()))
    assert said == prepared


def test_an_item_opened_today_stays_on_the_days_list(open_engine, tmp_path):
    """Starting an item re-plans the day (the member's state moved): the item just opened stays,
    first, whatever a trained blend thinks of going back to things started (the member page lost
    the card the member had just opened). In a batch as in a single list; once completed it goes."""
    # Required topics outrank the rest; the member opens an item of another topic (from search).
    items = topic_items("党章党规党纪", 4, "dj", minutes=10) + topic_items("安全生产", 4, "aq", minutes=10)
    eng = open_engine(items, [member(daily_minutes=30), member("m2", daily_minutes=30)])
    first = [e.item.id for e in eng.daily("m1", day=DAY).entries]
    opened = "aq1"
    assert opened not in first
    eng.record([Event(member="m1", item=opened, kind="start", at=at(DAY, 9))])
    again = eng.daily("m1", day=DAY, preview=True)
    assert again.entries[0].item.id == opened and again.entries[0].reasons[0] == "继续学习：您已开始但尚未完成"
    assert eng.daily_many(["m1"], DAY)[0].entries == again.entries
    eng.record([Event(member="m1", item=opened, kind="complete", at=at(DAY, 10))])
    assert opened not in {e.item.id for e in eng.daily("m1", day=DAY, preview=True).entries}
    # Started before today: an ordinary candidate again, ranked as the blend ranks it.
    assert eng.daily("m1", day=DAY + dt.timedelta(days=1), preview=True).entries
