"""Known-answer tests of the coverage report on a small hand-built world.

Every gap is planted on purpose, and each test checks that it is found and that nothing else is
reported. The world, as of ``DAY``:

- Curriculum: ``member`` 1 h a year, half 党史 and half 廉洁从业; ``cadre`` 2 h, half 廉洁从业;
  ``frontline`` 1.5 h, all 安全生产; ``retired`` no hours, all 形势政策.
- Members: m1 (member), m2 (member + cadre), m5 (member, mobile) in branch t.zb1; m3 (member +
  retired, infirm), m4 (frontline), m6 (member, 5 minutes a day) in branch t.zb2.
- Planted: 安全生产 has 30 minutes for frontline members who need 90 (supply gap; an article on it
  for cadres is the closest item to re-target); 形势政策 has only an offline activity and a
  cadre-only item, so infirm m3 has nothing to take (unreachable); 廉洁从业 has no case study; 党史
  has no level-3 item; one stale current-affairs item; one item expiring in 10 days; two offline
  activities ahead; a prerequisite missing and a cycle; an item for a role nobody holds; an
  expired item; an item nobody is ever shown; an item served once in 90 days; one pair of
  near-duplicates; members without impressions, completions or online activity; m6 for whom no
  item fits the day.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import make_item
from recsys import Engine, Event, Member, Schedule, StudyEntry, StudyList
from recsys.reports.coverage import CoverageReport, format_coverage, gini
from recsys.curriculum import Curriculum
from recsys.embedding.duplicates import duplicate_clusters, normalise_text
from recsys.records import TZ
from recsys.storage import ServedList

DAY = dt.date(2026, 6, 15)
OLD = dt.date(2025, 6, 1)

CURRICULUM = {
    "max_required_share": 1.0,
    "roles": {
        "member": {"annual_hours": 1, "required": {"党史": 0.5, "廉洁从业": 0.5}},
        "cadre": {"annual_hours": 2, "required": {"廉洁从业": 0.5}},
        "frontline": {"annual_hours": 1.5, "required": {"安全生产": 1.0}},
        "retired": {"annual_hours": None, "required": {"形势政策": 1.0}},
    },
}


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def _activity(id_, title, body, topics, *, roles=(), org, starts, capacity, minutes=120):
    return make_item(id_, title, body, kind="activity", mode="offline", topics=topics, roles=roles, org=org,
                     minutes=minutes, published=OLD,
                     schedule=Schedule(_at(starts), _at(starts, 12), "太原·纪念馆", capacity))


ITEMS = [
    # 党史: every kind, levels 1-2 only (level 3 missing).
    make_item("h1", "中共一大的召开", "1921年7月上海开幕，最后一天转移到嘉兴南湖红船。", topics=("党史",),
              minutes=30, level=1, published=OLD),
    make_item("h2", "遵义会议的历史转折", "1935年1月贵州遵义，确立毛泽东同志在红军和党中央的领导地位。", kind="case",
              topics=("党史",), minutes=20, level=2, published=OLD),
    make_item("h3", "长征路线知识测验", "湘江战役、四渡赤水、飞夺泸定桥、爬雪山过草地的先后次序。", kind="quiz",
              topics=("党史",), minutes=20, level=2, published=OLD),
    _activity("a2", "红色教育基地参观", "八路军办事处旧址现场教学。", ("党史",), org="t.zb1",
              starts=DAY + dt.timedelta(days=10), capacity=30),
    # 廉洁从业: every level, no case study; l1 expires in 10 days.
    make_item("l1", "廉洁从业若干规定解读", "国有企业领导人员不得利用职权谋取私利，不得收受礼品礼金。",
              topics=("廉洁从业",), minutes=30, level=1, published=OLD, expires=DAY + dt.timedelta(days=10)),
    make_item("l2", "八项规定精神自测题", "公务接待标准、公车使用、节日期间纪律要求。", kind="quiz",
              topics=("廉洁从业",), minutes=10, level=2, published=OLD),
    make_item("l3", "领导干部廉洁自律专题课", "权力运行监督制约，亲清政商关系，家风建设。", kind="video",
              topics=("廉洁从业",), roles=("cadre",), minutes=40, level=3, published=OLD),
    # 安全生产: 30 minutes for frontline members who need 90; s4 is for cadres only.
    make_item("s1", "有限空间作业规程", "先通风、再检测、后作业，严禁盲目施救。", topics=("安全生产",),
              minutes=10, level=1, published=OLD),
    make_item("s2", "高处坠落事故剖析", "安全带未系挂，脚手架验收流于形式的教训。", kind="case",
              topics=("安全生产",), minutes=10, level=2, published=OLD),
    make_item("s3", "两票三制测验", "工作票、操作票、交接班制度、巡回检查制度、设备定期试验轮换制度。", kind="quiz",
              topics=("安全生产",), minutes=10, level=3, published=OLD),
    make_item("s4", "安全生产责任制：管生产必须管安全", "安全生产责任制，安全生产一岗双责，安全生产党政同责。",
              topics=("安全生产",), roles=("cadre",), minutes=30, published=OLD),
    # 形势政策: a stale cadre-only item and an activity for retired members (who are infirm here).
    make_item("c1", "年初经济形势报告", "宏观经济运行总体平稳，外部环境复杂严峻。", topics=("形势政策",),
              roles=("cadre",), minutes=20, published=dt.date(2026, 1, 2)),
    _activity("a1", "老党员形势报告会", "离退休党员座谈，通报企业生产经营情况。", ("形势政策",), roles=("retired",),
              org="t.zb2", starts=DAY + dt.timedelta(days=5), capacity=20),
    # 保密 (required of nobody here): the exposure and prerequisite plants.
    make_item("o1", "涉密计算机使用规范", "涉密计算机严禁接入互联网，不得使用无线键盘鼠标。", topics=("保密",),
              minutes=15, published=OLD),
    make_item("r1", "科研项目定密管理", "技术秘密的定密范围、密级和保密期限。", topics=("保密",), roles=("technical",),
              minutes=15, published=OLD),
    make_item("b1", "保密检查进阶", "保密自查自评的程序。", topics=("保密",), requires=("nope",), minutes=15,
              published=OLD),
    make_item("y1", "密码设备管理甲", "商用密码产品检测认证。", topics=("保密",), requires=("y2",), minutes=15,
              published=OLD),
    make_item("y2", "网络安全等级保护乙", "等级保护测评与整改。", topics=("保密",), requires=("y1",), minutes=15,
              published=OLD),
    make_item("e1", "去年保密宣传月活动通知", "宣传月期间开展知识竞赛。", topics=("保密",), minutes=15, published=OLD,
              expires=DAY - dt.timedelta(days=10)),
    make_item("d1", "手机使用中的保密红线", "不在手机中存储处理涉密信息，不在微信群谈论涉密事项，涉密场所不带手机。",
              topics=("保密",), minutes=15, published=OLD),
    make_item("d2", "手机使用中的保密红线！", "不在手机中存储、处理涉密信息；不在微信群谈论涉密事项；涉密场所不带手机。",
              topics=("保密",), minutes=15, published=OLD),
]

MEMBERS = [
    Member(id="m1", name="张伟", org="t.zb1", roles=("member",)),
    Member(id="m2", name="李娜", org="t.zb1", roles=("member", "cadre")),
    Member(id="m5", name="赵军", org="t.zb1", roles=("member",), situation="mobile", offline=False),
    Member(id="m3", name="王桂兰", org="t.zb2", roles=("retired",), offline=False),
    Member(id="m4", name="刘强", org="t.zb2", roles=("frontline",)),
    Member(id="m6", name="陈静", org="t.zb2", roles=("member",), daily_minutes=5),
]


def _events() -> list[Event]:
    out = []
    for member, item, days_ago, kinds in [
        ("m1", "h1", 2, ("impression", "complete")),
        ("m2", "l3", 20, ("impression", "complete")),  # nothing in the last 14 days
        ("m4", "s1", 1, ("impression", "complete")),
        ("m5", "h2", 1, ("impression",)),              # mobile: shown, never studied online
        ("m6", "h2", 1, ("impression", "complete")),
        ("m1", "a2", 3, ("enroll",)),
    ]:
        for kind in kinds:
            out.append(Event(member=member, item=item, kind=kind, at=_at(DAY - dt.timedelta(days=days_ago))))
    return out


#: What each member was served every day of the last 20 days.
SERVED = {"m1": ["h1", "h2", "l1", "l2", "d1", "d2"], "m2": ["l3", "c1", "a2", "s4"], "m4": ["s1", "s2", "s3"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    engine = Engine.open(tmp_path_factory.mktemp("coverage") / "store", encoder="tfidf",
                         curriculum=Curriculum.from_dict(CURRICULUM))
    engine.add_items(ITEMS)
    engine.upsert_members(MEMBERS)
    engine.record(_events())
    by_id = {it.id: it for it in ITEMS}

    def serve(member: str, day: dt.date, ids: list[str]) -> None:
        lst = StudyList(member, day, 60, tuple(StudyEntry(by_id[i], 1.0, ("测试",)) for i in ids))
        engine.store.put_served([ServedList(member, day, "minutes=60", "0:0", lst.to_dict(), 0.0)])

    for n in range(20):
        for member, ids in SERVED.items():
            serve(member, DAY - dt.timedelta(days=n), ids)
    serve("m1", DAY - dt.timedelta(days=40), ["h3"])  # once in 90 days, not in the last 30
    serve("m1", DAY - dt.timedelta(days=120), ["o1"])  # before the window: does not count
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def report(world) -> CoverageReport:
    return world.coverage(day=DAY)


def test_supply_gap_is_the_frontline_safety_hours(report):
    supply = report.supply_gaps
    assert [(g.role, g.topic, g.members_hurt) for g in supply] == [("frontline", "安全生产", 1)]
    assert "一线职工 1 人（每人最多需 1.5 学时，可学学时中位数 0.51，可学内容最少的党员还差 1.0 学时）" in supply[0].detail
    cell = next(c for c in report.supply if (c.role, c.topic) == ("frontline", "安全生产"))
    assert cell.members == 1 and cell.target_hours == 1.5 and cell.demand_hours == 1.5
    assert cell.online_hours == {"1": 0.17, "2": 0.17, "3": 0.17}
    assert cell.short_members == ("m4",) and cell.shortfall_hours == 1.0
    # Every other cell is covered for every one of its members.
    assert all(not c.short_members for c in report.supply if c is not cell)
    # Infirm members have no hour targets: m3 is in no cell; the retired role has no hours.
    assert all("m3" not in c.short_members for c in report.supply)
    # A member counts once a topic, under the role that requires it most (as their reasons name
    # it): m2, a cadre and a 党员 asked the same share of 廉洁从业 by both, under the first.
    assert {(c.role, c.topic) for c in report.supply} == {
        ("member", "党史"), ("member", "廉洁从业"), ("frontline", "安全生产")}
    assert sum(c.members for c in report.supply if c.topic == "廉洁从业") == 4  # m1, m2, m5, m6
    member_history = next(c for c in report.supply if (c.role, c.topic) == ("member", "党史"))
    assert member_history.members == 4  # m1, m2, m5, m6
    # The visit a2 is t.zb1's and m5 does not attend offline: m1 and m2 reach it, m5 and m6 do
    # not, and the median member (the lower middle of four) is one who does not.
    assert member_history.offline_hours["1"] == 0.0
    assert member_history.online_hours == {"1": 0.5, "2": 0.67, "3": 0.0}


def test_supply_is_what_a_typical_member_can_take(tmp_path):
    """A role's hours are its median member's: an activity counts by each member's share of its
    seats, only for those who see its organisation and live in its city, and an item whose
    prerequisite is missing counts for nobody. Twelve members in b1, eight in b2, 党史 1 h a year:
    30 minutes online for all, a 2-hour visit of b1 with 3 seats (a quarter each), a 2-hour visit
    of b1 in another city, an hour-long item requiring one that does not exist, and an hour's
    talk for the whole group with 4 seats (a fifth each, whatever the report's scope)."""
    curriculum = Curriculum.from_dict({"max_required_share": 1.0,
                                       "roles": {"member": {"annual_hours": 1, "required": {"党史": 1.0}}}})
    engine = Engine.open(tmp_path / "store", encoder="tfidf", curriculum=curriculum)
    visit = Schedule(_at(DAY + dt.timedelta(days=3)), _at(DAY + dt.timedelta(days=3), 11), "太原·纪念馆", 3)
    far = Schedule(_at(DAY + dt.timedelta(days=4)), _at(DAY + dt.timedelta(days=4), 11), "延安·革命纪念馆", None)
    engine.add_items([
        make_item("h1", "中共一大的召开", "1921年7月上海开幕，嘉兴南湖红船。", topics=("党史",), minutes=30,
                  level=1, published=OLD),
        make_item("v1", "红色教育基地参观", "八路军办事处旧址现场教学。", kind="activity", mode="offline",
                  topics=("党史",), org="t.b1", minutes=120, level=2, published=OLD, schedule=visit),
        make_item("v2", "延安精神现场教学", "枣园、杨家岭旧址参观。", kind="activity", mode="offline",
                  topics=("党史",), org="t.b1", minutes=120, level=2, published=OLD, schedule=far),
        make_item("p1", "遵义会议专题（进阶）", "确立毛泽东同志在红军和党中央的领导地位。", topics=("党史",),
                  requires=("missing",), minutes=60, level=3, published=OLD),
        make_item("g1", "党史专题报告会", "集团党委组织的专题报告。", kind="activity", mode="offline",
                  topics=("党史",), minutes=60, level=3, published=OLD,
                  schedule=Schedule(_at(DAY + dt.timedelta(days=5)), _at(DAY + dt.timedelta(days=5), 10),
                                    "太原·集团礼堂", 4)),
    ])
    engine.upsert_members([Member(id=f"a{n:02d}", name=f"甲{n}", org="t.b1", roles=("member",), location="太原市")
                           for n in range(12)]
                          + [Member(id=f"b{n:02d}", name=f"乙{n}", org="t.b2", roles=("member",), location="太原市")
                             for n in range(8)])
    cell, = engine.coverage(day=DAY).supply
    assert (cell.role, cell.topic, cell.members, cell.target_hours) == ("member", "党史", 20, 1.0)
    # The median of twenty (the tenth by hours) is one of b1's: the visit's quarter of 2 hours
    # and the talk's fifth of one.
    assert cell.online_hours == {"1": 0.5, "2": 0.0, "3": 0.0}
    assert cell.offline_hours == {"1": 0.0, "2": 0.5, "3": 0.2}
    assert cell.supply_hours == 1.2
    # b2's members see no visit of b1: 0.7 of their 1 hour; b1's have more than their hour.
    assert cell.short_members == tuple(f"b{n:02d}" for n in range(8)) and cell.shortfall_hours == 0.3
    # b2's own report: the talk's four seats are still shared with b1's twelve.
    cell, = engine.coverage(org="t.b2", day=DAY).supply
    assert cell.members == 8 and cell.offline_hours == {"1": 0.0, "2": 0.0, "3": 0.2}
    engine.close()


def test_every_planted_gap_and_nothing_else(report):
    got = {(g.kind, g.topic, g.role, g.members_hurt) for g in report.gaps}
    assert got == {
        ("supply", "安全生产", "frontline", 1),
        ("unreachable", "形势政策", None, 1),
        ("kind", "廉洁从业", None, 4),  # m1, m2, m5, m6 (m2 counted once for both roles)
        ("level", "党史", None, 4),
    }
    hurt = [g.members_hurt for g in report.gaps]
    assert hurt == sorted(hurt, reverse=True)


def test_roles_short_in_one_topic_make_one_gap_listing_them(world):
    # Cadres now need 6 h a year, 安全生产 among their topics, with 1 h of it they may take: both
    # roles are short in 安全生产.
    curriculum = json.loads(json.dumps(CURRICULUM))
    curriculum["roles"]["cadre"].update(annual_hours=6, required={"廉洁从业": 0.25, "安全生产": 0.75})
    before = world.curriculum
    world.curriculum = Curriculum.from_dict(curriculum)
    try:
        report = world.coverage(day=DAY)
    finally:
        world.curriculum = before
    short = [(c.role, c.topic) for c in report.supply if c.short_members]
    assert {("cadre", "安全生产"), ("frontline", "安全生产")} <= set(short)
    supply = report.supply_gaps
    assert len(supply) == len({topic for _, topic in short})  # one row per topic, not one per role
    gap = next(g for g in supply if g.topic == "安全生产")
    assert gap.topic == "安全生产" and set(gap.roles) == {"cadre", "frontline"} and gap.members_hurt == 2
    assert set(gap.role_names) == {"领导干部", "一线职工"}
    assert "领导干部 1 人" in gap.detail and "一线职工 1 人" in gap.detail
    assert gap.to_dict()["roles"] == list(gap.roles)
    for g in supply:  # a member short in two roles of a topic is hurt once
        cells = [c for c in report.supply if c.topic == g.topic and c.short_members]
        assert g.members_hurt == len({m for c in cells for m in c.short_members})
        assert set(g.roles) == {c.role for c in cells}


def test_suggestions_name_the_closest_items_and_what_to_commission(report):
    safety = next(g for g in report.gaps if g.kind == "supply")
    assert safety.closest[0].id == "s4"  # the cadres' article on it: re-target it to frontline
    assert not {"s1", "s2", "s3"} & {r.id for r in safety.closest}  # already counted
    assert "一线职工" in safety.commission and "安全生产" in safety.commission and "1.0 学时" in safety.commission
    case = next(g for g in report.gaps if g.kind == "kind")
    assert report.missing_kinds == {"廉洁从业": ("案例",)}
    # The only case studies are on 党史 and 安全生产: nothing related to suggest for 廉洁从业.
    assert case.closest == ()
    assert "案例" in case.commission
    unreachable = next(g for g in report.gaps if g.kind == "unreachable")
    assert "a1" not in {r.id for r in unreachable.closest}  # offline: m3 cannot attend it either


def test_catalogue_health(report):
    assert report.missing_levels == {"党史": (3,)}
    assert [r.id for r in report.stale] == ["c1"]
    assert [(r.id, r.value) for r in report.expiring] == [("l1", 10.0)]
    assert {b: [(a["id"], a["capacity"], a["enrolled"], a["remaining"]) for a in rows]
            for b, rows in report.offline_upcoming.items()} == {"t.zb1": [("a2", 30, 1, 29)],
                                                                "t.zb2": [("a1", 20, 0, 20)]}
    assert report.broken_prerequisites == {"b1": ("nope",)}
    assert report.prerequisite_cycles == (("y1", "y2"),)


def test_exposure(report):
    assert report.never_served == {
        "a1": "no_audience", "b1": "prerequisite", "e1": "expired", "o1": "out_competed",
        "r1": "no_role", "y1": "prerequisite", "y2": "prerequisite",
    }
    assert [(r.id, r.value) for r in report.rarely_served] == [("h3", 1.0)]
    assert report.served[90]["h1"] == 20 and report.served[90]["h3"] == 1
    assert "h3" not in report.served[30] and report.served[30]["s4"] == 20
    assert report.counts["served_lists_90"] == 61
    # Impressions recorded as events count as shown too, once per member, item and day: m5's and
    # m6's impressions of h2 (they have no stored lists), m2's of l3 the day before the lists.
    assert report.served[90]["h2"] == 22 and report.served[90]["l3"] == 21
    assert report.served[90]["s1"] == 20  # m4's impression of s1 was of a list already counted
    # 14 items served 20 times (11 of them), 22 and 21 times, or once (h3), against the live and
    # recently expired items never served: the concentration is that of the counts, with zeros.
    counts = [20] * 11 + [22, 21] + [1] + [0] * 7
    assert report.gini[90] == pytest.approx(gini(counts), abs=1e-4)


def test_near_duplicates(report):
    assert [tuple(r.id for r in refs) for refs, _ in report.duplicates] == [("d1", "d2")]
    assert report.duplicates[0][1] >= report.duplicate_threshold


def test_the_same_activity_of_two_branches_is_no_duplicate(tmp_path):
    """Each branch's own 主题党日 under one title: no member sees both, no list holds both, and
    there is nothing to merge. The same title from a branch and from the company above it (whose
    members see both), or the same article twice in one branch, is still one content."""
    body = "重温入党誓词，交流学习体会。"
    items = [
        _activity("z1", "主题党日：重温入党誓词", body, ("党史",), org="t.zb1", starts=DAY + dt.timedelta(days=3), capacity=30),
        _activity("z2", "主题党日：重温入党誓词", body, ("党史",), org="t.zb2", starts=DAY + dt.timedelta(days=3), capacity=30),
        _activity("z3", "主题党日：重温入党誓词", body, ("党史",), org="t.zb2.g1", starts=DAY + dt.timedelta(days=4),
                  capacity=30),
        make_item("w1", "手机使用中的保密红线", "不在手机中存储处理涉密信息。", topics=("保密",), org="t.zb1", published=OLD),
        make_item("w2", "手机使用中的保密红线", "不在手机中存储处理涉密信息。", topics=("保密",), org="t.zb1", published=OLD),
        make_item("w3", "手机使用中的保密红线", "不在手机中存储处理涉密信息。", topics=("保密",), org="t.zb2", published=OLD),
    ]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member(id="m1", name="张三", org="t.zb1", roles=("member",))])
        found = [tuple(r.id for r in refs) for refs, _ in eng.coverage(day=DAY).duplicates]
        assert found == [("w1", "w2"), ("z2", "z3")]
        # The group's own copy is the same content as each branch's, and joins them to nobody else.
        eng.add_items([_activity("z0", "主题党日：重温入党誓词", body, ("党史",), org="t",
                                 starts=DAY + dt.timedelta(days=3), capacity=30)])
        found = [tuple(r.id for r in refs) for refs, _ in eng.coverage(day=DAY).duplicates]
        assert found == [("z0", "z2", "z3"), ("w1", "w2"), ("z0", "z1")]
        # Ten copies of one shared article: the terminal names eight of them and says how many.
        eng.add_items([make_item(f"c{n}", "廉洁文化进万家", "家风建设，廉洁齐家。", topics=("廉洁从业",), published=OLD)
                       for n in range(10)])
        text = format_coverage(eng.coverage(day=DAY))
    line = next(t for t in text.splitlines() if "c0" in t)
    assert line.count("[c") == 8 and "[c7]" in line and "[c8]" not in line and " 等 10 条（" in line


