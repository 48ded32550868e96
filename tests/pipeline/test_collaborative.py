"""The store-wide collaborative signal (co-completion, role-aware popularity), its determinism,
and the cap on reviews per daily list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys import Engine, Event, Item, Member
from recsys.pipeline.collaborative import ARTEFACT, CollaborativeModel, snapshot_seq
from recsys.curriculum import Curriculum
from recsys.exceptions import ModelError, StoreError, ValidationError
from recsys.models.ranking import RankingModel
from recsys.records import TZ
from recsys.serving.builds import Builds, build_apart, fit_collaborative, opens_elsewhere

DAY = dt.date(2026, 6, 10)


def at(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def item(id_: str, title: str, **fields) -> Item:
    fields.setdefault("kind", "article")
    fields.setdefault("minutes", 10)
    return Item(id=id_, title=title, body=title, published=dt.date(2026, 1, 1), topics=("读书",), **fields)


# Eight unrelated titles: nothing in the text says which items go together.
CATALOGUE = [
    item("a", "红色家书选读"),
    item("b", "基层治理案例汇编"),
    item("ta", "新能源汽车产业观察"),
    item("tb", "古代水利工程史话"),
    item("x1", "乡村振兴一线纪实"),
    item("x2", "劳动模范访谈录"),
    item("x3", "科技创新前沿速览"),
    item("x4", "节约用水小知识"),
]


def member(id_: str, roles=("member",)) -> Member:
    return Member(id=id_, name=id_, org="hx.b1", roles=roles, daily_minutes=30)


def _co_completion_store(path, peers: int = 3, **how) -> Engine:
    """m1 studied ``a``, m7 studied ``b``. ``peers`` members completed ``a`` and ``ta`` together,
    as many others ``b`` and ``tb``: ``ta`` and ``tb`` are equally popular, but ``ta`` is the
    obvious neighbour of m1's history and ``tb`` of m7's."""
    eng = Engine.open(path, encoder="tfidf", **how)
    eng.add_items(CATALOGUE)
    extra = [f"p{n}" for n in range(2 * max(peers - 3, 0))]
    eng.upsert_members([member(f"m{n}") for n in range(1, 10)] + [member(m) for m in extra])
    first = DAY - dt.timedelta(days=5)
    events = [Event("m1", "a", "complete", at(first)), Event("m7", "b", "complete", at(first))]
    for peer in ["m2", "m3", "m4", *extra[::2]][:peers]:
        events += [Event(peer, "a", "complete", at(first)), Event(peer, "ta", "complete", at(first, 21))]
    for peer in ["m5", "m6", "m8", *extra[1::2]][:peers]:
        events += [Event(peer, "b", "complete", at(first)), Event(peer, "tb", "complete", at(first, 21))]
    eng.record(events)
    return eng


def test_co_completion_puts_the_obvious_neighbour_first(tmp_path):
    with _co_completion_store(tmp_path / "s", peers=5) as eng:
        model = eng.collaborative()
        assert model.similar_items("a", 1)[0][0] == "ta"
        assert model.similar_items("b", 1)[0][0] == "tb"
        assert model.co_completers("a", "ta") == 5 and model.co_completers("a", "tb") == 0
        assert [h.item.id for h in eng.rank("m1", day=DAY)][0] == "ta"
        assert [h.item.id for h in eng.rank("m7", day=DAY)][0] == "tb"
        entry = next(e for e in eng.daily("m1", day=DAY).entries if e.item.id == "ta")
        assert "学过《红色家书选读》的同志也在学这一内容" in entry.reasons


def test_others_study_this_is_said_only_where_a_handful_of_members_do(tmp_path):
    # Three co-completers move the ranking just the same, but are too few to tell the member.
    with _co_completion_store(tmp_path / "s", peers=3) as eng:
        assert eng.collaborative().co_completers("a", "ta") == 3
        assert [h.item.id for h in eng.rank("m1", day=DAY)][0] == "ta"
        entry = next(e for e in eng.daily("m1", day=DAY).entries if e.item.id == "ta")
        assert not any("同志也在学" in r or "常学" in r for r in entry.reasons), entry.reasons


def test_a_path_never_says_others_who_studied_an_item_an_earlier_day_only_plans(tmp_path):
    # m9 has studied nothing: the path plans b, then tb (b's co-completion), then a, then ta.
    with _co_completion_store(tmp_path / "s", peers=5) as eng:
        days = eng.path("m9", start=DAY, days=4, minutes=10).days
        assert [[e.item.id for e in d.entries] for d in days] == [["b"], ["tb"], ["a"], ["ta"]]
        assert not [r for d in days for e in d.entries for r in e.reasons if "同志也在学" in r]
        # What m1 did study is still said.
        entry = next(e for e in eng.daily("m1", day=DAY).entries if e.item.id == "ta")
        assert "学过《红色家书选读》的同志也在学这一内容" in entry.reasons


def test_role_popularity_counts_the_members_of_the_role_behind_it():
    roles = {f"s{n}": ["branch_secretary"] for n in range(6)} | {"f1": ["frontline"]}
    rows = [(f"s{n}", "s", "complete", None) for n in range(6)] + [("s0", "f", "complete", None),
                                                                   ("f1", "f", "complete", None)]
    model = CollaborativeModel().fit(rows, roles)
    assert model.role_completers("branch_secretary", "s") == 6
    assert model.role_completers("branch_secretary", "f") == 1
    assert model.role_completers("frontline", "s") == 0
    assert model.role_completers("nobody", "s") == 0 and model.role_completers("frontline", "zz") == 0


def test_role_popularity_follows_the_members_of_the_role():
    # Secretaries complete s, frontline workers f; a member holding only one role is scored by it.
    roles = {"s1": ["branch_secretary"], "s2": ["branch_secretary"], "f1": ["frontline"], "f2": ["frontline"]}
    rows = [("s1", "s", "complete", None), ("s2", "s", "complete", None),
            ("f1", "f", "complete", None), ("f2", "f", "complete", None), ("f2", "f", "skip", None)]
    model = CollaborativeModel(role_prior=1.0).fit(rows, roles)
    secretary, best = model.role_popularity(["branch_secretary"], ["s", "f", "unknown"])
    assert secretary[0] > secretary[1] > 0 and secretary[2] == 0 and best[0] == "branch_secretary"
    frontline, _ = model.role_popularity(["frontline"], ["s", "f"])
    assert frontline[1] > frontline[0]
    assert model.role_top(["frontline"], 1) == ["f"]


def test_only_positive_events_count():
    rows = [("m1", "a", "complete", None), ("m1", "b", "skip", None), ("m1", "c", "rate", 2.0),
            ("m1", "d", "progress", 0.5), ("m1", "e", "rate", 5.0), ("m1", "f", "progress", 1.0)]
    model = CollaborativeModel().fit(rows, {"m1": ["member"]})
    assert model.item_ids_ == ["a", "e", "f"]


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=64))
def test_snapshots_never_run_ahead_and_lag_by_a_bounded_share(last, resolution):
    bound = snapshot_seq(last, resolution)
    assert 0 <= bound <= last
    assert last - bound <= 2 * last / resolution  # the step is a power of two near last/resolution
    assert snapshot_seq(bound, resolution) == bound  # a snapshot is its own snapshot


def test_snapshot_seq_rejects_nonsense():
    with pytest.raises(ValidationError):
        snapshot_seq(-1)


def _fill_until(eng: Engine, done) -> None:
    """Record filler events (another member starting an item) until ``done(seq)`` holds."""
    n = 0
    while not done(eng.store.revisions().activity):
        eng.record([Event("m9", "x4", "start", at(DAY - dt.timedelta(days=4)), id=f"fill{n}")])
        n += 1


def test_same_store_state_gives_the_same_list_also_after_events_below_the_snapshot(tmp_path):
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        # Stand exactly on a snapshot whose next boundary is more than one event away.
        _fill_until(eng, lambda s: s >= 40 and snapshot_seq(s) == s and snapshot_seq(s + 1) == s)
        before = [h.item.id for h in eng.rank("m1", day=DAY)]
        key = snapshot_seq(eng.store.revisions().activity)
        assert [h.item.id for h in eng.rank("m1", day=DAY)] == before
        # A peer's co-completion of a and tb, below the next boundary: the model does not move.
        eng.record([Event("m8", "a", "complete", at(DAY - dt.timedelta(days=3)), id="late")])
        assert snapshot_seq(eng.store.revisions().activity) == key
        assert "a" not in dict(eng.collaborative().similar_items("tb"))
        assert [h.item.id for h in eng.rank("m1", day=DAY)] == before
        # Serving lists records impressions, which move no snapshot either.
        eng.daily("m2", day=DAY)
        assert snapshot_seq(eng.store.revisions().activity) == key
    with Engine.open(path) as reopened:  # a new engine on the same store builds the same model
        assert [h.item.id for h in reopened.rank("m1", day=DAY)] == before
        _fill_until(reopened, lambda s: snapshot_seq(s) > key)
        assert "a" in dict(reopened.collaborative().similar_items("tb"))


def test_member_role_changes_rebuild_the_model(tmp_path):
    with _co_completion_store(tmp_path / "s") as eng:
        assert "cadre" not in eng.collaborative().roles_
        eng.upsert_members([member("m2", roles=("member", "cadre"))])
        assert "cadre" in eng.collaborative().roles_


def _no_fit(monkeypatch) -> None:
    """From here on, building the model fails the test: it must be read from the store."""
    def fit(self, *args, **kwargs):
        raise AssertionError("the collaborative model was built, not read from the store")

    monkeypatch.setattr(CollaborativeModel, "fit", fit)


def _same_model(a: CollaborativeModel, b: CollaborativeModel) -> bool:
    return (a.item_ids_ == b.item_ids_ and a.n_pairs_ == b.n_pairs_
            and (a.neighbours_ != b.neighbours_).nnz == 0 and (a.co_counts_ != b.co_counts_).nnz == 0
            and sorted(a.roles_) == sorted(b.roles_)
            and all((a.roles_[r] == b.roles_[r]).all() and (a.role_done_[r] == b.role_done_[r]).all() for r in a.roles_)
            and (a.completers_ == b.completers_).all() and (a.overall_ == b.overall_).all())


def test_another_process_reads_the_model_the_first_built_and_plans_the_same_lists(tmp_path, monkeypatch):
    """A batch's workers and a restarted service read the model the store keeps instead of each
    building it again (seconds to minutes on a large store)."""
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        ranked = [(h.item.id, h.score) for h in eng.rank("m1", day=DAY)]
        built = eng.collaborative()
    assert ARTEFACT in Engine.open(path).store.artefact_names()
    _no_fit(monkeypatch)
    with Engine.open(path) as again:
        assert [(h.item.id, h.score) for h in again.rank("m1", day=DAY)] == ranked
        assert _same_model(again.collaborative(), built)
        assert again.collaborative().co_completers("a", "ta") == 3  # what the reasons read, kept too


def test_a_kept_model_is_not_read_once_members_changed_since(tmp_path, monkeypatch):
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        assert "cadre" not in eng.collaborative().roles_
        eng.upsert_members([member("m2", roles=("member", "cadre"))])  # written, no list planned since
    with Engine.open(path) as again:
        assert "cadre" in again.collaborative().roles_


def test_a_damaged_kept_model_is_built_again(tmp_path):
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        ranked = [h.item.id for h in eng.rank("m1", day=DAY)]
        found = eng.store.get_artefact(ARTEFACT)
        eng.store.put_artefact(ARTEFACT, found.data[: len(found.data) // 2], found.activity)
    with Engine.open(path) as again:
        assert [h.item.id for h in again.rank("m1", day=DAY)] == ranked
        assert again.collab_build_seconds > 0  # built, not read


def test_a_store_that_cannot_keep_the_model_still_serves_lists(tmp_path, monkeypatch):
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        def refuse(*args, **kwargs):
            raise StoreError("attempt to write a readonly database")

        monkeypatch.setattr(eng.store, "put_artefact", refuse)
        assert eng.rank("m1", day=DAY)[0].item.id == "ta"
        assert eng.store.get_artefact(ARTEFACT) is None


def _kept_roles(eng: Engine) -> set[str]:
    """The roles of the collaborative model the store keeps."""
    return set(CollaborativeModel.from_bytes(eng.store.get_artefact(ARTEFACT).data)[0].roles_)


def test_a_model_behind_the_store_serves_while_the_next_is_built_beside_the_requests(tmp_path, monkeypatch):
    """Events and members written move the store past its kept model: the lists go on with the
    kept one (every process alike: it is the store's) while the next is built on the engine's
    own thread, not in a request; once kept, every process plans with it."""
    path = tmp_path / "s"
    with _co_completion_store(path, background_models=True) as eng:
        assert eng.rank("m1", day=DAY)[0].item.id == "ta"  # the first model: built in the request, kept
        gate, fits = threading.Event(), []
        fit = CollaborativeModel.fit

        def held(self, *args, **kwargs):
            fits.append(threading.current_thread().name)
            assert gate.wait(20)
            return fit(self, *args, **kwargs)

        monkeypatch.setattr(CollaborativeModel, "fit", held)
        # Six newcomers complete a with tb: tb becomes a's obvious neighbour.
        newcomers = [f"n{k}" for k in range(6)]
        eng.upsert_members([member(n) for n in newcomers])
        eng.record([Event(n, i, "complete", at(DAY - dt.timedelta(days=2), hour))
                    for n in newcomers for i, hour in (("a", 9), ("tb", 21))])
        during = [h.item.id for h in eng.rank("m1", day=DAY)]  # answered while the build waits
        assert during[0] == "ta"
        waited = time.monotonic() + 20
        while not fits and time.monotonic() < waited:  # the build starts on its own thread
            time.sleep(0.01)
        assert fits and all(name.startswith("recsys-background") for name in fits)
        with Engine.open(path, background_models=True) as other:  # another service process: the kept model too
            assert [h.item.id for h in other.rank("m1", day=DAY)] == during
            gate.set()
        eng._world.settle()
        assert "tb" == eng.rank("m1", day=DAY)[0].item.id
        assert eng.collaborative().co_completers("a", "tb") == 6

    def no_fit(self, *args, **kwargs):
        raise AssertionError("the collaborative model was built, not read from the store")

    monkeypatch.setattr(CollaborativeModel, "fit", no_fit)
    with Engine.open(path) as again:  # kept: read, not built
        assert again.rank("m1", day=DAY)[0].item.id == "tb"


def test_a_build_beside_the_requests_that_fails_is_said_and_tried_again(tmp_path, monkeypatch, caplog):
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        first = [h.item.id for h in eng.rank("m1", day=DAY)]
        fit, fails = CollaborativeModel.fit, [True]

        def flaky(self, *args, **kwargs):
            if fails:
                fails.pop()
                raise StoreError("database is locked")
            return fit(self, *args, **kwargs)

        monkeypatch.setattr(CollaborativeModel, "fit", flaky)
        eng.upsert_members([member("m2", roles=("member", "cadre"))])
        with caplog.at_level("WARNING", logger="recsys.serving.world"):
            assert [h.item.id for h in eng.rank("m1", day=DAY)] == first
            eng._world.settle()
        assert "could not be built again" in caplog.text and "database is locked" in caplog.text
        assert "cadre" not in _kept_roles(eng)
        eng.rank("m1", day=DAY)  # still behind: built again
        eng._world.settle()
        assert "cadre" in _kept_roles(eng)


def test_a_build_that_took_longer_is_not_kept_over_a_later_one(tmp_path, monkeypatch):
    """Two service processes: the one whose build is slower must not put back the model of an
    earlier state; both, and a process opened afterwards, plan with the later one."""
    path = tmp_path / "s"
    with _co_completion_store(path, background_models=True) as first, \
            Engine.open(path, background_models=True) as second:
        first.rank("m1", day=DAY)  # the store's first model, kept
        second.rank("m1", day=DAY)  # read
        gate, held = threading.Event(), []
        fit = CollaborativeModel.fit

        def slow_once(self, *args, **kwargs):
            if not held:  # the first build after this: the second engine's
                held.append(threading.current_thread().name)
                assert gate.wait(20)
            return fit(self, *args, **kwargs)

        monkeypatch.setattr(CollaborativeModel, "fit", slow_once)
        first.record([Event(n, i, "complete", at(DAY - dt.timedelta(days=2), hour))
                      for n in ("m5", "m6") for i, hour in (("a", 9), ("tb", 21))])
        second.rank("m1", day=DAY)  # its build of this state starts, and waits
        waited = time.monotonic() + 20
        while not held and time.monotonic() < waited:
            time.sleep(0.01)
        first.upsert_members([member("m2", roles=("member", "cadre"))])  # the store moves on
        first.rank("m1", day=DAY)
        first._world.settle()  # the first engine's build of the later state, kept
        later = first._world._collab_key
        gate.set()
        second._world.settle()  # the slower build ends: not kept over the later one
        assert CollaborativeModel.extra_of(first.store.get_artefact(ARTEFACT).data, "roster_revision")[0] == later[1]
        second.rank("m1", day=DAY)
        assert second._world._collab_key == later and "cadre" in second.collaborative().roles_
    with Engine.open(path, background_models=True) as third:
        third.rank("m1", day=DAY)
        assert third._world._collab_key == later


def test_a_model_another_process_kept_for_the_same_state_is_read_not_built(tmp_path, monkeypatch):
    """Two workers of a service find the store moved at once: the one whose build starts after
    the other kept the model reads it instead of building it again."""
    path = tmp_path / "s"
    with _co_completion_store(path, background_models=True) as first, \
            Engine.open(path, background_models=True) as second:
        first.rank("m1", day=DAY)
        second.rank("m1", day=DAY)
        first.upsert_members([member("m2", roles=("member", "cadre"))])
        gate = threading.Event()
        with second._world._background_lock:  # the second's thread busy: its build waits its turn
            second._world._executor().submit(gate.wait, 20)
        second.rank("m1", day=DAY)  # behind: its build is started, and waits
        first.rank("m1", day=DAY)
        first._world.settle()  # the first builds it and keeps it meanwhile
        fits = []
        fit = CollaborativeModel.fit
        monkeypatch.setattr(CollaborativeModel, "fit", lambda self, *a, **k: fits.append(1) or fit(self, *a, **k))
        gate.set()
        second._world.settle()
        second.rank("m1", day=DAY)
        assert fits == [] and second._world._collab_key == first._world._collab_key
        assert "cadre" in second.collaborative().roles_


def test_a_large_stores_build_beside_the_requests_runs_in_a_process_of_its_own(tmp_path, monkeypatch):
    """From ``build_apart_from`` events on, the build beside the requests reads the events in a
    child process (this process never fits), and keeps the same bytes a fit here would give."""
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        eng.rank("m1", day=DAY)  # the store's first model: built in the request, kept
        eng._world.build_apart_from = 0  # every build apart, as on a store of a million events
        fit = CollaborativeModel.fit

        def not_here(self, *args, **kwargs):
            raise AssertionError("the collaborative model was built in the serving process")

        monkeypatch.setattr(CollaborativeModel, "fit", not_here)
        newcomers = [f"n{k}" for k in range(6)]
        eng.upsert_members([member(n, roles=("member", "cadre")) for n in newcomers])
        eng.record([Event(n, i, "complete", at(DAY - dt.timedelta(days=2), hour))
                    for n in newcomers for i, hour in (("a", 9), ("tb", 21))])
        eng.rank("m1", day=DAY)  # behind: the next one is started apart
        eng._world.settle()
        assert eng.rank("m1", day=DAY)[0].item.id == "tb"
        assert eng.collaborative().co_completers("a", "tb") == 6 and "cadre" in eng.collaborative().roles_
        kept = eng.store.get_artefact(ARTEFACT)
        monkeypatch.setattr(CollaborativeModel, "fit", fit)
        roster = CollaborativeModel.extra_of(kept.data, "roster_revision")
        here = fit_collaborative(eng.store, (kept.activity, int(roster[0])))
        assert here.to_bytes(roster_revision=roster) == kept.data


def test_a_build_apart_that_fails_leaves_the_kept_model_serving_and_is_tried_again(tmp_path, caplog):
    """The child cannot open the store (here: the URL it is given names none): the warning says
    why, the lists go on with the kept model, and the next request that finds it behind tries
    again (and, the store found again, keeps the new one)."""
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        eng.rank("m1", day=DAY)
        kept = eng._world._collab_key
        world = eng._world
        world.build_apart_from, url = 0, world.url
        world.url = str(tmp_path / "moved-away")
        eng.upsert_members([member("m2", roles=("member", "cadre"))])
        with caplog.at_level("WARNING", logger="recsys.serving.world"):
            assert eng.rank("m1", day=DAY)  # served, with the kept model; the build started
            world.settle()
        assert "could not be built again" in caplog.text and "moved-away" in caplog.text
        assert world._collab_key == kept and eng.rank("m1", day=DAY)
        world.url = url
        eng.rank("m1", day=DAY)  # still behind: built again, apart
        world.settle()
        assert world._collab_key != kept and "cadre" in _kept_roles(eng)


def test_closing_an_engine_stops_its_build_apart_rather_than_wait(tmp_path, monkeypatch, caplog):
    """A child that would take minutes (here: it sleeps as it starts) is killed by close(),
    which returns at once and says nothing of a failed build."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text("import time\ntime.sleep(300)\n")
    with caplog.at_level("WARNING", logger="recsys.serving.world"):
        with _co_completion_store(tmp_path / "s", background_models=True) as eng:
            eng.rank("m1", day=DAY)
            eng._world.build_apart_from = 0
            monkeypatch.syspath_prepend(str(slow))  # the child's path is this process's
            eng.upsert_members([member("m2", roles=("member", "cadre"))])
            eng.rank("m1", day=DAY)  # behind: the build apart starts
            waited = time.perf_counter()
            while eng._world._apart._child is None and time.perf_counter() - waited < 20:
                time.sleep(0.05)
            child = eng._world._apart._child
            assert child is not None
            closing = time.perf_counter()
        assert time.perf_counter() - closing < 15 and child.poll() is not None
    assert "could not be built again" not in caplog.text


def test_a_store_in_memory_is_built_here_whatever_its_size(monkeypatch):
    """No other process can open a store kept in memory: a child would read an empty one."""
    with _co_completion_store("memory://", background_models=True) as eng:
        eng.rank("m1", day=DAY)
        eng._world.build_apart_from = 0

        def not_apart(*args, **kwargs):
            raise AssertionError("a store in memory was built in another process")

        monkeypatch.setattr(Builds, "run", not_apart)
        eng.upsert_members([member(f"n{k}") for k in range(6)])
        eng.record([Event(f"n{k}", i, "complete", at(DAY - dt.timedelta(days=2), hour))
                    for k in range(6) for i, hour in (("a", 9), ("tb", 21))])
        assert eng.collaborative().co_completers("a", "tb") == 6


def test_a_build_apart_reads_an_enterprises_view_as_the_view_does(tmp_path):
    path = tmp_path / "s"
    with _co_completion_store(path) as eng:
        eng.upsert_members([Member(id=f"o{n}", name="x", org="other.b1", daily_minutes=30) for n in range(4)])
        eng.record([Event(f"o{n}", "b", "complete", at(DAY - dt.timedelta(days=1))) for n in range(4)])
        for tenant, view in ((None, eng), ("hx", eng.tenant("hx.b1")), ("other", eng.tenant("other.b1"))):
            revisions = view.store.revisions()
            key = (revisions.activity, revisions.roster)
            data = build_apart(str(path), tenant, key)
            here = fit_collaborative(view.store, key).to_bytes(roster_revision=np.array([key[1]], dtype=np.int64))
            assert data == here
        assert CollaborativeModel.from_bytes(data)[0].co_completers("b", "tb") == 0  # "other" sees its own


def test_a_store_opens_in_another_process_by_a_url_that_can_open_it():
    assert opens_elsewhere("/srv/recsys") and opens_elsewhere("sqlite:///srv/recsys")
    assert opens_elsewhere("postgresql://recsys:s3cret@db:5432/recsys") and opens_elsewhere("postgresql://db/recsys")
    assert not opens_elsewhere("memory://")
    assert not opens_elsewhere("postgresql://recsys:***@db:5432/recsys")  # a store's own url: no password
    assert not opens_elsewhere("postgresql://recsys:x@db:port/recsys")  # not a URL at all


def test_a_child_given_a_malformed_request_says_so_and_ends(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "recsys.serving.builds"], input=b'{"url": "x"}', capture_output=True,
                          check=False)
    assert done.returncode == 2 and not done.stdout
    assert b"not {\"url\", \"tenant\", \"key\"} as JSON" in done.stderr and b"Traceback" not in done.stderr


