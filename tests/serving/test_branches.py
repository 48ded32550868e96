"""The branches' completions kept in memory answer as the store does, however the log grows.

:class:`recsys.serving.branches.BranchLog` is read once and then only what is new; the store's
:meth:`branch_completions` is the reference. Random histories are written in steps (completions
by members of nested branches and two enterprises, other kinds, late events dated before the
window, members moved, added and removed, one member id in two enterprises, events a copy of a
store writes for members it has not written yet), and after some steps (several may pass unread:
a member removed and added again meanwhile), every branch's counts over a few days' windows must be the store's, as a mapping and as planning
reads them by catalogue row.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Event, Member, StoreError, ValidationError
from recsys.pipeline.context import BranchCounts
from recsys.records import TZ, tenant_of
from recsys.serving.branches import BranchLog
from recsys.serving.world import BRANCH_WINDOW
from recsys.storage import MemoryStore, SQLiteStore

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
ORGS = {"hxny": ("hxny.a", "hxny.a.b", "hxny.c"), "zjjt": ("zjjt.a", "zjjt.b")}
#: (enterprise, member id): m1 is a different person in each enterprise.
MEMBERS = (("hxny", "m1"), ("hxny", "m2"), ("hxny", "m3"), ("zjjt", "m1"), ("zjjt", "z2"))
KINDS = ("complete", "attend", "start", "impression", "enroll")
ITEMS = ("x", "y", "z", "w")

events = st.lists(st.tuples(st.integers(0, len(MEMBERS) - 1), st.sampled_from(ITEMS),
                            st.sampled_from(KINDS), st.integers(-100, 30)), max_size=12)
step = st.one_of(
    st.tuples(st.just("events"), events),
    st.tuples(st.just("copied"), events),
    st.tuples(st.just("move"), st.tuples(st.integers(0, len(MEMBERS) - 1), st.integers(0, 2))),
    st.tuples(st.just("remove"), st.integers(0, len(MEMBERS) - 1)),
)


class Cols:
    """What the log and :class:`BranchCounts` read of a catalogue's columns: rows by id (``w``
    is not in this catalogue)."""

    def __init__(self, ids) -> None:
        self.row = {i: n for n, i in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.row)

    def lookup(self, values):
        import numpy as np

        rows = np.fromiter((self.row.get(i, -1) for i in values), dtype=np.int64, count=len(values))
        return rows, np.fromiter(values.values(), dtype=np.float64, count=len(values))


def _expected(store, org: str, end: dt.datetime) -> tuple[dict[str, int], int]:
    counts, active = store.branch_completions(org, end - BRANCH_WINDOW, end)
    return dict(sorted(counts.items())), active


def _check(store, log: BranchLog, days: list[int], cols: Cols) -> None:
    for day in days:
        end = T0 + dt.timedelta(days=day)
        for org in [o for orgs in ORGS.values() for o in orgs] + ["nobody"]:
            want, active = _expected(store, org, end)
            found = log.counts(org, end - BRANCH_WINDOW, end, store.revisions())
            assert found == (want, active)
            assert list(found[0]) == sorted(found[0])  # items in id order
            # As planning reads them: by catalogue row, the most completed first.
            got, got_active = log.activity(org, end - BRANCH_WINDOW, end, store.revisions(), cols)
            reference = BranchCounts(want)
            assert (dict(got), list(got), len(got), got_active) == (want, list(want), len(want), active)
            assert got.column(cols).tolist() == reference.column(cols).tolist()
            assert got.most_completed(cols, 3).tolist() == reference.most_completed(cols, 3).tolist()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(st.tuples(st.integers(0, len(MEMBERS) - 1), st.integers(0, 2)), min_size=1, max_size=5),
       steps=st.lists(st.tuples(step, st.booleans()), max_size=6), days=st.lists(st.integers(-20, 140), min_size=1, max_size=3),
       sqlite=st.booleans(), sort_at=st.sampled_from([1, 3, 4096]), order=st.permutations(ITEMS))
def test_the_log_counts_as_the_store_does(first, steps, days, sqlite, sort_at, order):
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(tmp) if sqlite else MemoryStore()

        def put(n: int, branch: int) -> None:
            tenant, member = MEMBERS[n]
            orgs = ORGS[tenant]
            store.upsert_members([Member(id=member, name=member, org=orgs[branch % len(orgs)])])

        for n, branch in dict(first).items():
            put(n, branch)
        log = BranchLog(store, sort_at=sort_at)
        cols = Cols(order[:3])
        _check(store, log, days, cols)
        for (kind, what), read in steps:  # ``read``: the log asked after the step, or not until later
            held = {(tenant_of(org), m) for org, m in store.member_orgs()}
            if kind in ("events", "copied"):  # events of members held; or, as a copy writes them, not
                chosen = [(MEMBERS[n], i, k, d, at) for at, (n, i, k, d) in enumerate(what)
                          if (MEMBERS[n] in held) == (kind == "events")]
                store.record_events([Event(member=m, item=i, kind=k, at=T0 + dt.timedelta(days=d, minutes=at))
                                     for (_, m), i, k, d, at in chosen], tenants=[t for (t, _), *_ in chosen])
            elif kind == "move":
                put(*what)
            elif MEMBERS[what] in held:
                store.remove_member(MEMBERS[what][1], tenant=MEMBERS[what][0])
            if read:
                _check(store, log, days, cols)
        _check(store, log, days, cols)
        store.close()


def test_members_added_or_given_other_roles_keep_the_completions_read(tmp_path):
    """A roster sync that adds members (one in a branch of its own) and changes roles reads the
    members again, not the completions; one that moves a member reads everything again."""
    store = SQLiteStore(tmp_path)
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a"), Member(id="m2", name="m2", org="hxny.b")])
    store.record_events([Event(member="m1", item="x", kind="complete", at=T0),
                         Event(member="m2", item="y", kind="complete", at=T0)])
    reads = []
    original = store.completions_after
    store.completions_after = lambda after, since, **scope: reads.append(after) or original(after, since, **scope)
    log = BranchLog(store)
    end = T0 + dt.timedelta(days=1)

    def counts(org):
        return log.counts(org, end - BRANCH_WINDOW, end, store.revisions())

    assert counts("hxny.a") == ({"x": 1}, 1) and reads == [0]
    store.upsert_members([Member(id="m3", name="m3", org="hxny.a"), Member(id="m4", name="m4", org="hxny.new"),
                          Member(id="m1", name="m1", org="hxny.a", roles=("member", "secretary"))])
    store.record_events([Event(member="m3", item="x", kind="complete", at=T0),
                         Event(member="m4", item="z", kind="attend", at=T0)])
    assert log.stale(end - BRANCH_WINDOW, store.revisions())  # the members are read again, beside
    assert (counts("hxny.a"), counts("hxny.new"), counts("hxny.b")) == (({"x": 2}, 2), ({"z": 1}, 1), ({"y": 1}, 1))
    assert 0 not in reads[1:]  # only what was recorded since
    store.upsert_members([Member(id="m2", name="m2", org="hxny.a")])  # moved: its completion counts there now
    assert (counts("hxny.a"), counts("hxny.b")) == (({"x": 2, "y": 1}, 3), ({}, 0))
    assert reads[-1] == 0
    store.close()


@pytest.mark.parametrize("pseudonym", [None, "anon-1"])
def test_a_member_removed_and_added_again_between_two_reads_loses_the_completions(tmp_path, pseudonym):
    """The roster read again shows the same members in the same branches, but the removal took
    the member's completions away (or gave them to a pseudonym, here added as a member too)."""
    store = SQLiteStore(tmp_path)
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a"), Member(id="m2", name="m2", org="hxny.a")])
    store.record_events([Event(member="m1", item="x", kind="complete", at=T0),
                         Event(member="m2", item="y", kind="complete", at=T0)])
    log = BranchLog(store)
    end = T0 + dt.timedelta(days=1)

    def both():
        return [log.counts(org, end - BRANCH_WINDOW, end, store.revisions()) for org in ("hxny.a", "hxny.b")]

    assert both() == [({"x": 1, "y": 1}, 2), ({}, 0)]
    store.remove_member("m1", pseudonym=pseudonym, tenant="hxny")
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a")]
                         + ([Member(id=pseudonym, name="p", org="hxny.b")] if pseudonym else []))
    assert both() == [({"y": 1}, 1), ({"x": 1}, 1) if pseudonym else ({}, 0)]
    assert both() == [_expected(store, org, end) for org in ("hxny.a", "hxny.b")]
    store.close()