def test_members_not_reached_by_branch(report):
    flagged = {(b, k): set(v) for b, flags in report.reach.items() for k, v in flags.items() if v}
    assert flagged == {
        ("t.zb1", "no_impression_14"): {"m2"},
        ("t.zb1", "no_completion_14"): {"m2", "m5"},
        ("t.zb1", "no_completion_30"): {"m5"},
        ("t.zb1", "mobile_no_online"): {"m5"},
        ("t.zb2", "no_feasible_list"): {"m6"},
        ("t.zb2", "required_unreachable"): {"m3"},
        ("t.zb2", "no_impression_14"): {"m3"},
        ("t.zb2", "no_impression_30"): {"m3"},
        ("t.zb2", "no_completion_14"): {"m3"},
        ("t.zb2", "no_completion_30"): {"m3"},
    }
    assert report.required_unreachable == {"m3": ("形势政策",)}
    assert report.branch_members == {"t.zb1": 3, "t.zb2": 3}


def test_scoped_to_an_organisation(world):
    report = world.coverage(org="t.zb1", day=DAY)
    assert report.branch_members == {"t.zb1": 3}
    assert "a1" not in report.never_served  # t.zb2's activity is not visible to t.zb1
    assert {(g.kind, g.topic) for g in report.gaps} == {("kind", "廉洁从业"), ("level", "党史")}
    assert report.counts["served_lists_90"] == 41  # m1's and m2's lists only


