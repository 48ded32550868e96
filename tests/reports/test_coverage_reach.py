"""The reach section over blocks of members (events as columns, shared codes per kind of member)
equals the readable reference that runs every member's hard rules on their events.

Random small worlds: a few items (so that histories often cover all a member may take and the
member's own rules must answer), members of every situation, events of every kind around the
as-of day (some after it), prerequisites, offline activities with seats, a topic with no content.

The supply section, computed per kind of member, equals a reference member by member from the
records: worlds of more members and activities (seats shared, cities, branches' own activities,
prerequisites missing or in a cycle).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recsys.engine
from factories import make_item
from recsys import Engine, Event, Member, Schedule
from recsys.curriculum import Curriculum
from recsys.orgs import within
from recsys.records import TZ, city_key
from recsys.reports.coverage import CoverageInputs
from recsys.reports.reach import reach_by_member, reach_in_blocks

DAY = dt.date(2026, 6, 15)
TOPICS = ("党史", "廉洁从业", "安全生产")
CURRICULUM = {
    "max_required_share": 1.0,
    "roles": {
        "member": {"annual_hours": 1, "required": {"党史": 0.5, "廉洁从业": 0.5}},
        "cadre": {"annual_hours": 2, "required": {"廉洁从业": 0.5}},
        "party_worker": {"annual_hours": 2, "required": {"保密": 0.5}},  # no content in 保密
        "frontline": {"annual_hours": 1.5, "required": {"安全生产": 1.0}},
    },
}
KINDS = ("impression", "start", "progress", "complete", "skip", "dislike", "rate", "quiz", "attend", "enroll")


@st.composite
def worlds(draw):
    n_items = draw(st.integers(1, 14))
    items = []
    for k in range(n_items):
        fields = dict(topics=(draw(st.sampled_from(TOPICS)),), minutes=draw(st.sampled_from((5, 10, 30, 60))),
                      roles=draw(st.sampled_from(((), (), (), ("cadre",), ("frontline",)))),
                      published=DAY - dt.timedelta(days=draw(st.integers(-5, 200))))
        if draw(st.integers(0, 3)) == 0 and k:
            fields["requires"] = (f"i{draw(st.integers(0, k - 1))}",)
        if draw(st.integers(0, 4)) == 0:
            fields["expires"] = fields["published"] + dt.timedelta(days=draw(st.integers(0, 210)))
        if draw(st.integers(0, 4)) == 0:
            starts = dt.datetime.combine(DAY + dt.timedelta(days=draw(st.integers(-3, 3))), dt.time(9), TZ)
            fields.update(kind="activity", mode="offline", org=draw(st.sampled_from((None, "t.zb1"))),
                          schedule=Schedule(starts, starts + dt.timedelta(hours=3), "太原·纪念馆",
                                            draw(st.sampled_from((None, 1, 2)))))
        items.append(make_item(f"i{k}", f"学习材料{k}", f"第{k}份材料的正文", **fields))
    members = []
    for k in range(draw(st.integers(1, 6))):
        situation = draw(st.sampled_from(("regular", "mobile", "infirm")))
        members.append(Member(
            id=f"m{k}", name=f"党员{k}", org=draw(st.sampled_from(("t.zb1", "t.zb2", "t.zb2.g1"))),
            roles=draw(st.sampled_from((("member",), ("member", "cadre"), ("frontline",), ("party_worker",)))),
            situation=situation, offline=situation == "regular" and draw(st.booleans()),
            daily_minutes=draw(st.sampled_from((5, 10, 30))),
            location=draw(st.sampled_from((None, "太原", "西安"))),
        ))
    events = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(KINDS))
        value = {"progress": 0.97, "quiz": 0.5, "rate": 4.0}.get(kind)
        if kind == "enroll":
            value = draw(st.sampled_from((None, 0)))
        at = dt.datetime.combine(DAY, dt.time(), TZ) + dt.timedelta(hours=draw(st.integers(-24 * 100, 48)))
        events.append(Event(member=draw(st.sampled_from(members)).id, item=draw(st.sampled_from(items)).id,
                            kind=kind, at=at, value=value))
    return items, members, events


@pytest.fixture
def inputs(monkeypatch):
    """What :meth:`Engine.coverage` hands to the report: its inputs, kept as it builds one."""
    seen: list[CoverageInputs] = []
    build = recsys.engine.build_coverage

    def keep(data, **options):
        seen.append(data)
        return build(data, **options)

    monkeypatch.setattr(recsys.engine, "build_coverage", keep)
    return seen


def _oracle(examples: int):
    """Settings of a property test held against a member-by-member reference: each example
    builds a store, slow for Hypothesis's taste."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _coverage(folder, inputs: list[CoverageInputs], world, day: dt.date):
    """The world's coverage report as of ``day``, with the inputs the engine handed to it."""
    items, members, events = world
    with Engine.open(folder / "s", encoder="tfidf", curriculum=Curriculum.from_dict(CURRICULUM)) as engine:
        engine.add_items(items)
        engine.upsert_members(members)
        engine.record(events)
        inputs.clear()
        return engine.coverage(day=day), inputs[0]


@_oracle(60)
@given(world=worlds(), shift=st.integers(-2, 1))
def test_reach_by_block_equals_member_by_member(tmp_path_factory, inputs, world, shift):
    day = DAY + dt.timedelta(days=shift)
    _, data = _coverage(tmp_path_factory.mktemp("reach"), inputs, world, day)
    *expected, impressions, studied = reach_by_member(data, list(data.members), day)
    ids = data.catalogue.columns.ids
    # Also with the rows kept per kind of member cut to two and one kind kept: a member whose
    # history names both rows of a question gets their own rules, and kinds are made again.
    for bounds in ({}, {"first": 2, "kinds": 1}):
        *found, shown, done = reach_in_blocks(data, list(data.members), day, **bounds)
        assert found == expected
        assert shown.as_set() == impressions
        assert {ids[r]: int(n) for r, n in enumerate(done) if n} == dict(studied)


