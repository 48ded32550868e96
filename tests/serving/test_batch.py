"""Batch daily lists: ``Engine.daily_many`` must give exactly what ``daily()`` gives, one by one."""

from __future__ import annotations

import datetime as dt
import time

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


@pytest.fixture
def nightly(tmp_path):
    engine = _engine(tmp_path / "store")
    yield engine
    engine.close()


def test_a_day_batch_stores_every_members_list_and_a_rerun_skips_them(nightly, tmp_path):
    members = [m.id for m in nightly.members()]
    seen = []
    report = nightly.batch(day=DAY, chunk=5, progress=seen.append)
    assert (report.members, report.served, report.skipped) == (len(members), len(members), 0)
    assert sum(seen) == len(members)
    assert report.seconds > 0 and report.floor_seconds > 0 and report.lists_per_second > 0
    # Each stored list is what a day's first daily() would have given (the oracle: a twin store).
    oracle = _engine(tmp_path / "oracle")
    assert [nightly.daily(m, day=DAY).to_dict() for m in members] == [oracle.daily(m, day=DAY).to_dict()
                                                                       for m in members]
    oracle.close()
    again = nightly.batch(day=DAY)
    assert (again.served, again.skipped) == (0, len(members))
    assert "本次生成 0 份" in again.summary()


def test_an_interrupted_batch_resumes_where_it_stopped(nightly):
    members = nightly.members()

    def stop_after_first_block(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nightly.batch(day=DAY, chunk=4, progress=stop_after_first_block)
    report = nightly.batch(day=DAY, chunk=4)
    assert (report.served, report.skipped) == (len(members) - 4, 4)


def test_a_batch_for_one_organisation_serves_only_its_members(nightly):
    org = nightly.members()[0].org
    ours = [m.id for m in nightly.members() if m.org == org or m.org.startswith(org + ".")]
    report = nightly.batch(day=DAY, org=org)
    assert report.members == report.served == len(ours) < len(nightly.members())
    with pytest.raises(NotFoundError):
        nightly.batch(day=DAY, org="no.such.org")
    with pytest.raises(ValidationError):
        nightly.batch(day=DAY, chunk=0)


def test_the_batch_command_prints_its_pace_against_the_floor(nightly, capsys):
    from recsys_cli import main

    path = nightly.store.url
    nightly.close()
    assert main(["batch", "--store", path, "--day", DAY.isoformat(), "--chunk", "8"]) == 0
    out = capsys.readouterr().out
    assert f"{DAY} 每日清单" in out and "份/秒" in out and "参照下限" in out
    assert main(["batch", "--store", path, "--day", DAY.isoformat()]) == 0
    assert "本次生成 0 份" in capsys.readouterr().out


def test_a_damaged_member_record_is_named_and_every_other_member_served(nightly, tmp_path, capsys):
    import sqlite3

    from recsys_cli import main

    members = sorted(m.id for m in nightly.members())
    damaged = members[3]
    path = nightly.store.url
    nightly.close()
    with sqlite3.connect(tmp_path / "store" / "recsys.sqlite") as db:
        db.execute("UPDATE members SET data = '{\"id\": \"x\", \"name\":' WHERE id = ?", (damaged,))
    # One bad row was the whole night's failure; it is now that member's alone.
    assert main(["batch", "--store", path, "--day", DAY.isoformat(), "--chunk", "8", "--no-train"]) == 1
    out = capsys.readouterr().out
    assert f"本次生成 {len(members) - 1} 份" in out and f"1 名党员的记录已损坏，未生成清单（{damaged}）" in out
    with Engine.open(path) as engine:
        assert {s.member for s in engine.store.served_for(members, DAY)} == set(members) - {damaged}
        again = engine.batch(day=DAY)
        assert (again.served, again.skipped, again.unreadable) == (0, len(members) - 1, (damaged,))
        branch = next(m.org for m in engine.find_members([m for m in members if m != damaged]).values())
        # Its branch still gets its digest, without the member whose record cannot be read.
        assert engine.digest(branch, DAY).members >= 1
    # A batch of one organisation and the push go on as well.
    assert main(["batch", "--store", path, "--day", DAY.isoformat(), "--org", branch, "--no-train"]) in (0, 1)
    assert "本次生成 0 份" in capsys.readouterr().out


def test_members_are_taken_branch_by_branch_in_their_order_within_a_branch(twins):
    from recsys.serving.batch import in_branch_order

    single, _ = twins
    orgs = {m.id: m.org for m in single.members()}
    ids = sorted(orgs, reverse=True)
    ordered = in_branch_order(single.store, ids)
    assert sorted(ordered) == sorted(ids)
    branches = [orgs[m] for m in ordered]
    assert branches == sorted(branches) and len(set(branches)) > 1
    for org in set(branches):  # the given order kept within a branch
        assert [m for m in ordered if orgs[m] == org] == [m for m in ids if orgs[m] == org]


def test_a_batch_of_named_members_serves_them_whatever_their_order(nightly, tmp_path):
    ids = [m.id for m in nightly.members()][::-2]  # every other member, backwards: no order of branch
    report = nightly.batch(day=DAY, members=ids, chunk=1)  # more than four blocks: put in branch order
    assert (report.members, report.served, report.skipped) == (len(ids), len(ids), 0)
    oracle = _engine(tmp_path / "oracle")
    assert [nightly.daily(m, day=DAY).to_dict() for m in ids] == [oracle.daily(m, day=DAY).to_dict() for m in ids]
    oracle.close()
    assert nightly.batch(day=DAY, members=ids).skipped == len(ids)


def test_a_batchs_time_counts_putting_its_members_in_branch_order(nightly, monkeypatch):
    from recsys.serving import batch

    order = batch.in_branch_order

    def slow(store, ids):
        time.sleep(2)
        return order(store, ids)

    monkeypatch.setattr(batch, "in_branch_order", slow)
    ids = [m.id for m in nightly.members()]
    report = nightly.batch(day=DAY, members=ids, chunk=1)  # more than four blocks: put in branch order
    assert report.served == len(ids) and report.seconds >= 2
