"""The reach section over blocks of members (events as columns, shared codes per kind of member)
equals the readable reference that runs every member's hard rules on their events.

Random small worlds: a few items (so that histories often cover all a member may take and the
member's own rules must answer), members of every situation, events of every kind around the
as-of day (some after it), prerequisites, offline activities with seats, a topic with no content.
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
from recsys.records import TZ
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(world=worlds(), shift=st.integers(-2, 1))
def test_reach_by_block_equals_member_by_member(tmp_path_factory, inputs, world, shift):
    items, members, events = world
    day = DAY + dt.timedelta(days=shift)
    with Engine.open(tmp_path_factory.mktemp("reach") / "s", encoder="tfidf",
                     curriculum=Curriculum.from_dict(CURRICULUM)) as engine:
        engine.add_items(items)
        engine.upsert_members(members)
        engine.record(events)
        inputs.clear()
        engine.coverage(day=day)
    data = inputs[0]
    *expected, impressions = reach_by_member(data, list(data.members), day)
    # Also with the rows kept per kind of member cut to two and one kind kept: a member whose
    # history names both rows of a question gets their own rules, and kinds are made again.
    for bounds in ({}, {"first": 2, "kinds": 1}):
        *found, shown = reach_in_blocks(data, list(data.members), day, **bounds)
        assert found == expected
        assert shown.as_set() == impressions