def test_a_build_apart_that_cannot_read_the_store_is_a_store_error_naming_why(tmp_path):
    with pytest.raises(StoreError, match=r"ended with 1: no store at .*nothing-here"):
        build_apart(str(tmp_path / "nothing-here"), None, (10, 1))


def test_a_model_the_store_could_not_keep_leaves_the_builds_beside_the_requests(tmp_path, monkeypatch, caplog):
    """A write of the model that fails (a lock timed out) is tried again at the next build; the
    builds stay off the requests."""
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        eng.rank("m1", day=DAY)
        put, builders, fails = eng.store.put_artefact, [], [True]

        def flaky_put(*args, **kwargs):
            if fails:
                fails.pop()
                raise StoreError("canceling statement due to lock timeout")
            return put(*args, **kwargs)

        fit = CollaborativeModel.fit
        monkeypatch.setattr(eng.store, "put_artefact", flaky_put)
        monkeypatch.setattr(CollaborativeModel, "fit",
                            lambda self, *a, **k: builders.append(threading.current_thread().name) or fit(self, *a, **k))
        for n, roles in enumerate([("member", "cadre"), ("member", "young")]):
            with caplog.at_level("WARNING", logger="recsys.serving.world"):
                eng.upsert_members([member(f"m{n + 2}", roles=roles)])
                eng.rank("m1", day=DAY)
                eng._world.settle()
        assert "could not be kept" in caplog.text and "lock timeout" in caplog.text
        assert len(builders) == 2 and all(name.startswith("recsys-background") for name in builders)
        assert {"cadre", "young"} <= _kept_roles(eng)  # the second build was kept