def test_as_of_day_changes_what_is_live(world, report):
    later = world.coverage(day=DAY + dt.timedelta(days=11))
    # l1 has expired and both activities are over: three fewer live items, none expiring.
    assert later.counts["live_items"] == report.counts["live_items"] - 3
    assert later.expiring == () and later.offline_upcoming == {}
    assert later.never_served["a1"] == "expired"


def test_json_and_text_forms(report):
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["day"] == "2026-06-15"
    assert set(data) >= {"supply", "gaps", "health", "exposure", "duplicates", "reach"}
    assert data["exposure"]["never_served"][0] == {"id": "a1", "title": "老党员形势报告会", "reason": "no_audience",
                                                   "label": "没有党员能参加（组织范围、线下条件）"}
    assert data["reach"]["member_names"]["m5"] == "赵军"
    text = format_coverage(report)
    assert "缺口 4 项" in text and "「安全生产」可学内容不足：一线职工 1 人" in text


def test_bad_day_is_a_validation_error(world):
    from recsys import ValidationError

    with pytest.raises(ValidationError, match="day"):
        world.coverage(day="15/06/2026")


# -- the pieces ---------------------------------------------------------------------------------

def test_gini_known_answers():
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0 and gini([3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert gini([1, 3]) == pytest.approx(0.25)


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=50))
def test_gini_is_between_0_and_1_and_ignores_order(values):
    g = gini(values)
    assert 0.0 <= g < 1.0
    assert gini(list(reversed(values))) == pytest.approx(g)


