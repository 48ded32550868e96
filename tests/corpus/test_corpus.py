"""The sample corpus: broad enough to exercise every part, and valid."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

import corpus
from recsys import Engine
from recsys.records import ITEM_KINDS, ROLES


@pytest.fixture(scope="module")
def items():
    return corpus.load_items()


def test_items_cover_every_kind_topic_role_and_level(items):
    assert len(items) >= 300
    assert len({i.id for i in items}) == len(items)
    assert set(ITEM_KINDS) <= {i.kind for i in items}
    assert {"online", "offline"} == {i.mode for i in items}
    assert {1, 2, 3} == {i.level for i in items}
    topics = Counter(t for i in items for t in i.topics)
    for family in ("党的创新理论", "政治教育", "党章党规党纪", "宪法法律", "党的宗旨", "党史", "新中国史",
                   "改革开放史", "社会主义发展史", "传统文化", "形势政策", "安全生产", "国企改革",
                   "数字化转型", "廉洁从业", "保密"):
        assert topics[family] >= 3, family
    targeted = {r for i in items for r in i.roles}
    assert targeted <= set(ROLES) and len(targeted) >= 8
    ids = {i.id for i in items}
    assert all(r in ids for i in items for r in i.requires)
    assert sum(1 for i in items if i.requires) >= 10  # prerequisite chains


def test_offline_activities_are_dated_and_placed(items):
    offline = [i for i in items if i.mode == "offline"]
    assert len(offline) >= 40
    months = {i.schedule.starts.date().replace(day=1) for i in offline}
    assert len(months) >= 5  # spread over the coming months
    assert all(i.schedule.capacity for i in offline)
    assert len({i.schedule.city for i in offline}) >= 6


def test_members_cover_roles_and_situations():
    members = corpus.load_members()
    assert len(members) >= 30
    assert {"regular", "mobile", "infirm"} == {m.situation for m in members}
    assert {"branch_secretary", "committee_member", "probationary", "retired", "frontline"} <= {r for m in members for r in m.roles}
    assert len({m.org for m in members}) >= 5
    assert all(not m.offline for m in members if m.situation != "regular")


def test_events_fit_the_corpus(tmp_path, items):
    events = corpus.load_events()
    assert len(events) >= 500
    assert all(e.at.date() <= dt.date(2026, 11, 24) for e in events)
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(items)
        eng.upsert_members(corpus.load_members())
        assert eng.record(events) == len(events)


@pytest.mark.slow
def test_e5_search_and_similar_on_the_corpus(tmp_path, items):
    with Engine.open(tmp_path / "s") as eng:
        eng.add_items(items)
        top = lambda q: [h.item.id for h in eng.search(q, k=3)]  # noqa: E731
        assert {"bus-008", "bus-016"} & set(top("有限空间作业怎样防止中毒窒息"))
        assert {"his-007", "his-008"} & set(top("遵义会议的历史意义"))
        # The planted near-duplicates are each other's nearest neighbours.
        for a, b in (("bus-008", "bus-016"), ("his-007", "his-008"), ("dsc-007", "dsc-010"), ("thy-047", "thy-055")):
            assert eng.similar(a, k=1)[0].item.id == b