def test_a_kept_model_is_not_parsed_again_when_another_model_is_kept(tmp_path, monkeypatch):
    """Every model kept moves the one models revision (each enterprise's, a trained one): while
    its next model is built, a process looks for it at each such move, and does not parse the
    model it holds again when the store still keeps the same bytes."""
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        ranked = [h.item.id for h in eng.rank("m1", day=DAY)]
        gate, fit = threading.Event(), CollaborativeModel.fit
        monkeypatch.setattr(CollaborativeModel, "fit", lambda self, *a, **k: gate.wait(20) and fit(self, *a, **k))
        parsed, read = [], CollaborativeModel.from_bytes
        monkeypatch.setattr(CollaborativeModel, "from_bytes", lambda data: parsed.append(1) or read(data))
        eng.upsert_members([member("m2", roles=("member", "cadre"))])  # behind: the next one is built, and waits
        counts = []
        for n in range(3):
            eng.store.put_artefact(f"other-{n}", b"another model", 0)
            assert [h.item.id for h in eng.rank("m1", day=DAY)] == ranked
            counts.append(len(parsed))
        gate.set()
        # Built here, the held model is read back once from the bytes the store keeps; then never again.
        assert counts == [1, 1, 1]


def test_an_engine_closed_waits_for_the_build_beside_the_requests(tmp_path, monkeypatch):
    with _co_completion_store(tmp_path / "s", background_models=True) as eng:
        eng.rank("m1", day=DAY)
        fit = CollaborativeModel.fit
        monkeypatch.setattr(CollaborativeModel, "fit", lambda self, *a, **k: time.sleep(0.3) or fit(self, *a, **k))
        eng.upsert_members([member("m2", roles=("member", "cadre"))])
        eng.rank("m1", day=DAY)
    # Closed: the build finished and was kept before the store closed under it.
    with Engine.open(tmp_path / "s") as again:
        assert "cadre" in _kept_roles(again)