def test_clusters_are_connected_components():
    import numpy as np

    # a≈b, b≈c (a and c are not close themselves), d alone.
    v = np.array([[1, 0, 0], [0.8, 0.6, 0], [0.28, 0.96, 0], [0, 0, 1]], dtype=np.float32)
    clusters = duplicate_clusters(["a", "b", "c", "d"], v, 0.75)
    assert [c for c, _ in clusters] == [("a", "b", "c")]
    assert clusters[0][1] == pytest.approx(0.8, abs=1e-6)
    assert duplicate_clusters(["a", "b", "c", "d"], v, 0.99) == []


def test_normalise_text_ignores_spacing_and_punctuation():
    assert normalise_text("中国共产党，成立于（ ）年。") == normalise_text("中国共产党成立于（）年")
    assert normalise_text("Ａ. 正确") == normalise_text("a正确")


def test_quiz_bank_repeats_are_found(tmp_path, quiz_bank):
    """The real bank's exact repeats, on a subset, with the model-free encoder."""
    from recsys.embedding.encoders import HashingTfidfEncoder
    from recsys.ingest.quizbank import read_question_bank

    questions = read_question_bank(quiz_bank)[:400]
    groups: dict[str, list[str]] = {}
    for q in questions:
        groups.setdefault(normalise_text(q.prompt), []).append(q.id)
    truth = {tuple(sorted(g)) for g in groups.values() if len(g) > 1}
    assert len(truth) >= 20  # the subset holds real repeats
    vectors = HashingTfidfEncoder().encode([q.prompt for q in questions])
    from recsys.embedding.duplicates import coverage_threshold

    found = {c for c, _ in duplicate_clusters([q.id for q in questions], vectors, coverage_threshold("tfidf", 0))}
    # Recall: every repeated group lies inside one found cluster.
    assert all(any(set(t) <= set(c) for c in found) for t in truth)
    # Precision: found clusters are mostly exact repeats.
    exact = sum(1 for c in found if c in truth)
    assert exact / len(found) >= 0.9


