"""Batch daily lists: ``Engine.daily_many`` must give exactly what ``daily()`` gives, one by one."""

from __future__ import annotations

import datetime as dt

import pytest

from corpus import load_events, load_items, load_members
from recsys import Engine
from recsys.exceptions import NotFoundError, ValidationError

DAY = dt.date(2026, 12, 3)


def _engine(path) -> Engine:
    engine = Engine.open(path, encoder="tfidf")
    engine.add_items(load_items())
    engine.upsert_members(load_members())
    engine.record(load_events())
    return engine


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Two engines over identical stores: one serves one by one (the oracle), one in a batch."""
    single = _engine(tmp_path_factory.mktemp("single"))
    batch = _engine(tmp_path_factory.mktemp("batch"))
    yield single, batch
    single.close()
    batch.close()


def test_batch_lists_equal_single_lists(twins):
    single, batch = twins
    ids = [m.id for m in single.members()]
    expected = [single.daily(m, day=DAY).to_dict() for m in ids]
    got = [lst.to_dict() for lst in batch.daily_many(ids, day=DAY, chunk=7)]  # several rounds
    assert [g["member"] for g in got] == ids
    assert got == expected
    assert any(g["entries"] for g in got)  # the comparison is over real lists, not empty ones


def test_batch_is_served_like_daily(twins):
    """A batch stores its lists and impressions as daily() does: asked again, same lists, and
    the next day's lists honour the cool-down the same way on both engines."""
    single, batch = twins
    ids = [m.id for m in single.members()][:8]
    again = [lst.to_dict() for lst in batch.daily_many(ids + ids[:2], day=DAY)]
    assert again[:8] == [batch.daily(m, day=DAY).to_dict() for m in ids]
    assert again[8:] == again[:2]
    assert len(batch.events()) == len(single.events())  # the same impressions were recorded
    nxt = DAY + dt.timedelta(days=1)
    assert [lst.to_dict() for lst in batch.daily_many(ids, day=nxt, minutes=30)] == [
        single.daily(m, day=nxt, minutes=30).to_dict() for m in ids
    ]


def test_unknown_member_fails_before_anything_is_served(twins):
    _, batch = twins
    before = len(batch.events())
    known = batch.members()[0].id
    with pytest.raises(NotFoundError):
        batch.daily_many([known, "no-such-member"], day=DAY + dt.timedelta(days=5))
    assert len(batch.events()) == before
    with pytest.raises(ValidationError, match="chunk"):
        batch.daily_many([known], day=DAY, chunk=0)
