"""``Engine.daily_from``: an outside ranking packed under the engine's guarantees."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Engine, Event, Item, Member
from recsys.exceptions import ValidationError
from recsys.records import TZ

DAY = dt.date(2026, 12, 1)


def _item(i: int, minutes: int, **kw) -> Item:
    return Item(id=f"i{i}", title=f"第{i}课：党史学习专题{i}", body=f"党史 专题 内容 编号{i}", kind="article",
                minutes=minutes, topics=("党史",), published=dt.date(2026, 1, 1), **kw)


@pytest.fixture()
def engine(tmp_path):
    eng = Engine.open(tmp_path / "store", encoder="tfidf", duplicate_threshold=0.9999)
    eng.add_items([_item(0, 10), _item(1, 10), _item(2, 25), _item(3, 10, roles=("cadre",)),
                   _item(4, 10), _item(5, 60)])
    eng.upsert_members([Member(id="m1", name="测试党员", org="o.b", roles=("member",), daily_minutes=30)])
    eng.record([Event(member="m1", item="i4", kind="complete", at=dt.datetime(2026, 11, 20, 20, tzinfo=TZ))])
    yield eng
    eng.close()


def test_the_outside_order_decides_and_the_rules_and_budget_hold(engine):
    # i4 is completed, i3 is for cadres, i5 is longer than the day: none may come back.
    lst = engine.daily_from("m1", ["i4", "i3", "i5", "i1", "i0", "i2"], day=DAY, preview=True)
    ids = [e.item.id for e in lst.entries]
    assert set(ids) == {"i1", "i0"}  # 20 minutes of the best two; i2 (25) would not fit beside them
    assert ids == ["i1", "i0"]  # in the outside order
    assert lst.minutes <= 30 and all(e.reasons for e in lst.entries)
    # Scores: the best gets more than the second; a mapping works the same way.
    by_score = engine.daily_from("m1", {"i2": 5.0, "i0": 1.0, "i1": 0.5}, day=DAY, preview=True)
    assert [e.item.id for e in by_score.entries][0] == "i2"


def test_impressions_are_recorded_unless_preview_and_the_daily_list_is_untouched(engine):
    before = len(engine.events("m1"))
    engine.daily_from("m1", ["i0", "i1"], day=DAY, preview=True)
    assert len(engine.events("m1")) == before
    engine.daily_from("m1", ["i0", "i1"], day=DAY)
    shown = [e.item for e in engine.events("m1") if e.kind == "impression"]
    assert sorted(shown) == ["i0", "i1"]
    # The shown items cool down for the engine's own list the next day.
    later = engine.daily("m1", day=DAY + dt.timedelta(days=1), preview=True)
    assert not {"i0", "i1"} & {e.item.id for e in later.entries}


def test_unknown_ids_are_ignored_and_bad_rankings_refused(engine):
    assert [e.item.id for e in engine.daily_from("m1", ["nope", "i0"], day=DAY, preview=True).entries] == ["i0"]
    empty = engine.daily_from("m1", [], day=DAY, preview=True)
    assert not empty.entries and empty.notes
    for bad in ("i0", ["i0", "i0"], [1], {"i0": float("nan")}, {"i0": "high"}):
        with pytest.raises(ValidationError):
            engine.daily_from("m1", bad, day=DAY)