def test_a_store_opened_read_only_is_not_written_and_nothing_is_said(tmp_path, caplog):
    path = tmp_path / "s"
    _co_completion_store(path).close()
    with Engine.open(path, read_only=True) as eng, caplog.at_level("WARNING"):
        assert eng.rank("m1", day=DAY)
        assert ARTEFACT not in eng.store.artefact_names()
    assert not [r for r in caplog.records if "collaborative" in r.getMessage()]


def _small_model() -> CollaborativeModel:
    return CollaborativeModel().fit(
        [("m1", "a", "complete", None), ("m1", "b", "complete", None), ("m2", "a", "complete", None),
         ("m2", "b", "complete", None), ("m3", "c", "attend", None)],
        {"m1": ["member"], "m2": ["member", "cadre"], "m3": ["member"]})


def test_a_model_written_and_read_back_is_the_same_model():
    model = _small_model()
    again, extra = CollaborativeModel.from_bytes(model.to_bytes(seq=np.array([7])))
    assert _same_model(again, model) and extra["seq"].tolist() == [7]
    assert again.similar_items("a", 1) == model.similar_items("a", 1)
    assert again.role_completers("cadre", "a") == 1 and again.co_completers("a", "b") == 2


@pytest.mark.parametrize("kind", ["collaborative", "ranking"])
def test_a_stored_model_cut_short_is_refused_as_a_model_error(kind):
    """Not an error of the zip reader: the engine then builds the model again (or keeps the
    hand-set blend) instead of failing every list."""
    model = _small_model()
    data = model.to_bytes() if kind == "collaborative" else RankingModel(collaborative=model).to_bytes()
    read = CollaborativeModel.from_bytes if kind == "collaborative" else RankingModel.from_bytes
    with pytest.raises(ModelError, match="cannot be read"):
        read(data[: len(data) // 2])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_model_bytes_are_refused_as_a_model_error_or_read(data):
    """Flipped bytes fail in the zip reader, zlib or numpy in many ways; each must be a
    ModelError (the model is built again, or the hand-set blend kept), never another error."""
    model = _small_model()
    kind = data.draw(st.sampled_from(["collaborative", "ranking"]))
    raw = bytearray(model.to_bytes() if kind == "collaborative" else RankingModel(collaborative=model).to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    read = CollaborativeModel.from_bytes if kind == "collaborative" else RankingModel.from_bytes
    try:
        read(bytes(raw))
    except ModelError:
        pass
    # The key of a kept model, read alone before a write: an array or None, never an error.
    extra = CollaborativeModel.extra_of(bytes(raw), "roster_revision")
    assert extra is None or isinstance(extra, np.ndarray)


def test_an_extra_array_is_read_without_the_model():
    data = _small_model().to_bytes(roster_revision=np.array([7]))
    assert CollaborativeModel.extra_of(data, "roster_revision").tolist() == [7]
    assert CollaborativeModel.extra_of(data, "seq") is None
    assert CollaborativeModel.extra_of(b"not a model", "roster_revision") is None


def test_an_array_file_that_is_no_model_is_refused_as_a_model_error():
    import io

    lone = io.BytesIO()
    np.save(lone, np.arange(3))
    for read in (CollaborativeModel.from_bytes, RankingModel.from_bytes):
        with pytest.raises(ModelError):
            read(lone.getvalue())


# -- reviews per day --------------------------------------------------------------------------

QUIZZES = [item(f"q{n}", f"党史小测第{n}套", kind="quiz", minutes=5) for n in range(1, 4)]
READING = [item(f"r{n}", f"党史读本第{n}章", minutes=10) for n in range(1, 6)]


def _reviews_in_list(tmp_path, per_day: int) -> int:
    eng = Engine.open(tmp_path / f"cap{per_day}", encoder="tfidf")
    cur = eng.curriculum
    eng.curriculum = dataclasses.replace(cur, mastery_feedback=True,  # reviews come back only with it on
                                         mastery=dataclasses.replace(cur.mastery, reviews_per_day=per_day))
    with eng:
        eng.add_items(QUIZZES + READING)
        eng.upsert_members([member("m1")])
        # Three quizzes missed the same day: all three are due for review the next day.
        eng.record([Event("m1", q.id, "quiz", at(DAY - dt.timedelta(days=1)), value=0.3) for q in QUIZZES])
        assert len(eng.progress("m1", day=DAY).reviews) == 3
        lst = eng.daily("m1", day=DAY, minutes=60)
        return sum(e.review for e in lst.entries)


def test_reviews_per_day_caps_the_reviews_in_a_list(tmp_path):
    assert Curriculum().mastery_feedback is False  # off by default: measured to help no outcome
    assert _reviews_in_list(tmp_path, 3) == 3  # with room for all, all come back ...
    assert _reviews_in_list(tmp_path, 1) == 1  # ... the default lets one through ...
    assert _reviews_in_list(tmp_path, 0) == 0  # ... and 0 turns reviews off in the lists


def test_a_review_the_day_cannot_hold_leaves_the_days_review_to_one_it_can(tmp_path):
    # Two quizzes alike but for their length, both missed: the longer ranks first (ties go by
    # id), but the day cannot hold it, so the one review a day is the other.
    eng = Engine.open(tmp_path / "s", encoder="tfidf")
    eng.curriculum = dataclasses.replace(eng.curriculum, mastery_feedback=True)
    with eng:
        eng.add_items([item("a-long", "党史小测", kind="quiz", minutes=40), item("b-short", "党史小测", kind="quiz", minutes=5),
                       *READING])
        eng.upsert_members([member("m1")])
        eng.record([Event("m1", q, "quiz", at(DAY - dt.timedelta(days=1)), value=0.3) for q in ("a-long", "b-short")])
        reviews = [e.item.id for e in eng.daily("m1", day=DAY, minutes=60, preview=True).entries if e.review]
        assert reviews == ["a-long"]  # a day that holds it: the cap keeps the first
        reviews = [e.item.id for e in eng.daily("m1", day=DAY + dt.timedelta(days=1), minutes=30, preview=True).entries
                   if e.review]
        assert reviews == ["b-short"]


def test_reviews_per_day_is_configurable_in_json():
    assert Curriculum().mastery.reviews_per_day == 1
    cur = Curriculum.from_dict({"mastery": {"reviews_per_day": 2}})
    assert cur.mastery.reviews_per_day == 2 and Curriculum.from_dict(cur.to_dict()) == cur
    assert Curriculum.from_dict({"mastery": {"reviews_per_day": 0}}).mastery.reviews_per_day == 0
    with pytest.raises(ValidationError) as caught:
        Curriculum.from_dict({"mastery": {"reviews_per_day": -1}}, source="cur.json")
    assert caught.value.field == "mastery.reviews_per_day"


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 14)), max_size=120),
       st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=4))
