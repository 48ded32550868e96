"""The branches' completions kept in memory answer as the store does, however the log grows.

:class:`recsys.serving.branches.BranchLog` is read once and then only what is new; the store's
:meth:`branch_completions` is the reference. Random histories are written in steps (completions
by members of nested branches and two enterprises, other kinds, late events dated before the
window, members moved, added and removed), and after each step every branch's counts over a few
days' windows must be the store's.
"""

from __future__ import annotations

import datetime as dt
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Event, Member
from recsys.records import TZ
from recsys.serving.branches import BranchLog
from recsys.serving.world import BRANCH_WINDOW
from recsys.storage import MemoryStore, SQLiteStore

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
ORGS = ("hxny.a", "hxny.a.b", "hxny.c", "zjjt.a", "zjjt.b")
MEMBERS = ("m1", "m2", "m3", "z1", "z2")  # of hxny, of zjjt


def _org(member: str, n: int) -> str:
    """A branch of the member's own enterprise (a member id is one person per enterprise)."""
    own = [org for org in ORGS if org.startswith("zjjt" if member.startswith("z") else "hxny")]
    return own[n % len(own)]
KINDS = ("complete", "attend", "start", "impression", "enroll")

events = st.lists(st.tuples(st.sampled_from(MEMBERS), st.sampled_from(("x", "y", "z", "w")),
                            st.sampled_from(KINDS), st.integers(-100, 30)), max_size=12)
step = st.one_of(
    st.tuples(st.just("events"), events),
    st.tuples(st.just("move"), st.tuples(st.sampled_from(MEMBERS), st.integers(0, 2))),
    st.tuples(st.just("remove"), st.sampled_from(MEMBERS)),
)


def _expected(store, org: str, end: dt.datetime) -> tuple[dict[str, int], int]:
    counts, active = store.branch_completions(org, end - BRANCH_WINDOW, end)
    return dict(sorted(counts.items())), active


def _check(store, log: BranchLog, days: list[int]) -> None:
    for day in days:
        end = T0 + dt.timedelta(days=day)
        for org in ORGS + ("nobody",):
            found = log.counts(org, end - BRANCH_WINDOW, end, store.revisions())
            assert found == _expected(store, org, end)
            assert list(found[0]) == sorted(found[0])  # items in id order


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(st.tuples(st.sampled_from(MEMBERS), st.integers(0, 2)), min_size=1, max_size=5),
       steps=st.lists(step, max_size=6), days=st.lists(st.integers(-20, 40), min_size=1, max_size=3),
       sqlite=st.booleans(), sort_at=st.sampled_from([1, 3, 4096]))
def test_the_log_counts_as_the_store_does(first, steps, days, sqlite, sort_at):
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(tmp) if sqlite else MemoryStore()
        store.upsert_members([Member(id=m, name=m, org=_org(m, n)) for m, n in dict(first).items()])
        log = BranchLog(store, sort_at=sort_at)
        _check(store, log, days)
        for kind, what in steps:
            held = {m.id: m for m in store.iter_members()}
            if kind == "events":
                store.record_events([Event(member=m, item=i, kind=k, at=T0 + dt.timedelta(days=d, minutes=n))
                                     for n, (m, i, k, d) in enumerate(what) if m in held])
            elif kind == "move":
                store.upsert_members([Member(id=what[0], name=what[0], org=_org(*what))])
            elif what in held:
                store.remove_member(what)
            _check(store, log, days)
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