def test_new_completions_are_read_by_sequence_number_alone(tmp_path):
    """After the first read only the events recorded since are read, and a window reaching
    further back than what is held reads it all again."""
    store = SQLiteStore(tmp_path)
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a"), Member(id="m2", name="m2", org="hxny.a")])
    store.record_events([Event(member="m1", item="x", kind="complete", at=T0)])
    reads = []
    original = store.completions_after

    def counted(after, since, **scope):
        reads.append((after, since))
        return original(after, since, **scope)

    store.completions_after = counted
    log = BranchLog(store)
    end = T0 + dt.timedelta(days=1)
    assert log.counts("hxny.a", end - BRANCH_WINDOW, end, store.revisions()) == ({"x": 1}, 1)
    assert reads == [(0, end - BRANCH_WINDOW)]
    assert log.counts("hxny.a", end - BRANCH_WINDOW, end, store.revisions()) == ({"x": 1}, 1)
    assert len(reads) == 1  # nothing recorded since: nothing read
    store.record_events([Event(member="m2", item="x", kind="attend", at=T0), Event(member="m2", item="a", kind="complete", at=T0)])
    assert log.counts("hxny.a", end - BRANCH_WINDOW, end, store.revisions()) == ({"a": 1, "x": 2}, 2)
    assert reads[-1][0] == 1 and len(reads) == 2
    earlier = end - dt.timedelta(days=30)
    assert log.counts("hxny.a", earlier - BRANCH_WINDOW, earlier, store.revisions()) == ({}, 0)
    assert reads[-1] == (0, earlier - BRANCH_WINDOW)
    store.close()