def test_command_line_json_and_html(world, tmp_path, capsys):
    from recsys_cli import main

    page = tmp_path / "report.html"
    assert main(["coverage", "--store", world.store.url, "--day", "2026-06-15", "--org", "t.zb1",
                 "--json", "--html", str(page)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["org"] == "t.zb1" and data["reach"]["branch_members"] == {"t.zb1": 3}
    assert data["duplicates"]["clusters"][0]["items"][0]["id"] == "d1"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "内容覆盖报告" in text
    assert main(["coverage", "--store", world.store.url, "--html", str(tmp_path / "no" / "such" / "x.html")]) == 2
    assert "x.html" in capsys.readouterr().err


def test_an_activity_announced_beside_a_list_was_shown(world):
    # Last in the module: it serves one more list, announcing the activity a1 beside m3's entries
    # (say after an editor re-targeted it): a1 is then shown, not "never pushed".
    later = DAY + dt.timedelta(days=1)
    assert "a1" in world.coverage(day=later).never_served
    items = world.catalogue()
    lst = StudyList("m3", later, 60, (StudyEntry(items["h1"], 1.0, ("测试",)),),
                    upcoming=(StudyEntry(items["a1"], 0.0, ("可报名",)),))
    world.store.put_served([ServedList("m3", later, "minutes=60", "0:0", lst.to_dict(), 0.0)])
    after = world.coverage(day=later)
    assert "a1" not in after.never_served and after.served[30]["a1"] == 1


def test_members_with_nothing_left_to_study_are_told_to_the_editor(tmp_path):
    """Every online item a member may take is completed: the editor sees them under
    studied_all (new content is what they need), not merely as without a feasible list."""
    items = [make_item("a", "党史故事一", "南湖红船", topics=("党史",)),
             make_item("b", "党史故事二", "遵义会议", topics=("党史",)),
             make_item("c", "书记专题", "支部工作", topics=("党务工作",), roles=("branch_secretary",))]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member(id=m, name="张三", org="t.zb1", roles=("member",)) for m in ("m1", "m2")])
        eng.record([Event(member="m1", item=i, kind="complete", at=dt.datetime(2026, 6, 1, 20, tzinfo=TZ))
                    for i in ("a", "b")])  # c is for secretaries: m1 has studied all there is for them
        report = eng.coverage(day=DAY)
    assert report.reach["t.zb1"]["studied_all"] == ("m1",)
    assert "线上内容已全部学完 1 人" in format_coverage(report)