def _supply_by_member(data: CoverageInputs, day: dt.date) -> dict:
    """The supply section's cells, member by member from the records (the reference): the hours
    each member can take in each required topic, online and offline by level, an activity by
    the member's share of its seats; each cell's median member (the lower middle, ties in order
    of the six sums) and its members short of their target."""
    cur = data.curriculum
    items = data.catalogue.items
    live = {i: it for i, it in items.items()
            if it.published <= day and (it.expires is None or it.expires >= day)
            and (it.schedule is None or it.schedule.ends > dt.datetime.combine(day, dt.time(), TZ))}

    def doable(i, seen=()):  # every prerequisite exists, is live, and is doable itself, no cycle
        return all(r in live and r not in seen and doable(r, (*seen, i)) for r in items[i].requires)

    def reaches(m, it):
        return ((not it.roles or bool(set(it.roles) & set(m.roles)))
                and (it.org is None or within(m.org, it.org))
                and (it.online or m.offline)
                and not (cur.item_situations(it) and m.situation not in cur.item_situations(it))
                and not (it.schedule is not None and m.location and city_key(it.schedule.city)
                         and city_key(it.schedule.city) != city_key(m.location)))

    members = list(data.members)
    open_items = [it for i, it in sorted(live.items()) if doable(i)]
    share = {}
    for it in open_items:
        n = sum(reaches(m, it) for m in members)
        cap = it.schedule.capacity if it.schedule is not None else None
        share[it.id] = 1.0 if cap is None or n == 0 else min(1.0, cap / n)
    cells = {}
    for m in members:
        policy = cur.for_member(m)
        for topic, (_, role) in policy.required.items():
            target = policy.topic_target(topic)
            if target <= 0:
                continue
            six = [0.0] * 6
            for it in open_items:
                if topic in it.topics and reaches(m, it):
                    six[3 * (not it.online) + it.level - 1] += it.minutes * share[it.id] / 60
            cell = cells.setdefault((role, topic), {"six": [], "short": []})
            cell["six"].append(six)
            if sum(six) + 1e-9 < target:
                cell["short"].append(m.id)
    out = {}
    for key, cell in cells.items():
        ranked = sorted(cell["six"], key=lambda six: (round(sum(six), 9), tuple(round(x, 9) for x in six)))
        out[key] = (ranked[(len(ranked) - 1) // 2], tuple(sorted(cell["short"])))
    return out


@st.composite
def supply_worlds(draw):
    """Worlds of many members and activities: seats shared, cities, branches' own activities."""
    items = []
    n = draw(st.integers(1, 12))
    for k in range(n):
        fields = dict(topics=(draw(st.sampled_from(TOPICS)),), minutes=draw(st.sampled_from((10, 30, 60, 120))),
                      roles=draw(st.sampled_from(((), (), ("cadre",), ("frontline",)))),
                      level=draw(st.integers(1, 3)), published=DAY - dt.timedelta(days=draw(st.integers(-2, 30))))
        if draw(st.integers(0, 4)) == 0:  # one before or after (cycles too), or one missing (i{n})
            fields["requires"] = (f"i{draw(st.integers(0, n).filter(lambda j, k=k: j != k))}",)
        if draw(st.booleans()):
            starts = dt.datetime.combine(DAY + dt.timedelta(days=draw(st.integers(-1, 5))), dt.time(9), TZ)
            fields.update(kind="activity", mode="offline", org=draw(st.sampled_from((None, "t.zb1", "t.zb2"))),
                          schedule=Schedule(starts, starts + dt.timedelta(hours=2),
                                            draw(st.sampled_from(("太原·纪念馆", "西安·八路军办事处", "党员活动室"))),
                                            draw(st.sampled_from((None, 1, 2, 3)))))
        items.append(make_item(f"i{k}", f"学习材料{k}", f"第{k}份材料的正文", **fields))
    members = []
    for k in range(draw(st.integers(1, 12))):
        situation = draw(st.sampled_from(("regular", "regular", "mobile", "infirm")))
        members.append(Member(
            id=f"m{k:02d}", name=f"党员{k}", org=draw(st.sampled_from(("t.zb1", "t.zb2", "t.zb2.g1"))),
            roles=draw(st.sampled_from((("member",), ("member", "cadre"), ("frontline",)))),
            situation=situation, offline=situation == "regular" and draw(st.integers(0, 3)) > 0,
            location=draw(st.sampled_from((None, "太原", "山西省太原市小店区", "西安"))),
        ))
    return items, members, []


@_oracle(80)
@given(world=supply_worlds(), shift=st.integers(-1, 1))
def test_supply_equals_member_by_member(tmp_path_factory, inputs, world, shift):
    day = DAY + dt.timedelta(days=shift)
    report, data = _coverage(tmp_path_factory.mktemp("supply"), inputs, world, day)
    expected = _supply_by_member(data, day)
    assert {(c.role, c.topic) for c in report.supply} == set(expected)
    for c in report.supply:
        six, short = expected[c.role, c.topic]
        got = [c.online_hours[lv] for lv in "123"] + [c.offline_hours[lv] for lv in "123"]
        assert got == pytest.approx(six, abs=0.006)
        assert c.short_members == short