def test_planning_reads_the_same_counts_from_the_log_as_from_the_store(tmp_path):
    """What a list reads of the branch (counts by catalogue row, the most completed first, the
    mapping) is the same from the log as from the store, on the sample data."""
    from corpus import load_events, load_items, load_members
    from recsys import Engine
    from recsys.serving.world import branch_activity

    engine = Engine.open(tmp_path, encoder="tfidf")
    engine.add_items(load_items())
    engine.upsert_members(load_members())
    engine.record(load_events())
    world = engine._world
    snap = world.snapshot()
    cols = snap.catalogue.columns
    last = max(e.at for e in load_events()).date()
    checked = 0
    for day in (last, last - dt.timedelta(days=20), last + dt.timedelta(days=60)):
        for org in sorted({m.org for m in load_members()}):
            (got, active), (want, want_active) = world.branch_activity(snap, org, day), branch_activity(world.store, org, day)
            assert (dict(got), active) == (dict(want), want_active)
            assert list(got) == list(want)
            assert (got.column(cols) == want.column(cols)).all()
            assert (got.most_completed(cols, 10) == want.most_completed(cols, 10)).all()
            checked += bool(active)
    assert checked >= 3  # branches with completions were compared, not only empty ones
    engine.close()


def test_a_batch_in_a_fresh_process_reads_each_branch_from_the_store(tmp_path):
    """A batch does not read every branch's completions first (a worker goes branch by branch);
    a single request does, and the batch then uses them. The lists are the same either way
    (``test_batch.py`` compares a batch on a fresh engine with requests one by one)."""
    from corpus import load_events, load_items, load_members
    from recsys import Engine

    engine = Engine.open(tmp_path, encoder="tfidf")
    engine.add_items(load_items())
    engine.upsert_members(load_members())
    engine.record(load_events())
    ids = [m.id for m in load_members()]
    day = max(e.at for e in load_events()).date() + dt.timedelta(days=1)
    engine.daily_many(ids[:3], day=day)
    assert not engine._world.branches.loaded
    engine.daily(ids[3], day=day)
    assert engine._world.branches.loaded
    engine.close()


class FlakyStore(MemoryStore):
    """A memory store whose next read of completions fails (a database locked for too long)."""

    fail = False

    def completions_after(self, after, since, **scope):
        if self.fail:
            self.fail = False
            raise StoreError("database is locked")
        return super().completions_after(after, since, **scope)