def test_content_for_a_situation_nobody_is_in_has_no_audience(tmp_path):
    """A guide for 流动党员 in a group without mobile members was never shown because nobody could
    be shown it, not because other items won: the editor should retarget it, not promote it."""
    items = [make_item("a", "党史故事", "南湖红船", topics=("党史",)),
             make_item("mob", "流动党员线上组织生活指南", "线上参加组织生活", topics=("党务工作",))]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member(id="m1", name="张三", org="t.zb1", roles=("member",))])
        assert eng.coverage(day=DAY).never_served["mob"] == "no_audience"
        eng.upsert_members([Member(id="m2", name="李四", org="t.zb1", roles=("member",), situation="mobile", offline=False)])
        assert eng.coverage(day=DAY).never_served["mob"] == "out_competed"


def test_an_item_everyone_it_is_for_has_studied_is_not_out_competed(tmp_path):
    """An item never shown because each member it is open to has done it (studied before the
    window, or in another system) is not losing to other items: the editor should add new
    content, not promote it. One who has not done it yet makes it out-competed again; so does a
    completion by a member it is not open to (a cadre's course taken by a 党员 counts for nobody)."""
    old = dt.datetime(2026, 1, 10, 20, tzinfo=TZ)
    items = [make_item("a", "党史故事", "南湖红船", topics=("党史",), published=OLD),
             make_item("q", "党章知识测验", "党员的权利和义务", kind="quiz", topics=("党章",), published=OLD),
             make_item("c", "领导干部廉洁自律", "权力运行监督", topics=("廉洁从业",), roles=("cadre",), published=OLD)]
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members([Member(id="m1", name="张三", org="t.zb1", roles=("member", "cadre")),
                            Member(id="m2", name="李四", org="t.zb1", roles=("member",))])
        eng.record([Event(member="m1", item="a", kind="complete", at=old),
                    Event(member="m2", item="a", kind="attend", at=old),
                    Event(member="m1", item="q", kind="quiz", at=old, value=0.8),
                    Event(member="m1", item="c", kind="complete", at=old),
                    Event(member="m2", item="c", kind="complete", at=old)])
        never = eng.coverage(day=DAY).never_served
        assert (never["a"], never["q"], never["c"]) == ("studied", "out_competed", "studied")
        assert "能学的党员都已学完" in format_coverage(eng.coverage(day=DAY))
        eng.upsert_members([Member(id="m3", name="王五", org="t.zb1", roles=("member", "cadre"))])
        never = eng.coverage(day=DAY).never_served
        assert (never["a"], never["c"]) == ("out_competed", "out_competed")


def test_an_infirm_member_has_no_required_topic_to_reach(tmp_path):
    """年老体弱 members have no hard study requirements: whatever their roles, they have no
    required topic, and coverage never counts them among those a required topic leaves without
    content (a retired member who does not attend offline, beside them, still is)."""
    curriculum = Curriculum.from_dict(CURRICULUM)
    infirm = Member(id="m3", name="王桂兰", org="t.zb2", roles=("member", "retired"), situation="infirm", offline=False)
    assert (curriculum.for_member(infirm).annual_hours, curriculum.for_member(infirm).required) == (None, {})
    with Engine.open(tmp_path / "store", encoder="tfidf", curriculum=curriculum) as engine:
        engine.add_items(ITEMS)
        engine.upsert_members([infirm, Member(id="m7", name="周平", org="t.zb2", roles=("retired",), offline=False)])
        report = engine.coverage(day=DAY)
    assert report.required_unreachable == {"m7": ("形势政策",)}