def test_neighbours_fitted_a_block_at_a_time_equal_those_fitted_at_once(pairs, block, neighbours):
    rows = [(f"m{m}", f"i{i:02d}", "complete", None) for m, i in pairs]
    roles = {f"m{m}": ["member"] for m in range(12)}
    whole = CollaborativeModel(neighbours=neighbours, block=10**9).fit(rows, roles)
    parts = CollaborativeModel(neighbours=neighbours, block=block).fit(rows, roles)
    for name in ("neighbours_", "co_counts_"):
        a, b = getattr(whole, name), getattr(parts, name)
        assert a.shape == b.shape and (a.indptr == b.indptr).all() and (a.indices == b.indices).all()
        assert (a.data == b.data).all() and a.data.dtype == b.data.dtype


def test_an_item_is_never_its_own_neighbour_and_each_keeps_its_best():
    # Known answer: a and b are completed by the same three members, c by one of them.
    rows = [(m, i, "complete", None) for m in ("m1", "m2", "m3") for i in ("a", "b")] + [("m1", "c", "complete", None)]
    model = CollaborativeModel(neighbours=1, block=1).fit(rows, {})
    assert model.related_top({"a": 1.0}, 5) == ["b"] and model.related_top({"c": 1.0}, 5) == ["a"]
    assert model.co_completers("a", "b") == 3 and model.co_completers("a", "a") == 0