def _two_branches(store) -> tuple[dt.datetime, dt.datetime]:
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a"), Member(id="m2", name="m2", org="hxny.b")])
    store.record_events([Event(member="m2", item="y", kind="complete", at=T0),  # b's first, in the order recorded
                         Event(member="m1", item="x", kind="complete", at=T0)])
    end = T0 + dt.timedelta(days=1)
    return end - BRANCH_WINDOW, end


def test_a_read_that_fails_changes_nothing_held():
    store = FlakyStore()
    window = _two_branches(store)
    log = BranchLog(store)
    assert log.counts("hxny.a", *window, store.revisions()) == ({"x": 1}, 1)
    store.upsert_members([Member(id="m1", name="m1", org="hxny.b")])  # a member moved: all read again
    store.fail = True
    with pytest.raises(StoreError):
        log.counts("hxny.a", *window, store.revisions())
    store.record_events([Event(member="m1", item="v", kind="complete", at=T0)])
    store.fail = True  # the read of what is new fails too
    with pytest.raises(StoreError):
        log.counts("hxny.a", *window, store.revisions())
    for org in ("hxny.a", "hxny.b"):
        assert log.counts(org, *window, store.revisions()) == _expected(store, org, window[1])


def test_a_reload_by_another_thread_cannot_rename_the_items_of_an_answer():
    """The items' ids are read under the log's lock: a reload right after the count (another
    thread's request after a member was removed) numbers the items anew."""
    store = MemoryStore()
    window = _two_branches(store)
    log = BranchLog(store)
    log.counts("hxny.b", *window, store.revisions())  # y is item 0, x item 1

    class Interleaved:
        """The log's lock; right after a release, the other thread's request runs once."""

        def __init__(self) -> None:
            self.inner, self.then = threading.Lock(), None

        def acquire(self, blocking=True):
            return self.inner.acquire(blocking)

        def release(self):
            self.inner.release()
            then, self.then = self.then, None
            if then is not None:
                other = threading.Thread(target=then)
                other.start()
                other.join()

    def other_request():
        store.remove_member("m2", pseudonym="p2")  # b's completion goes: x is item 0 now
        log.counts("hxny.a", *window, store.revisions())

    log._lock = Interleaved()
    log._lock.then = other_request
    store.upsert_members([Member(id="m3", name="m3", org="hxny.c")])
    assert log.counts("hxny.a", *window, store.revisions()) == ({"x": 1}, 1)


def test_an_older_snapshot_reads_nothing_again_and_old_completions_are_let_go():
    store = MemoryStore()
    window = _two_branches(store)
    before = store.revisions()
    log = BranchLog(store, sort_at=1)
    store.upsert_members([Member(id="m3", name="m3", org="hxny.a")])
    reads = []
    original = store.member_orgs
    store.member_orgs = lambda **scope: reads.append(1) or original(**scope)
    assert log.counts("hxny.a", *window, store.revisions()) == ({"x": 1}, 1)
    assert log.counts("hxny.a", *window, before) == ({"x": 1}, 1)  # a request holding a snapshot taken earlier
    assert len(reads) == 1
    # Months later: what no window asked for lately needs is let go when the arrays are sorted.
    later = T0 + dt.timedelta(days=200)
    store.record_events([Event(member="m3", item="z", kind="complete", at=later)])
    end = later + dt.timedelta(days=1)
    assert log.counts("hxny.a", end - BRANCH_WINDOW, end, store.revisions()) == ({"z": 1}, 1)
    assert len(log._main[0]) == 3  # the old completions kept while the window asked before may be asked again
    store.record_events([Event(member="m3", item="y", kind="complete", at=later)])
    assert log.counts("hxny.a", end - BRANCH_WINDOW, end, store.revisions()) == ({"y": 1, "z": 1}, 1)
    assert len(log._main[0]) == 2 and len(reads) == 1  # x and the first y let go; nothing read again
    # Asked again for the first window: read again, and answered as the store does.
    assert log.counts("hxny.a", *window, store.revisions()) == ({"x": 1}, 1) and len(reads) == 2


