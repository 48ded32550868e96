"""``Engine.train`` and ``recsys train``: the model is learnt from the store, kept there, used by
every engine opening the store, and a store without one still serves lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import sys

import numpy as np
import pytest

from recsys import AmbiguousIdError, Engine, Event, Item, Member
from recsys.exceptions import ValidationError
from recsys.models import RankingModel
from recsys.models.ranking import ARTEFACT, standing
from recsys.exceptions import ModelError
from recsys.models.training import NotEnoughHistory, TrainConfig, _choose, _holdout, _positive_events, is_stale
from recsys.pipeline.collaborative import is_positive
from recsys.pipeline.scoring import PREFERENCE
from recsys.records import TZ
from recsys_cli import main

DAY = dt.date(2026, 6, 10)
GROUPS = 2
PER_GROUP = 20


def at(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def catalogue() -> list[Item]:
    # Titles say nothing of the groups: only behaviour links the items of a group.
    words = ["红色", "基层", "治理", "创新", "服务", "纪律", "历史", "实践", "理论", "作风"]
    return [
        Item(id=f"g{g}-{k:02d}", title=f"{words[k % 10]}{words[(k * 3 + g) % 10]}读本第{g * PER_GROUP + k}册",
             body=f"读本第{g * PER_GROUP + k}册正文。", kind="article", minutes=10, topics=("读书",),
             published=dt.date(2026, 1, 1))
        for g in range(GROUPS) for k in range(PER_GROUP)
    ]


def population(n: int = 40, seed: int = 7) -> tuple[list[Member], list[Event]]:
    """Members of group ``n % 2`` complete a dozen items of their group's half over 40 days."""
    rng = np.random.default_rng(seed)
    members, events = [], []
    for m in range(n):
        g = m % GROUPS
        members.append(Member(id=f"m{m:02d}", name=f"党员{m:02d}", org="b1", roles=("member",), daily_minutes=60))
        picks = rng.choice(PER_GROUP, size=12, replace=False)
        days = np.sort(rng.choice(40, size=12, replace=False))
        for k, d in zip(picks.tolist(), days.tolist()):
            events.append(Event(member=f"m{m:02d}", item=f"g{g}-{k:02d}", kind="complete",
                                at=at(DAY - dt.timedelta(days=40 - d))))
    return members, events


@pytest.fixture
def trained_store(tmp_path):
    folder = tmp_path / "store"
    members, events = population()
    with Engine.open(folder, encoder="tfidf") as eng:
        eng.add_items(catalogue())
        eng.upsert_members(members + [Member(id="new", name="新同志", org="b1", roles=("member",),
                                             daily_minutes=60)])
        eng.record(events)
        eng.record([Event(member="new", item=f"g0-{k:02d}", kind="complete", at=at(DAY - dt.timedelta(days=1)))
                    for k in (0, 1, 2)])
    return folder


@pytest.mark.slow
def test_training_is_kept_with_the_store_and_a_reopened_engine_ranks_with_it(trained_store):
    with Engine.open(trained_store) as eng:
        before = [(h.item.id, h.score) for h in eng.rank("new", DAY, k=10)]
        assert eng.ranking_model() is None
        report = eng.train()
        assert report.positive == 40 * 12 + 3 and report.validation_members > 20
        assert report.blend in ("hand", "learned") and report.ndcg_hand is not None
        # Newcomers' blend is measured the same way: the members planned as if without history.
        assert report.cold_blend in ("hand", "learned") and report.cold_ndcg_hand is not None
    with Engine.open(trained_store) as eng:
        model = eng.ranking_model()
        assert model is not None and model.activity == eng.store.revisions().activity
        assert model.ease is not None and model.item_factors is not None
        after = [(h.item.id, h.score) for h in eng.rank("new", DAY, k=10)]
    assert after != before  # the stored model orders the list
    # The member took three items of group 0: the trained model fills the top with the rest of it.
    assert sum(i.startswith("g0-") for i, _ in after) >= 9
    assert sum(i.startswith("g0-") for i, _ in after) >= sum(i.startswith("g0-") for i, _ in before)


@pytest.mark.slow
def test_trained_lists_still_keep_every_rule_and_are_stable(trained_store):
    with Engine.open(trained_store) as eng:
        eng.train()
        lst = eng.daily("new", day=DAY)
        done = {e.item for e in eng.events("new") if e.kind == "complete"}
        ids = [e.item.id for e in lst.entries]
        assert ids and not done & set(ids) and len(ids) == len(set(ids))
        assert lst.minutes <= 60 and all(e.reasons for e in lst.entries)
        assert eng.daily("new", day=DAY) == lst
        assert eng.daily_many(["new", "m00"], day=DAY)[0] == lst