def test_items_numbered_anew_by_a_reload_keep_their_catalogue_rows():
    store = MemoryStore()
    store.upsert_members([Member(id="m1", name="m1", org="hxny.a"), Member(id="m2", name="m2", org="hxny.a")])
    store.record_events([Event(member="m1", item="b", kind="complete", at=T0 - dt.timedelta(days=50)),
                         Event(member="m2", item="a", kind="complete", at=T0)])
    cols = Cols(["a", "b"])
    log = BranchLog(store)
    for days in (1, 45):  # a member written between: read again from a later window, b now left out
        end = T0 + dt.timedelta(days=days)
        got, _ = log.activity("hxny.a", end - BRANCH_WINDOW, end, store.revisions(), cols)
        want = BranchCounts(_expected(store, "hxny.a", end)[0])
        assert got.column(cols).tolist() == want.column(cols).tolist()
        assert got.most_completed(cols, 5).tolist() == want.most_completed(cols, 5).tolist()
        store.upsert_members([Member(id="m2", name="m2", org="hxny.a", roles=("member", "young"))])


def test_a_warmed_engine_has_read_what_a_first_list_waits_for(tmp_path):
    from corpus import load_events, load_items, load_members
    from recsys import Engine

    engine = Engine.open(tmp_path, encoder="tfidf")
    engine.add_items(load_items())
    engine.upsert_members(load_members())
    engine.record(load_events())
    engine.close()
    engine = Engine.open(tmp_path)
    day = max(e.at for e in load_events()).date() + dt.timedelta(days=1)
    engine.warm(day)
    world = engine._world
    assert world.branches.loaded and world._collab is not None
    reads = []
    original = world.store.completions_after
    world.store.completions_after = lambda after, since, **scope: reads.append(after) or original(after, since, **scope)
    member = load_members()[0].id
    assert engine.daily(member, day=day, preview=True).entries
    assert reads == []  # nothing recorded since the warm-up: nothing read
    with pytest.raises(ValidationError):
        engine.warm("not a day")
    engine.close()


def _served_engine(tmp_path):
    from corpus import load_events, load_items, load_members
    from recsys import Engine

    engine = Engine.open(tmp_path, encoder="tfidf")
    engine.add_items(load_items())
    engine.upsert_members(load_members())
    engine.record(load_events())
    day = max(e.at for e in load_events()).date() + dt.timedelta(days=1)
    engine.warm(day)
    return engine, load_members(), day


def test_a_member_written_is_read_again_in_the_background_while_the_store_answers(tmp_path):
    """After the roster moves (a member added, moved or removed) the completions are read again
    on a thread of their own; the request that found them stale is answered from the store at
    once, with the same list."""
    engine, members, day = _served_engine(tmp_path)
    world, store = engine._world, engine.store
    before = engine.daily(members[1].id, day=day, preview=True)
    gate, waited = threading.Event(), []
    member_orgs, branch_completions = store.member_orgs, store.branch_completions

    def held_member_orgs(**scope):  # what reading again reads first: held until the request is answered
        waited.append(gate.wait(10))
        return member_orgs(**scope)

    asked = []
    store.member_orgs = held_member_orgs
    store.branch_completions = lambda *a, **k: asked.append(a[0]) or branch_completions(*a, **k)
    engine.upsert_members([Member(id="m-new", name="新党员", org=members[0].org)])  # the roster moves: all read again
    during = engine.daily(members[1].id, day=day, preview=True)
    assert asked == [members[1].org]  # answered by the store, not by waiting for the reading
    gate.set()
    world.settle()
    assert waited == [True]  # the reading went on after the request was answered, not before
    asked.clear()
    after = engine.daily(members[1].id, day=day, preview=True)
    assert asked == []  # the log answers again
    assert [e.item.id for e in during.entries] == [e.item.id for e in before.entries] == [e.item.id for e in after.entries]
    engine.close()