def test_a_store_without_enough_history_serves_lists_without_a_model(tmp_path):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(catalogue())
        eng.upsert_members([Member(id="m1", name="张伟", org="b1", roles=("member",), daily_minutes=30)])
        eng.record([Event(member="m1", item="g0-00", kind="complete", at=at(DAY - dt.timedelta(days=2)))])
        with pytest.raises(NotEnoughHistory, match="fewer than the 50") as caught:
            eng.train()
        assert isinstance(caught.value, ValidationError)
        assert eng.store.get_artefact(ARTEFACT) is None and eng.ranking_model() is None
        assert eng.daily("m1", day=DAY).entries


def test_an_unreadable_model_falls_back_to_the_hand_set_blend(tmp_path):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(catalogue())
        eng.upsert_members([Member(id="m1", name="张伟", org="b1", roles=("member",), daily_minutes=30)])
        eng.store.put_artefact(ARTEFACT, b"not a model", 0)
        assert eng.ranking_model() is None
        assert eng.daily("m1", day=DAY).entries


@pytest.mark.slow
def test_the_model_round_trips_through_bytes(trained_store):
    with Engine.open(trained_store) as eng:
        eng.train(TrainConfig(ease_l2=(50.0,)))
        model = eng.ranking_model()
    again = RankingModel.from_bytes(model.to_bytes())
    history = {"g0-00": 1.0, "g0-01": 0.5}
    pos = np.arange(len(model.collaborative.item_ids_))
    for a, b in zip(model.scores_at(history, pos), again.scores_at(history, pos)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert again.top_at(history, 5).tolist() == model.top_at(history, 5).tolist()
    assert (again.blend is None) == (model.blend is None) and again.info == model.info
    # What the reasons rest on survives too.
    c, d = model.collaborative, again.collaborative
    assert (c.co_counts_ != d.co_counts_).nnz == 0 and c.co_counts_.nnz > 0
    assert c.role_done_.keys() == d.role_done_.keys()
    assert all(np.array_equal(c.role_done_[r], d.role_done_[r]) for r in c.role_done_)


def test_staleness_follows_the_activity_snapshots():
    assert is_stale(None, 0)
    assert not is_stale(1000, 1000) and not is_stale(1000, 1010)
    assert is_stale(1000, 1100)


@pytest.mark.slow
def test_the_train_command(trained_store, tmp_path, capsys):
    assert main(["train", "--store", str(tmp_path / "missing")]) == 2
    assert "no store" in capsys.readouterr().err.lower() and not (tmp_path / "missing").exists()
    assert main(["train", "--store", str(trained_store)]) == 0
    out = capsys.readouterr().out
    assert "trained on 483 positive pairs" in out and "NDCG@10" in out
    assert main(["train", "--store", str(trained_store), "--if-stale"]) == 0
    assert "current" in capsys.readouterr().out
    # The enterprise's own model: the whole store's, which serves it meanwhile, is not its own.
    assert main(["train", "--store", str(trained_store), "--tenant", "b1", "--if-stale"]) == 0
    assert "trained on 483 positive pairs" in capsys.readouterr().out
    # Trees asked for, but this small store's members have too few targets for them.
    assert main(["train", "--store", str(trained_store), "--trees", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["trained"] is True and trained["blend_model"] in (None, "logistic")
    # A script reading --json gets JSON whatever happened.
    assert main(["train", "--store", str(trained_store), "--if-stale", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"trained": False, "reason": "current"}
    small = tmp_path / "small"
    with Engine.open(small, encoder="tfidf") as eng:
        eng.add_items(catalogue())
    assert main(["train", "--store", str(small)]) == 0  # not an error: lists keep the hand-set weights
    assert "not trained" in capsys.readouterr().err
    assert main(["train", "--store", str(small), "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["trained"] is False and "not trained" in said.err


def test_the_nightly_batch_trains_first_when_stale_unless_told_not_to(trained_store, tmp_path, capsys):
    import shutil

    untouched = tmp_path / "untouched"
    shutil.copytree(trained_store, untouched)
    assert main(["batch", "--store", str(untouched), "--day", DAY.isoformat(), "--no-train"]) == 0
    assert "trained" not in capsys.readouterr().out
    with Engine.open(untouched) as eng:
        assert eng.store.get_artefact(ARTEFACT) is None  # lists served, no model made
    with Engine.open(trained_store) as eng:
        assert eng.model_stale()
    assert main(["batch", "--store", str(trained_store), "--day", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    # Said before the minutes it takes at a large group's scale, then what it learnt.
    assert out.index("training the ranking model before the lists") < out.index("ranking model trained on 483")
    with Engine.open(trained_store) as eng:
        assert eng.ranking_model() is not None and not eng.model_stale()
    nextday = (DAY + dt.timedelta(days=1)).isoformat()
    assert main(["batch", "--store", str(trained_store), "--day", nextday]) == 0  # current: not again
    assert "ranking model" not in capsys.readouterr().out


@pytest.mark.slow
def test_whether_members_go_back_to_what_they_started_is_learnt_from_the_history(tmp_path):
    # Every member opens four items of the other group, reads a little and never goes back: the
    # hand-set blend still offers them first ("continue where you left off"); a store whose
    # history says otherwise learns to weigh a started item down.
    members, events = population()
    rng = np.random.default_rng(3)
    for m in members:
        other = 1 - int(m.id[1:]) % GROUPS
        for k in rng.choice(PER_GROUP, size=4, replace=False).tolist():
            when = at(DAY - dt.timedelta(days=int(rng.integers(20, 40))))
            events += [Event(member=m.id, item=f"g{other}-{k:02d}", kind="start", at=when),
                       Event(member=m.id, item=f"g{other}-{k:02d}", kind="progress", value=0.2,
                             at=when + dt.timedelta(minutes=3))]
    with Engine.open(tmp_path / "store", encoder="tfidf") as eng:
        eng.add_items(catalogue())
        eng.upsert_members(members)
        eng.record(events)
        started = {e.item for e in eng.events("m00") if e.kind == "start"} - {
            e.item for e in eng.events("m00") if e.kind == "complete"}
        hand = [h.item.id for h in eng.rank("m00", DAY, k=10)]
        report = eng.train()
        trained = [h.item.id for h in eng.rank("m00", DAY, k=10)]
    assert report.blend == "learned" and report.coef["resume"] < 0
    assert len(started & set(hand)) > len(started & set(trained))


@pytest.mark.slow
def test_a_member_without_history_keeps_the_hand_set_blend_on_a_trained_store(trained_store):
    # The learned blend is fitted on members with history; a newcomer has none of the signals it
    # leans on, so without a blend learnt for newcomers their list keeps the hand-set weights:
    # the same as from the same model with its blend taken out.
    with Engine.open(trained_store) as eng:
        eng.upsert_members([Member(id="newest", name="刚入党的同志", org="b1", roles=("member",), daily_minutes=60)])
        report = eng.train(TrainConfig(cold_blend=False))
        model = eng.ranking_model()
        assert report.blend == "learned" and model.blend is not None and model.cold_blend is None
        newcomer = [(h.item.id, h.score) for h in eng.rank("newest", DAY, k=20)]
        member = [(h.item.id, h.score) for h in eng.rank("new", DAY, k=20)]
        model.blend = None
        assert [(h.item.id, h.score) for h in eng.rank("newest", DAY, k=20)] == newcomer
        assert [(h.item.id, h.score) for h in eng.rank("new", DAY, k=20)] != member


def two_enterprises(folder, prefix: bool = False) -> None:
    """hxny and zjjt each hold members m00-m39 and items g0-00...g1-19 of their own, under the
    same ids (``prefix``: ids led by the enterprise's first letter, so no id is shared). In hxny
    a group's members complete that group's items; in zjjt the items are dealt out otherwise:
    group 0's members complete g0-00...09 and g1-00...09."""
    members, events = population()

    def dealt(item: str) -> str:
        g, k = int(item[1]), int(item[3:])
        return f"g{k % 2}-{g * 10 + k // 2:02d}"

    with Engine.open(folder, encoder="tfidf") as eng:
        for tenant, name in (("hxny", str), ("zjjt", dealt)):
            lead = tenant[0] if prefix else ""
            view = eng.tenant(tenant)
            view.add_items([dataclasses.replace(i, id=lead + i.id, org=tenant) for i in catalogue()])
            view.upsert_members([dataclasses.replace(m, id=lead + m.id, org=f"{tenant}.b1") for m in members])
            view.record([dataclasses.replace(e, member=lead + e.member, item=lead + name(e.item)) for e in events])


@pytest.mark.slow
def test_each_enterprise_trains_its_own_model_from_its_own_members(tmp_path):
    two_enterprises(tmp_path / "store")
    with Engine.open(tmp_path / "store") as eng:
        # One member id in two enterprises: the whole store cannot tell their histories apart.
        with pytest.raises(AmbiguousIdError, match=r"engine.tenant\('hxny'\)"):
            eng.train()
        hxny, zjjt = eng.tenant("hxny"), eng.tenant("zjjt")
        before = zjjt.daily("m00", DAY, preview=True)
        report = hxny.train()
        assert (report.members, report.items, report.positive) == (40, 40, 40 * 12)
        assert hxny.ranking_model() is not None and zjjt.ranking_model() is None
        assert eng.store.get_artefact(ARTEFACT) is None  # nothing under the whole store's name
        assert zjjt.daily("m00", DAY, preview=True) == before  # another enterprise's model moves nothing here
        assert hxny.train(if_stale=True) is None
        second = zjjt.train(if_stale=True)  # stale: it has no model of its own
        assert second.members == 40
        # Each model links the items its own members complete together.
        hxny_related = set(hxny.ranking_model().collaborative.related_top({"g0-00": 1.0}, 8))
        zjjt_related = set(zjjt.ranking_model().collaborative.related_top({"g0-00": 1.0}, 8))
        assert len(hxny_related) == len(zjjt_related) == 8
        assert all(i.startswith("g0-") for i in hxny_related)
        assert zjjt_related <= {f"g{g}-{k:02d}" for g in (0, 1) for k in range(10)}
        assert any(i.startswith("g1-") for i in zjjt_related)
        for view in (hxny, zjjt):
            collab = view.ranking_model().collaborative
            assert collab.completers_.sum() == 40 * 12  # m00-m39 of one enterprise, never 80 merged
    with Engine.open(tmp_path / "store") as eng:  # kept with the store, each under its enterprise
        assert eng.tenant("hxny").ranking_model().info == report.to_dict()
        assert eng.tenant("zjjt").ranking_model().info == second.to_dict()


@pytest.mark.slow
def test_the_whole_store_plans_an_enterprises_members_with_its_own_model_as_its_view_does(tmp_path):
    two_enterprises(tmp_path / "store", prefix=True)
    with Engine.open(tmp_path / "store") as eng:
        whole = eng.train()
        assert whole.members == 80
        hxny, zjjt = eng.tenant("hxny"), eng.tenant("zjjt")
        zjjt_before = [(h.item.id, h.score) for h in zjjt.rank("zm00", DAY, k=10)]
        hxny_before = [(h.item.id, h.score) for h in hxny.rank("hm00", DAY, k=10)]
        own = hxny.train()
        assert own.members == 40 and hxny.ranking_model().info == own.to_dict()
        for member, view in (("hm00", hxny), ("hm01", hxny), ("zm00", zjjt)):
            assert [(h.item.id, h.score) for h in eng.rank(member, DAY, k=10)] == \
                [(h.item.id, h.score) for h in view.rank(member, DAY, k=10)]
            assert eng.daily(member, DAY, preview=True) == view.daily(member, DAY, preview=True)
        assert [(h.item.id, h.score) for h in hxny.rank("hm00", DAY, k=10)] != hxny_before  # its own model now
        assert [(h.item.id, h.score) for h in zjjt.rank("zm00", DAY, k=10)] == zjjt_before  # still the whole store's
        # Staleness is each enterprise's own: zjjt's events do not make hxny's model stale.
        zjjt.record([{"member": f"zm{m:02d}", "item": f"zg1-{k:02d}", "kind": "start", "at": "2026-06-09T20:00:00"}
                     for m in range(40) for k in range(6)])  # the store's log grows by a quarter
        assert hxny.train(if_stale=True) is None
        hxny.batch(DAY)  # the day's lists served: impressions are not what a model learns from
        assert hxny.train(if_stale=True) is None
        hxny.store.whole.put_artefact(hxny.store.own_artefact(ARTEFACT).name, b"damaged", 10**6)
        assert hxny.train(if_stale=True) is not None  # one it cannot read is as good as none
    with Engine.open(tmp_path / "store") as eng:  # a fresh engine, training the whole store in-process
        eng.train(TrainConfig(ease_l2=(50.0,)))
        assert [(h.item.id, h.score) for h in eng.rank("hm00", DAY, k=10)] == \
            [(h.item.id, h.score) for h in eng.tenant("hxny").rank("hm00", DAY, k=10)]


def test_the_whole_store_refuses_to_train_where_an_id_is_two_enterprises_members(tmp_path):
    members, events = population()
    with Engine.open(tmp_path / "store", encoder="tfidf") as eng:
        eng.add_items(catalogue())
        eng.upsert_members(members)
        eng.record(events)
        # zjjt's one member shares an id with one of b1's, and has no history at all.
        eng.tenant("zjjt").upsert_members([Member(id="m05", name="同名", org="zjjt.b", roles=("member",))])
        with pytest.raises(AmbiguousIdError, match=r"member id 'm05' is held by 2 enterprises \(b1, zjjt\)"):
            eng.train()
        assert eng.store.get_artefact(ARTEFACT) is None
        assert eng.tenant("b1").train(TrainConfig(ease_l2=(50.0,))).members == 40


@pytest.mark.slow
def test_a_view_is_served_by_the_whole_store_model_until_it_trains_its_own(trained_store):
    with Engine.open(trained_store) as eng:
        whole = eng.train()
        view = eng.tenant("b1")
        assert view.ranking_model().info == whole.to_dict()  # no model of its own: the whole store's
        assert view.rank("new", DAY, k=10) == eng.rank("new", DAY, k=10)
        own = view.train(TrainConfig(ease_l2=(50.0,)), if_stale=True)  # stale: it has none of its own
        assert own is not None and view.ranking_model().info == own.to_dict()
        assert eng.ranking_model().info == whole.to_dict()  # the whole store's model stays


@pytest.mark.slow
def test_a_model_is_forgotten_and_the_enterprise_goes_back_to_the_whole_stores(trained_store, capsys):
    with Engine.open(trained_store) as eng:
        whole = eng.train(TrainConfig(ease_l2=(50.0,)))
        view = eng.tenant("b1")
        own = view.train(TrainConfig(ease_l2=(250.0,)))
        assert view.ranking_model().info == own.to_dict()
        assert view.forget_model() and not view.forget_model()  # its own only, once
        assert view.ranking_model().info == whole.to_dict()  # back to the whole store's
    assert main(["train", "--store", str(trained_store), "--tenant", "b1", "--forget"]) == 0
    assert "no trained model to remove" in capsys.readouterr().out
    assert main(["train", "--store", str(trained_store), "--forget"]) == 0
    assert "trained model removed" in capsys.readouterr().out
    with Engine.open(trained_store) as eng:
        assert eng.ranking_model() is None and eng.tenant("b1").ranking_model() is None
        assert eng.daily("new", DAY).entries  # lists go on with the hand-set blend


def test_each_member_s_last_day_is_held_out_where_the_store_s_last_days_hold_too_few(tmp_path):
    o = dt.date(2026, 6, 1).toordinal()
    rows = [("a", "x", "complete", None, o - 30), ("a", "y", "complete", None, o - 29),
            ("a", "x", "complete", None, o - 29),  # done again on the last day: no target
            ("b", "x", "complete", None, o - 5),  # one day only: nothing to plan from
            ("c", "z", "complete", None, o - 3), ("c", "y", "complete", None, o)]
    cfg = TrainConfig(validation_days=2, min_members=2)
    # The calendar's last two days hold one member (c): too few, so member by member.
    assert _holdout(rows, cfg) == ("member", {"a": o - 29, "c": o}, {"a": {"y"}, "c": {"y"}})
    assert _holdout(rows, dataclasses.replace(cfg, validation="calendar")) == (
        "calendar", dict.fromkeys("abc", o - 1), {"c": {"y"}})
    assert _holdout(rows, dataclasses.replace(cfg, min_members=1))[0] == "calendar"
    # A young store: the calendar's days hold both members' targets but nothing before them.
    young = [("a", "x", "complete", None, o - 1), ("a", "y", "complete", None, o),
             ("b", "x", "complete", None, o - 1), ("b", "z", "complete", None, o)]
    assert _holdout(young, dataclasses.replace(cfg, validation_days=3)) == (
        "member", {"a": o, "b": o}, {"a": {"y"}, "b": {"z"}})
    # One day a member: member by member finds no one either, so the usual split stands.
    once = [("a", "x", "complete", None, o - 1), ("b", "y", "complete", None, o)]
    assert _holdout(once, cfg)[0] == "calendar"
    assert _holdout(once, dataclasses.replace(cfg, validation="member")) == ("member", {}, {})
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        with pytest.raises(ValidationError, match="validation is 'weekly'"):
            eng.train(TrainConfig(validation="weekly"))


@pytest.mark.slow
def test_a_log_of_bursts_learns_its_blend_member_by_member(tmp_path, monkeypatch):
    # Members study in two sittings three days apart, each member months before the next: the
    # store's last weeks hold a few. In the first sitting they open four items of the other
    # group, read a little and never go back; what they complete in the second is their own
    # group's. Held out by calendar, nothing can be learnt; held out member by member, the blend
    # learns to weigh a started item down.
    import recsys.models.training as training
    import recsys.serving.world as world

    members, events = population()
    events = []
    rng = np.random.default_rng(5)
    second = {}  # member -> (day of the second sitting, what they completed then)
    for n, m in enumerate(members):
        g, first = n % GROUPS, DAY - dt.timedelta(days=20 + 4 * n)
        own = rng.choice(PER_GROUP, size=12, replace=False).tolist()
        second[m.id] = (first + dt.timedelta(days=3), {f"g{g}-{k:02d}" for k in own[8:]})
        events += [Event(member=m.id, item=f"g{g}-{k:02d}", kind="complete",
                         at=at(first if j < 8 else first + dt.timedelta(days=3), 9 + j)) for j, k in enumerate(own)]
        for k in rng.choice(PER_GROUP, size=4, replace=False).tolist():
            events += [Event(member=m.id, item=f"g{1 - g}-{k:02d}", kind="start", at=at(first, 8)),
                       Event(member=m.id, item=f"g{1 - g}-{k:02d}", kind="progress", value=0.2,
                             at=at(first, 8) + dt.timedelta(minutes=3))]
    with Engine.open(tmp_path / "store", encoder="tfidf") as eng:
        eng.add_items([dataclasses.replace(i, published=dt.date(2025, 1, 1)) for i in catalogue()])
        eng.upsert_members(members)
        eng.record(events)
        calendar = eng.train(TrainConfig(validation="calendar"))
        # What the models are fitted on and the day each member is planned on, while training.
        fitted, planned = [], []
        fit, plan = training._fit_models, world.plan_context
        monkeypatch.setattr(training, "_fit_models", lambda rows, *a: fitted.append(list(rows)) or fit(rows, *a))
        monkeypatch.setattr(world, "plan_context", lambda w, s, m, day, *a, **k: planned.append((m.id, day))
                            or plan(w, s, m, day, *a, **k))
        report = eng.train()
    # Each member is planned on the day of their second sitting, from models that never saw it
    # (the served model, fitted last, learns from everything).
    assert planned and all(day == second[m][0] for m, day in planned)
    *validation, served = fitted
    held_out = {(m, i) for m, (_, items) in second.items() for i in items}
    assert validation and all(held_out.isdisjoint((m, i) for m, i, *_ in rows) for rows in validation)
    assert held_out <= {(m, i) for m, i, *_ in served}
    # The store's last two weeks hold four members' last sittings: too few to learn from.
    assert calendar.validation == "calendar" and calendar.validation_members == 4 and calendar.blend == "hand"
    assert report.validation == "member" and report.validation_members == len(members)
    assert report.blend == "learned" and report.coef["resume"] < 0


def test_training_an_empty_store_says_there_is_nothing_to_learn_from(tmp_path):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        with pytest.raises(NotEnoughHistory, match="holds 0 positive events .* fewer than the 1 training needs"):
            eng.train(TrainConfig(min_positive=0))
        assert eng.ranking_model() is None


def candidates_where(rule, members: int = 240, per: int = 40, seed: int = 0):
    """Training examples as the planner gives them: each member's candidates with random
    preference signals, a target where ``rule`` says so, and a hand-set score that knows nothing."""
    rng = np.random.default_rng(seed)
    feats, labels, groups, hand = [], [], [], []
    for m in range(members):
        x = rng.random((per, len(PREFERENCE)))
        feats.append(x)
        labels.append(rule(x).astype(np.float64))
        groups.append(f"m{m:03d}")
        zero = np.zeros(per)
        hand.append((zero, zero, rng.random(per), zero))
    return (feats, labels, groups, hand), {g: n % 3 for n, g in enumerate(groups)}


def test_the_blend_is_chosen_on_every_member_held_out_once():
    # Members take up exactly the items whose first signal is high: a blend fitted on the other
    # folds orders every held-out member's candidates perfectly, the hand-set scores (random) do
    # not; the learned NDCG is over all members, so it is 1 (to rounding).
    found, folds = candidates_where(lambda x: x[:, 0] > 0.8, members=60)
    hand, learned, _, blend = _choose(found, folds, TrainConfig())
    assert blend is not None and learned == pytest.approx(1.0, abs=1e-3) and hand < 0.8
    # A member in no fold is neither fitted on nor held out: with every member but one left out
    # there is nothing to choose with.
    assert _choose(found, {}, TrainConfig())[3] is None
    # Fitted on members whose choices run the other way, the held-out fold is ordered worst first:
    # its members never inform their own held-out scores.
    feats, labels, groups, hand_parts = found
    flipped = [np.array(y, copy=True) for y in labels]
    for n, g in enumerate(groups):
        if folds[g] != 0:
            flipped[n] = (feats[n][:, 0] < 0.2).astype(np.float64)
    only_first = {g: 0 for g in groups if folds[g] == 0}
    only_first.update({g: 1 for g in groups if folds[g] != 0})
    _, learned_flipped, _, _ = _choose((feats, flipped, groups, hand_parts), only_first, TrainConfig())
    assert learned_flipped < 0.5


def test_trees_are_kept_where_a_signal_counts_only_beside_another():
    # Members take an item up when exactly one of two signals is high (and a third is): no weight
    # per signal can say that, trees can. Trees are kept, and order the held-out members better.
    def rule(x):
        return ((x[:, 0] > 0.5) != (x[:, 1] > 0.5)) & (x[:, 2] > 0.6)

    found, fit = candidates_where(rule)
    hand, learned, _, blend = _choose(found, fit, TrainConfig(trees=True, trees_min_positive=100))
    assert blend is not None and blend.trees is not None and learned > hand + 0.3
    _, logistic, _, linear = _choose(found, fit, TrainConfig())  # the default: no trees
    assert linear is not None and linear.trees is None and learned > logistic + 0.2
    # Too few targets for trees to be tried: the logistic model, as without them.
    assert _choose(found, fit, TrainConfig(trees=True, trees_min_positive=10**6))[3].trees is None


def test_trees_read_where_a_candidate_stands_not_the_value():
    assert standing(np.array([[3.0], [1.0], [2.0], [2.0]])).ravel().tolist() == [1.0, 0.0, 0.5, 0.5]
    assert standing(np.array([[7.0, 1.0]])).tolist() == [[0.5, 0.5]]
    # Refitted on more events, the collaborative models give larger values in the same order:
    # the trees order the candidates as before.
    found, fit = candidates_where(lambda x: (x[:, 0] > 0.5) != (x[:, 1] > 0.5), members=120)
    blend = _choose(found, fit, TrainConfig(trees=True, trees_min_positive=0))[3]
    assert blend is not None and blend.trees is not None
    signals = dict(zip(PREFERENCE, found[0][0].T))
    grown = {f: 3.0 * v + 1.0 for f, v in signals.items()}
    np.testing.assert_array_equal(blend.logit(grown, 40), blend.logit(signals, 40))


@pytest.mark.slow
def test_a_blend_of_trees_is_kept_with_the_store_and_a_damaged_one_is_refused(trained_store):
    found, fit = candidates_where(lambda x: (x[:, 0] > 0.5) != (x[:, 1] > 0.5), members=120)
    blend = _choose(found, fit, TrainConfig(trees=True, trees_min_positive=0, scales=(2.0,)))[3]
    assert blend is not None and blend.trees is not None and blend.scale == 2.0
    signals = dict(zip(PREFERENCE, found[0][0].T))
    with Engine.open(trained_store) as eng:
        eng.train(TrainConfig(ease_l2=(50.0,)))
        model = eng.ranking_model()
        model.blend = blend
        eng.store.put_artefact(ARTEFACT, model.to_bytes(), model.activity)
    # A recsys from before trees finds no logistic weights to misread: it keeps the hand-set blend.
    assert "blend_coef" not in np.load(io.BytesIO(model.to_bytes()), allow_pickle=False).files
    with Engine.open(trained_store) as eng:
        again = eng.ranking_model()
        assert again is not None and again.blend.trees == blend.trees and again.blend.scale == 2.0
        np.testing.assert_allclose(again.blend.logit(signals, 40), blend.logit(signals, 40))
        assert eng.daily("m00", day=DAY).entries
    # A model text cut short is refused when read (by its checksum: LightGBM would end the
    # process), so lists keep the hand-set weights rather than fail.
    stored = dict(np.load(io.BytesIO(model.to_bytes()), allow_pickle=False))
    stored["blend_trees"] = np.array(blend.trees[: len(blend.trees) // 2])
    damaged = io.BytesIO()
    np.savez_compressed(damaged, **stored)
    with pytest.raises(ModelError, match="checksum"):
        RankingModel.from_bytes(damaged.getvalue())
    with Engine.open(trained_store) as eng:
        eng.store.put_artefact(ARTEFACT, damaged.getvalue(), model.activity)
    with Engine.open(trained_store) as eng:
        assert eng.ranking_model() is None and eng.daily("m00", day=DAY).entries


def test_where_lightgbm_cannot_load_only_the_trees_are_dropped_and_training_says_so(trained_store, monkeypatch):
    found, fit = candidates_where(lambda x: (x[:, 0] > 0.5) != (x[:, 1] > 0.5), members=120)
    blend = _choose(found, fit, TrainConfig(trees=True, trees_min_positive=0))[3]
    with Engine.open(trained_store) as eng:
        eng.train(TrainConfig(ease_l2=(50.0,)))
        model = eng.ranking_model()
    model.blend = blend
    stored = model.to_bytes()
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now fails, as where it is absent
    again = RankingModel.from_bytes(stored)
    assert again.blend is None and again.ease is not None and again.item_factors is not None
    with Engine.open(trained_store) as eng:
        before = eng.store.get_artefact(ARTEFACT)
        with pytest.raises(ValidationError, match=r"recsys\[trees\]"):
            eng.train(TrainConfig(trees=True))
        assert eng.store.get_artefact(ARTEFACT) == before  # refused before anything was read or stored


def test_training_pages_through_the_log_and_keeps_every_positive_event(trained_store):
    with Engine.open(trained_store) as eng:
        eng.record([Event(member="m01", item="g1-00", kind="rate", value=2.0, at=at(DAY)),
                    Event(member="m01", item="g1-01", kind="progress", value=0.97, at=at(DAY))])
        expected = sorted((e.member, e.item, e.kind, e.value, e.at.astimezone(TZ).date().toordinal())
                          for e in eng.store.events() if is_positive(e.kind, e.value))
        for page in (1, 7, 10_000):  # pages ending mid-member, and one page for everything
            assert sorted(_positive_events(eng.store, page=page)) == expected
    assert len(expected) == 40 * 12 + 3 + 1


@pytest.mark.slow
def test_the_whole_store_batch_keeps_every_enterprise_model_current(trained_store, capsys):
    from recsys.storage.tenant import tenant_artefact

    own = tenant_artefact(ARTEFACT, "b1")
    with Engine.open(trained_store) as eng:
        assert eng.enterprise_models() == []
        eng.train(TrainConfig(ease_l2=(50.0,)))
        eng.tenant("b1").train(TrainConfig(ease_l2=(50.0,)))
        assert eng.enterprise_models() == ["b1"] and eng.tenant("b1").enterprise_models() == ["b1"]
        assert eng.tenant("zjjt").enterprise_models() == []
        trained_at = eng.store.get_artefact(own).activity
        # b1's members go on studying: a tenth more completions, of the other group's items.
        eng.record([Event(member=f"m{m:02d}", item=f"g{1 - m % GROUPS}-{m % PER_GROUP:02d}", kind="complete",
                          at=at(DAY)) for m in range(40)] +
                   [Event(member=f"m{m:02d}", item=f"g{1 - m % GROUPS}-{(m + 7) % PER_GROUP:02d}", kind="complete",
                          at=at(DAY)) for m in range(40)])
    nextday = (DAY + dt.timedelta(days=1)).isoformat()
    assert main(["batch", "--store", str(trained_store), "--day", nextday]) == 0
    out = capsys.readouterr().out
    assert "enterprise b1: ranking model trained" in out
    with Engine.open(trained_store) as eng:
        assert eng.store.get_artefact(own).activity > trained_at
    # Current now: neither is trained again.
    later = (DAY + dt.timedelta(days=2)).isoformat()
    assert main(["batch", "--store", str(trained_store), "--day", later]) == 0
    assert "trained" not in capsys.readouterr().out
    with Engine.open(trained_store) as eng:
        assert eng.tenant("b1").forget_model() and eng.enterprise_models() == []


@pytest.mark.slow
def test_an_enterprise_model_that_cannot_be_read_gives_way_to_the_whole_store_model(trained_store):
    from recsys.storage.tenant import tenant_artefact

    with Engine.open(trained_store) as eng:
        whole = eng.train(TrainConfig(ease_l2=(50.0,)))
        eng.store.put_artefact(tenant_artefact(ARTEFACT, "b1"), b"written by a newer version", 0)
    with Engine.open(trained_store) as eng:
        view = eng.tenant("b1")
        # Both engines plan b1's members with the whole store's model (the view used to fall
        # back to the hand-set blend while the whole store's engine used its model).
        assert view.ranking_model().info == whole.to_dict()
        assert view.rank("new", DAY, k=10) == eng.rank("new", DAY, k=10)
        assert view.daily("new", DAY, preview=True) == eng.daily("new", DAY, preview=True)
        # Unreadable is as good as none: the nightly job trains the enterprise's own again.
        assert view.train(TrainConfig(ease_l2=(50.0,)), if_stale=True) is not None


@pytest.mark.slow
def test_a_model_stored_again_elsewhere_leaves_the_others_as_they_were_read(trained_store):
    with Engine.open(trained_store) as eng, Engine.open(trained_store) as other:
        # b1 holds every member: its own model differs from the whole store's by its ridge alone.
        eng.train(TrainConfig(ease_l2=(50.0,)))
        eng.tenant("b1").train(TrainConfig(ease_l2=(80.0,)))
        own, whole = other.tenant("b1").ranking_model(), other.ranking_model()
        assert own is not None and whole is not None and own.info != whole.info
        # The whole store's model is trained again (another ridge, so other bytes: the same
        # settings give the same bytes whenever training takes as long to the hundredth of a
        # second): the other process reads it anew, and keeps the enterprise's own model as it
        # parsed it (its bytes did not change).
        again = eng.train(TrainConfig(ease_l2=(20.0,)))
        current = other.ranking_model()
        assert current is not whole and current.info == again.to_dict()
        assert other.tenant("b1").ranking_model() is own
        # The same bytes stored again (a copy put back, say): the parsed model is kept.
        stored, revision = eng.store.get_artefact(ARTEFACT), eng.store.revisions().models
        eng.store.put_artefact(ARTEFACT, stored.data, stored.activity)
        assert eng.store.revisions().models > revision and other.ranking_model() is current
        # The enterprise's model is stored anew with other bytes (another ridge), at the same
        # activity: read anew.
        anew = eng.tenant("b1").train(TrainConfig(ease_l2=(5.0,)))
        assert other.tenant("b1").ranking_model() is not own
        assert anew.to_dict() != own.info and other.tenant("b1").ranking_model().info == anew.to_dict()


@pytest.mark.slow
def test_a_process_that_trained_keeps_its_model_when_another_is_stored(trained_store):
    with Engine.open(trained_store) as eng, Engine.open(trained_store) as other:
        eng.train(TrainConfig(ease_l2=(50.0,)))
        mine = eng.ranking_model()
        view = eng.tenant("b1")
        view.train(TrainConfig(ease_l2=(80.0,)))
        own = view.ranking_model()
        # Another process stores b1's model anew: this one reads that, and parses neither the
        # whole store's model it trained nor anything else it holds as stored.
        other.tenant("b1").train(TrainConfig(ease_l2=(5.0,)))
        assert eng.ranking_model() is mine
        assert view.ranking_model() is not own and view.ranking_model().info["ease_l2"] == 5.0
        # b1's view trained its own model too: kept as parsed when the whole store's is stored anew.
        view.train(TrainConfig(ease_l2=(20.0,)))
        own = view.ranking_model()
        other.train(TrainConfig(ease_l2=(300.0,)))
        assert view.ranking_model() is own and eng.ranking_model() is not mine


def test_the_blend_needs_two_folds_at_least(tmp_path):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        with pytest.raises(ValidationError, match="folds is 1"):
            eng.train(TrainConfig(folds=1))