def test_a_reading_again_does_not_wait_behind_a_build_of_the_collaborative_model(tmp_path):
    """A member added moves the roster: the model is built again and the branches read again.
    The reading does not wait for the build (seconds on a large store): the requests are
    answered by the log again while the build goes on."""
    from recsys import Engine

    engine, members, day = _served_engine(tmp_path)
    engine.close()
    engine = Engine.open(tmp_path, encoder="tfidf", background_models=True)
    world, store = engine._world, engine.store
    engine.warm(day)
    gate = threading.Event()
    with world._background_lock:  # the build's thread busy until the gate opens
        world._executor().submit(gate.wait, 30)
    try:
        engine.upsert_members([Member(id="m-new", name="新党员", org=members[0].org)])
        engine.daily(members[1].id, day=day, preview=True)  # starts both: the build waits its turn
        assert world._building is not None and not world._building.done()
        world._rereading.result(timeout=20)  # read while the build has not started
        asked = []
        branch_completions = store.branch_completions
        store.branch_completions = lambda *a, **k: asked.append(a[0]) or branch_completions(*a, **k)
        engine.daily(members[2].id, day=day, preview=True)
        assert asked == [] and not world._building.done()  # the log answers; the build still waits
    finally:
        gate.set()
        engine.close()


def test_a_reading_again_that_fails_leaves_the_store_answering_until_one_succeeds(tmp_path, caplog):
    engine, members, day = _served_engine(tmp_path)
    world, store = engine._world, engine.store
    member_orgs, branch_completions = store.member_orgs, store.branch_completions
    fail = [True]

    def flaky_member_orgs(**scope):
        if fail.pop() if fail else False:
            raise StoreError("database is locked")
        return member_orgs(**scope)

    asked = []
    store.member_orgs = flaky_member_orgs
    store.branch_completions = lambda *a, **k: asked.append(a[0]) or branch_completions(*a, **k)
    engine.upsert_members([Member(id="m-new", name="新党员", org=members[0].org)])
    with caplog.at_level("WARNING", logger="recsys.serving.world"):
        engine.daily(members[1].id, day=day, preview=True)
        world.settle()
    assert "could not be read again" in caplog.text and "database is locked" in caplog.text
    assert len(asked) == 1
    engine.daily(members[2].id, day=day, preview=True)  # still stale: the store answers, a new reading starts
    world.settle()
    assert len(asked) == 2
    engine.daily(members[3].id, day=day, preview=True)
    assert len(asked) == 2  # that reading succeeded: the log answers
    engine.close()


def test_a_members_interests_written_have_nothing_read_again(tmp_path):
    """A portal writes members' interests and minutes all day: the branches' completions and the
    collaborative model stay as they are (they read who the members are, their branches and
    roles), and the other members' lists with them."""
    from dataclasses import replace

    engine, members, day = _served_engine(tmp_path)
    store = engine.store
    before = engine.daily(members[1].id, day=day, preview=True)
    reads = []
    for name in ("member_orgs", "member_roles", "interactions", "get_artefact", "completions_after"):
        original = getattr(store, name)
        setattr(store, name, lambda *a, _name=name, _original=original, **k: reads.append(_name) or _original(*a, **k))
    engine.upsert_members([replace(members[0], interests=("党史学习",), daily_minutes=45, name="改名")])
    after = engine.daily(members[1].id, day=day, preview=True)
    assert reads == []
    assert [e.item.id for e in after.entries] == [e.item.id for e in before.entries]
    engine.upsert_members([replace(members[0], roles=(*members[0].roles, "young"))])  # the roster moves
    engine.daily(members[1].id, day=day, preview=True)
    assert "member_roles" in reads  # the collaborative model reads the members' roles again
    engine.close()


def test_readings_in_the_background_share_one_thread_and_none_starts_after_close(tmp_path):
    engine, members, day = _served_engine(tmp_path)
    world = engine._world
    threads = set()
    catch_up = world.branches.catch_up

    def noted(*a, **k):
        threads.add(threading.get_ident())
        return catch_up(*a, **k)

    world.branches.catch_up = noted
    for n in range(3):  # three roster moves, three readings: one thread
        engine.upsert_members([Member(id=f"m-new{n}", name="新党员", org=members[0].org)])
        engine.daily(members[1].id, day=day, preview=True)
        world.settle()
    assert len(threads) == 1 and threading.get_ident() not in threads
    world.close()
    engine.upsert_members([Member(id="m-late", name="新党员", org=members[0].org)])
    engine.daily(members[1].id, day=day, preview=True)  # after close: the store answers, nothing starts
    world.settle()
    assert len(threads) == 1 and world._rereading.done()
    engine.close()
