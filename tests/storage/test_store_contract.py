"""The storage contract: every backend answers these known-answer tests the same way.

The ``store`` fixture (``conftest.py``) runs each test against every backend; a new backend only
adds itself there. Fixtures are tiny and hand-built so the right answer is obvious by construction.
"""

from __future__ import annotations

import inspect

import datetime as dt
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import AmbiguousIdError, ConflictError, Event, Item, Member, Schedule, StoreError, ValidationError
from recsys.records import TZ
from recsys.storage import (
    EmbeddingCache,
    History,
    MemberRemoval,
    MemoryStore,
    Revisions,
    ServedList,
    SQLiteStore,
    Store,
    member_state,
    open_store,
    text_hash,
)

DIM = 4
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
DAY = dt.date(2026, 3, 2)


def item(id_: str, title: str | None = None, **fields) -> Item:
    fields.setdefault("kind", "article")
    fields.setdefault("minutes", 10)
    fields.setdefault("published", dt.date(2026, 1, 1))
    return Item(id=id_, title=title or f"学习材料{id_}", body=f"{id_}的正文", **fields)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def member(id_: str, org: str = "b1", roles: tuple[str, ...] = ("member",)) -> Member:
    return Member(id=id_, name=f"党员{id_}", org=org, roles=roles)


def event(member_: str, item_: str, kind: str, minutes: float = 0, id_: str | None = None,
          value: float | None = None) -> Event:
    return Event(member=member_, item=item_, kind=kind, at=T0 + dt.timedelta(minutes=minutes), value=value, id=id_)


def served(member_: str, day: dt.date, request: str = "minutes=30", items: tuple[str, ...] = ("a",),
           state: str = "0:0") -> ServedList:
    payload = {"member": member_, "day": day.isoformat(), "entries": [{"item": {"id": i}, "score": 0.5} for i in items]}
    return ServedList(member_, day, request, state, payload, 1767225600.25)


def test_a_fresh_store_follows_the_protocol_and_is_empty(store):
    assert isinstance(store, Store)
    assert isinstance(store.embedding_cache(), EmbeddingCache)
    assert store.revisions() == Revisions(items=0, members=0, activity=0)
    assert (store.count_items(), store.count_members(), store.count_events()) == (0, 0, 0)
    assert list(store.iter_items()) == [] and list(store.iter_members()) == []
    assert store.history("m1") == History(events=[], state="0:0")


# -- items ----------------------------------------------------------------------------------


def test_items_round_trip_with_vectors_bit_exact(store):
    offline = item(
        "act", kind="activity", mode="offline", org="b1", topics=("党史",), roles=("cadre",), level=2,
        schedule=Schedule(starts=T0, ends=T0 + dt.timedelta(hours=2), location="上海", capacity=30),
    )
    items = [
        item("b", topics=("廉洁从业", "党章"), expires=dt.date(2026, 12, 31), requires=("a",)),
        item("a"),
        offline,
    ]
    x = vectors(3)
    x[0, :] = [np.float32(1 / 3), -0.0, np.float32(1e-42), np.float32(-7.25)]  # third is subnormal
    rev = store.upsert_items(items, x)

    assert store.get_items(["a", "b", "act"]) == {it.id: it for it in items}
    assert [it.id for it in store.iter_items()] == ["a", "act", "b"]
    assert store.count_items() == 3
    assert store.item_hashes(["a", "b", "act"]) == {it.id: text_hash(it) for it in items}
    changes = store.item_changes(0, DIM)
    assert changes.rev == rev == store.revisions().items
    got = {it.id: (it, v) for it, v in changes.upserted}
    for it, row in zip(items, x):
        assert got[it.id][0] == it
        assert got[it.id][1].dtype == np.float32 and got[it.id][1].tobytes() == row.tobytes()


def test_unknown_ids_are_left_out_never_an_error(store):
    store.upsert_items([item("a")], vectors(1))
    store.upsert_members([member("m1")])
    assert store.get_items(["a", "nope"]).keys() == {"a"}
    assert store.item_ids(["nope", "a"]) == {"a"}
    assert store.item_hashes(["nope"]) == {}
    assert store.get_members(["m1", "nope"]).keys() == {"m1"}
    assert store.member_ids(["nope", "m1"]) == {"m1"}
    assert store.get_items([]) == {} and store.item_ids([]) == set() and store.member_ids([]) == set()
    assert store.enrolments([]) == {}


def test_many_ids_at_once(store):
    ids = [f"i{n:04d}" for n in range(1200)]  # more than one chunk of a SQL IN list
    store.upsert_items([item(i) for i in ids], vectors(len(ids)))
    assert store.item_ids(ids + ["nope"]) == set(ids)
    assert len(store.get_items(ids)) == len(store.item_hashes(ids)) == store.count_items() == 1200


def test_an_upsert_replaces_the_item_and_its_hash(store):
    store.upsert_items([item("a", "旧标题")], vectors(1))
    store.upsert_items([item("a", "新标题")], vectors(1, seed=1))
    assert store.get_items(["a"])["a"].title == "新标题"
    assert store.item_hashes(["a"]) == {"a": text_hash(item("a", "新标题"))}
    assert store.count_items() == 1


def test_vectors_must_have_one_row_per_item(store):
    with pytest.raises(ValidationError, match="one row per item"):
        store.upsert_items([item("a"), item("b")], vectors(1))
    assert store.count_items() == 0 and store.revisions().items == 0


def test_removed_items_are_gone_but_their_events_stay(store):
    store.upsert_members([member("m1")])
    store.upsert_items([item("a"), item("b")], vectors(2))
    store.record_events([event("m1", "a", "complete")])
    store.remove_items(["a"])
    assert store.item_ids(["a", "b"]) == {"b"} and store.count_items() == 1
    assert [e.item for e in store.events()] == ["a"]


def test_item_changes_after_a_revision_are_exactly_the_writes_since(store):
    store.upsert_items([item("a"), item("b"), item("c")], vectors(3))
    since = store.revisions().items
    store.upsert_items([item("b", "改过的b")], vectors(1, seed=1))
    store.remove_items(["c"])
    store.upsert_items([item("d")], vectors(1, seed=2))
    store.remove_items(["a"])
    store.upsert_items([item("a", "重新加入的a")], vectors(1, seed=3))

    changes = store.item_changes(since, DIM)
    assert changes.rev == since + 5 == store.revisions().items
    titles = {it.id: it.title for it, _ in changes.upserted}
    assert titles == {"b": "改过的b", "d": "学习材料d", "a": "重新加入的a"}
    assert changes.removed == ["c"]  # "a" was re-added, so it is no longer removed
    everything = store.item_changes(0, DIM)
    assert {it.id for it, _ in everything.upserted} == {"a", "b", "d"} and everything.removed == ["c"]
    nothing = store.item_changes(changes.rev, DIM)
    assert (nothing.rev, nothing.upserted, nothing.removed) == (changes.rev, [], [])


# -- members --------------------------------------------------------------------------------


def test_members_round_trip(store):
    ms = [
        Member(id="m2", name="李娜", org="b2", roles=("cadre", "young"), interests=("党史", "安全生产"),
               offline=False, location="嘉兴", daily_minutes=45, joined=dt.date(2010, 7, 1), situation="mobile"),
        member("m1"),
    ]
    store.upsert_members(ms)
    assert store.get_members(["m1", "m2"]) == {m.id: m for m in ms}
    assert [m.id for m in store.iter_members()] == ["m1", "m2"]
    assert store.count_members() == 2
    assert store.member_roles() == {"m1": ["member"], "m2": ["cadre", "young"]}
    assert store.member_orgs() == [(member("m1").org, "m1"), ("b2", "m2")]
    store.upsert_members([member("m1", roles=("branch_secretary",))])
    assert store.member_roles()["m1"] == ["branch_secretary"] and store.count_members() == 2


def two_members_with_history(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([event("m1", "a", "complete", 1, id_="m1-e1"), event("m2", "a", "complete", 2, id_="m2-e1"),
                         event("m1", "b", "rate", 3, id_="m1-e2", value=4)])
    store.put_served([served("m1", DAY), served("m2", DAY)], [event("m1", "a", "impression", 0, id_="imp:m1:a")])


def test_the_roster_revision_moves_with_who_the_members_are_and_their_branches_and_roles(store):
    """Branch activity and role-aware popularity are read again only when the roster moves: a
    member's interests, minutes or name written (a portal does that all day) leave it."""
    from dataclasses import replace

    store.upsert_members([member("m1"), member("m2")])

    def moves(write) -> tuple[int, int]:
        before = store.revisions()
        write()
        after = store.revisions()
        return after.members - before.members, after.roster - before.roster

    m1 = member("m1")
    assert moves(lambda: store.upsert_members([replace(m1, name="改名", interests=("党史",), daily_minutes=45)])) == (1, 0)
    assert moves(lambda: store.upsert_members([member("m1")])) == (1, 0)  # written again as it was
    assert moves(lambda: store.upsert_members([member("m1", org="b1.sub")])) == (1, 1)  # moved to another branch
    assert moves(lambda: store.upsert_members([member("m1", org="b1.sub", roles=("member", "cadre"))])) == (1, 1)
    assert moves(lambda: store.upsert_members([member("m1", org="b2")])) == (1, 1)  # the same id in another enterprise
    assert moves(lambda: store.upsert_members([member("m3"), member("m2")])) == (1, 1)  # one new among them
    # Written twice in one call, ending as it was held: the roster is where it was.
    assert moves(lambda: store.upsert_members([member("m2", org="b1.x"), member("m2")])) == (1, 0)
    assert moves(lambda: store.remove_member("m3")) == (1, 1)
    assert moves(lambda: store.remove_member("m2", pseudonym="p2")) == (1, 1)


def test_a_roster_written_again_moves_only_for_the_one_member_changed_among_hundreds(store):
    many = [member(f"m{k:03d}") for k in range(450)]  # more than one chunk of the check
    store.upsert_members(many)
    before = store.revisions().roster
    store.upsert_members(many)
    assert store.revisions().roster == before
    store.upsert_members([*many[:430], member("m430", org="b1.sub"), *many[431:]])  # in the second chunk
    assert store.revisions().roster == before + 1


def test_removing_a_member_deletes_their_events_and_lists_and_leaves_the_others(store):
    two_members_with_history(store)
    before = store.revisions()
    removed = store.remove_member("m1", meta={"note": "kept with the removal"})
    assert removed == MemberRemoval("m1", events=3, served=1, pseudonym=None)
    assert store.get_members(["m1", "m2"]).keys() == {"m2"} and store.count_members() == 1
    assert store.events("m1") == [] and [e.id for e in store.events()] == ["m2-e1"]
    assert store.history("m1") == History(events=[], state="0:0")
    assert store.get_served("m1", DAY, "minutes=30") is None and store.get_served("m2", DAY, "minutes=30")
    assert store.member_roles() == {"m2": ["member"]} and store.get_meta("note") == "kept with the removal"
    assert store.revisions().members == before.members + 1  # models derived from members rebuild
    # a write that checked before the removal finds the member gone: refused, nothing written
    with pytest.raises(ValidationError, match="unknown member 'm1'"):
        store.record_events([event("m2", "a", "skip", 8), event("m1", "a", "skip", 9, id_="m1-e1")])
    store.put_served([served("m1", DAY), served("m2", DAY, "minutes=40")],
                     [event("m1", "a", "impression", id_="imp:m1"), event("m2", "a", "impression", id_="imp:m2")])
    assert store.get_served("m1", DAY, "minutes=30") is None and store.get_served("m2", DAY, "minutes=40")
    assert sorted(e.id for e in store.events()) == ["imp:m2", "m2-e1"]
    # the ids are free again: the same event id recorded anew is new, not a retry or a conflict
    store.upsert_members([member("m1")])
    assert store.record_events([event("m1", "a", "skip", 9, id_="m1-e1")]) == 1


def test_removing_a_member_with_a_pseudonym_keeps_their_events_under_it_without_ids(store):
    two_members_with_history(store)
    removed = store.remove_member("m1", pseudonym="anon:1f2e")
    assert removed == MemberRemoval("m1", events=3, served=1, pseudonym="anon:1f2e")
    assert store.events("m1") == []
    kept = store.events("anon:1f2e")
    assert [(e.item, e.kind, e.value, e.id) for e in kept] == [("a", "impression", None, None), ("a", "complete", None, None),
                                                             ("b", "rate", 4.0, None)]
    assert kept[1].at == T0 + dt.timedelta(minutes=1) and store.count_events() == 4
    assert store.interactions(10, ["complete"]) == [("anon:1f2e", "a", "complete", None), ("m2", "a", "complete", None)]
    store.upsert_members([member("m1")])  # another person given the id
    assert store.record_events([event("m1", "a", "complete", 1, id_="m1-e1")]) == 1  # an id no longer held


def test_removing_a_member_that_does_not_exist_or_with_a_taken_pseudonym_writes_nothing(store):
    two_members_with_history(store)
    before = (store.revisions(), store.count_events(), store.count_members())
    assert store.remove_member("m9") is None
    with pytest.raises(ValidationError, match="is the id of a member"):
        store.remove_member("m1", pseudonym="m2")
    with pytest.raises(ValidationError):
        store.remove_member("m1", meta={"rev": "0"})  # a key the store keeps itself
    assert (store.revisions(), store.count_events(), store.count_members()) == before
    assert len(store.events("m1")) == 3 and store.get_served("m1", DAY, "minutes=30") is not None


# -- organisations --------------------------------------------------------------------------


def test_org_names_are_set_replaced_and_deleted_all_or_nothing(store):
    assert store.org_names() == {}
    store.set_org_names({"hx.b2": "检修党支部", "hx": "华能新能源党委", "hx.b1": "运行党支部"})
    assert store.org_names() == {"hx": "华能新能源党委", "hx.b1": "运行党支部", "hx.b2": "检修党支部"}
    assert list(store.org_names()) == ["hx", "hx.b1", "hx.b2"]  # by code
    store.set_org_names({"hx.b1": "运行一党支部", "hx.b2": None, "hx.b9": None})
    assert store.org_names() == {"hx": "华能新能源党委", "hx.b1": "运行一党支部"}
    with pytest.raises(ValidationError):
        store.set_org_names({"hx.b3": "新支部", "hx.b4": " "})
    assert "hx.b3" not in store.org_names()
    assert store.revisions() == Revisions(items=0, members=0, activity=0)  # names move no model


# -- revisions ------------------------------------------------------------------------------


def test_revisions_bump_rules(store):
    assert store.upsert_items([item("a")], vectors(1)) == 1
    assert store.remove_items(["a"]) == 2
    assert store.revisions() == Revisions(items=2, members=0, activity=0)
    store.upsert_members([member("m1")])
    store.upsert_members([member("m2")])
    assert store.revisions() == Revisions(items=2, members=2, activity=0, roster=2)

    store.record_events([event("m1", "a", "complete")])  # sequence number 1
    assert store.revisions().activity == 1
    store.record_events([event("m1", "b", "impression")])  # 2: an impression does not move it
    store.put_served([served("m1", DAY)], [event("m1", "c", "impression", id_="imp-1")])  # 3
    assert store.revisions() == Revisions(items=2, members=2, activity=1, roster=2)
    store.record_events([event("m1", "b", "start")])  # 4
    assert store.revisions() == Revisions(items=2, members=2, activity=4, roster=2)


# -- events ---------------------------------------------------------------------------------


def test_events_in_time_order_ties_in_record_order(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([
        event("m1", "late", "complete", minutes=30),
        event("m1", "tie1", "start", minutes=10),
        event("m2", "other", "complete", minutes=5),
    ])
    store.record_events([event("m1", "tie2", "impression", minutes=10), event("m1", "early", "start", minutes=-60)])

    assert [e.item for e in store.events()] == ["early", "other", "tie1", "tie2", "late"]
    assert [e.item for e in store.events("m1")] == ["early", "tie1", "tie2", "late"]
    assert [e.item for e in store.events("m1", until=T0 + dt.timedelta(minutes=10))] == ["early", "tie1", "tie2"]
    assert [e.item for e in store.events(kinds=["complete"])] == ["other", "late"]
    assert [e.item for e in store.events("m1", kinds=("start", "impression"), until=T0)] == ["early"]
    assert store.events(kinds=[]) == [] and store.events("nobody") == []
    assert store.count_events() == 5


def test_events_round_trip(store):
    e = Event(member="m1", item="q1", kind="quiz", at=T0.astimezone(dt.timezone.utc), value=0.75, id="ev-1")
    store.upsert_members([member("m1")])
    store.record_events([e])
    (back,) = store.events()
    assert back == e and back.at.timestamp() == e.at.timestamp()


def test_a_retried_event_is_counted_once(store):
    store.upsert_members([member("m1"), member("m2")])
    first = event("m1", "a", "complete", id_="ev-1")
    assert store.record_events([first, event("m1", "b", "start")]) == 2
    assert store.record_events([first]) == 0
    assert store.record_events([event("m2", "a", "start", id_="ev-2"), event("m2", "a", "start", id_="ev-2")]) == 1
    assert store.count_events() == 3
    assert store.revisions().activity == 3


@pytest.mark.parametrize("other", [
    event("m1", "b", "complete", id_="ev-1"),  # other item
    event("m1", "a", "complete", minutes=1, id_="ev-1"),  # other time
    event("m1", "a", "rate", value=5, id_="ev-1"),  # other kind and value
])
def test_a_reused_event_id_conflicts_and_nothing_of_the_batch_is_written(store, other):
    store.upsert_members([member("m1"), member("m2"), member("m3")])
    store.record_events([event("m1", "a", "complete", id_="ev-1")])
    before = (store.revisions(), store.events())
    with pytest.raises(ConflictError, match="ev-1"):
        store.record_events([event("m1", "x", "complete", id_="new"), event("m2", "y", "start"), other])
    assert (store.revisions(), store.events()) == before
    with pytest.raises(ConflictError):  # the same id twice in one batch, with other content
        store.record_events([event("m3", "z", "start", id_="twice"), event("m3", "z", "complete", id_="twice")])
    assert (store.revisions(), store.events()) == before


# -- event ids are scoped per tenant (the top level of the member's organisation) -------------


def two_tenants(store):
    """hxny with two branches (m1, m3) and zjjt (m2)."""
    store.upsert_members([member("m1", "hxny.fdgs"), member("m3", "hxny.jt"), member("m2", "zjjt.zb1")])


# -- member and item ids per tenant ----------------------------------------------------------


def test_two_tenants_each_hold_their_own_member_of_one_id(store):
    store.upsert_members([member("m001", "hxny.fdgs"), member("m001", "zjjt.zb1", roles=("cadre",)),
                          member("m2", "zjjt.zb1")])
    assert store.count_members() == 3 and store.member_tenants(["m001", "m2", "x"]) == {
        "m001": ["hxny", "zjjt"], "m2": ["zjjt"]}
    assert store.get_members(["m001"], tenant="hxny")["m001"].org == "hxny.fdgs"
    assert store.get_members(["m001", "m2"], tenant="zjjt")["m001"].roles == ("cadre",)
    assert store.get_members(["m2"], tenant="hxny") == {} and store.member_ids(["m2"], tenant="hxny") == set()
    assert [m.org for m in store.iter_members(tenant="zjjt")] == ["zjjt.zb1", "zjjt.zb1"]
    assert store.member_roles(tenant="hxny") == {"m001": ["member"]}
    assert store.member_orgs() == [("hxny.fdgs", "m001"), ("zjjt.zb1", "m001"), ("zjjt.zb1", "m2")]
    assert store.member_orgs(tenant="zjjt") == [("zjjt.zb1", "m001"), ("zjjt.zb1", "m2")]
    with pytest.raises(AmbiguousIdError, match="'m001' is held by 2 enterprises \\(hxny, zjjt\\)"):
        store.get_members(["m001"])
    assert store.get_members(["m2"]) == {"m2": store.get_members(["m2"], tenant="zjjt")["m2"]}  # unique: as before

    # Each m001's events, served lists and state are its own tenant's.
    store.record_events([event("m001", "a", "complete", id_="e1"), event("m001", "b", "complete", 1, id_="e1")],
                        tenants=["hxny", "zjjt"])
    store.put_served([served("m001", DAY, items=("a",))], [event("m001", "a", "impression", 2, id_="imp")],
                     tenant="hxny")
    store.put_served([served("m001", DAY, items=("b",))], tenant="zjjt")
    assert [e.item for e in store.history("m001", tenant="hxny").events] == ["a", "a"]
    assert [e.item for e in store.history("m001", tenant="zjjt").events] == ["b"]
    assert store.member_state("m001", tenant="zjjt") == "1:2" and store.count_events(tenant="hxny") == 2
    assert store.get_served("m001", DAY, "minutes=30", tenant="zjjt").payload["entries"][0]["item"]["id"] == "b"
    assert store.served_between(DAY, DAY, tenant="hxny") == [("m001", DAY, ["a"])]
    assert store.served_on(DAY, tenant="zjjt") == {("m001", "minutes=30")}
    assert store.interactions(9, ["complete"], tenant="zjjt") == [("m001", "b", "complete", None)]
    with pytest.raises(AmbiguousIdError):  # which m001's list, without a tenant?
        store.get_served("m001", DAY, "minutes=30")

    # Removing hxny's m001 leaves zjjt's, with its events and list.
    removed = store.remove_member("m001", tenant="hxny")
    assert (removed.events, removed.served) == (2, 1)
    assert store.member_tenants(["m001"]) == {"m001": ["zjjt"]}
    assert len(store.history("m001", tenant="zjjt").events) == 1
    assert store.get_served("m001", DAY, "minutes=30") is not None  # one m001 left: unambiguous again


def test_two_tenants_each_hold_their_own_item_of_one_id_and_shared_ids_are_reserved(store):
    store.upsert_items([item("x1", "海南的x1", org="hxny.fdgs"), item("x1", "浙江的x1", org="zjjt"),
                        item("s1", org=None)], vectors(3))
    assert store.count_items() == 3 and store.count_items(tenant="hxny") == 2
    assert store.item_tenants(["x1", "s1"]) == {"x1": ["hxny", "zjjt"], "s1": [""]}
    assert store.get_items(["x1", "s1"], tenant="zjjt")["x1"].title == "浙江的x1"
    assert store.get_items(["x1", "s1"], tenant="hxny").keys() == {"x1", "s1"}
    assert [(i.id, i.org) for i in store.iter_items(tenant="hxny")] == [("s1", None), ("x1", "hxny.fdgs")]
    assert store.get_items(["x1"], tenant="") == {}  # the platform's view: shared items only
    with pytest.raises(AmbiguousIdError, match="item id 'x1'"):
        store.get_items(["x1"])
    with pytest.raises(AmbiguousIdError):  # a catalogue of every tenant cannot hold both x1
        store.item_changes(0, DIM)
    changes = store.item_changes(0, DIM, tenant="zjjt")
    assert [(i.id, i.title) for i, _ in changes.upserted] == [("s1", "学习材料s1"), ("x1", "浙江的x1")]

    # A tenant item may not take a shared item's id, nor a shared item a tenant's (every tenant
    # sees shared items, so saying so tells nothing hidden); nothing of the batch is written.
    before = store.revisions()
    with pytest.raises(ConflictError, match="'s1' is a shared item's"):
        store.upsert_items([item("y", org="hxny"), item("s1", org="hxny")], vectors(2))
    with pytest.raises(ConflictError, match="'x1' is used by an enterprise's own item"):
        store.upsert_items([item("x1", org=None)], vectors(1))
    assert store.revisions() == before and store.item_ids(["y"], tenant="hxny") == set()

    # Removing hxny's x1 leaves zjjt's: zjjt's view does not drop it, hxny's does.
    rev = store.remove_items(["x1"], tenant="hxny")
    assert store.item_tenants(["x1"]) == {"x1": ["zjjt"]}
    assert store.item_changes(rev - 1, DIM, tenant="hxny").removed == ["x1"]
    assert store.item_changes(rev - 1, DIM, tenant="zjjt").removed == []
    assert store.item_changes(rev - 1, DIM).removed == []  # unscoped: x1 is zjjt's, still there


def test_seats_of_a_tenants_activity_are_its_own_and_those_of_a_shared_one_everyones(store):
    store.upsert_members([member("m1", "hxny.fdgs"), member("m1", "zjjt.zb1"), member("m2", "zjjt.zb1")])
    store.upsert_items([item("act", org="hxny"), item("act", org="zjjt"), item("s-act", org=None)], vectors(3))
    store.record_events([event("m1", "act", "enroll"), event("m1", "s-act", "enroll"),
                         event("m1", "act", "enroll"), event("m2", "act", "enroll"), event("m1", "s-act", "enroll")],
                        tenants=["hxny", "hxny", "zjjt", "zjjt", "zjjt"])
    assert store.enrolments(["act", "s-act"], tenant="hxny") == {"act": 1, "s-act": 2}
    assert store.enrolments(["act", "s-act"], tenant="zjjt") == {"act": 2, "s-act": 2}


def test_two_tenants_may_record_the_same_event_id(store):
    two_tenants(store)
    assert store.record_events([event("m1", "a", "complete", id_="e1")]) == 1
    assert store.record_events([event("m2", "b", "start", 5, id_="e1")]) == 1  # another event, no conflict
    # in one batch too, and each is then a retry in its own tenant
    assert store.record_events([event("m1", "c", "start", id_="e2"), event("m2", "c", "skip", id_="e2")]) == 2
    assert store.record_events([event("m2", "b", "start", 5, id_="e1"), event("m1", "c", "start", id_="e2")]) == 0
    assert [(e.id, e.member) for e in store.events()] == [("e1", "m1"), ("e2", "m1"), ("e2", "m2"), ("e1", "m2")]
    assert store.recorded_tenants() == [(1, "hxny"), (2, "zjjt"), (3, "hxny"), (4, "zjjt")]
    assert store.recorded_tenants(after=1, limit=2) == [(2, "zjjt"), (3, "hxny")]
    assert store.revisions().activity == 4


def test_within_a_tenant_a_retry_is_skipped_and_other_content_conflicts(store):
    two_tenants(store)
    store.record_events([event("m1", "a", "complete", id_="e1")])
    assert store.record_events([event("m1", "a", "complete", id_="e1")]) == 0
    before = (store.revisions(), store.events())
    # m3 is of another branch of the same enterprise: the same tenant, so the same id space.
    with pytest.raises(ConflictError, match="'e1'") as caught:
        store.record_events([event("m2", "a", "complete", id_="e1"), event("m3", "a", "complete", id_="e1")])
    assert caught.value.line == 2  # the id alone does not tell which of the batch it was
    assert (store.revisions(), store.events()) == before  # all or nothing: zjjt's e1 is not written either
    with pytest.raises(ConflictError, match="'e9'") as caught:  # in one batch as well
        store.record_events([event("m1", "a", "start", id_="e9"), event("m3", "a", "skip", id_="e9")])
    assert caught.value.line == 2 and (store.revisions(), store.events()) == before


def test_impressions_are_recorded_once_per_tenant(store):
    two_tenants(store)
    store.put_served([served("m1", DAY)], [event("m1", "a", "impression", id_="imp-a")])
    store.put_served([served("m2", DAY)], [event("m2", "a", "impression", id_="imp-a"),
                                           event("m2", "a", "impression", id_="imp-a")])
    store.put_served([], [event("m1", "a", "impression", id_="imp-a")])  # a retry in hxny
    assert store.recorded_tenants() == [(1, "hxny"), (2, "zjjt")]
    assert store.record_events([event("m1", "a", "impression", id_="imp-a")]) == 0  # hxny holds it
    with pytest.raises(ConflictError):  # for another member of hxny, it is taken
        store.record_events([event("m3", "a", "impression", id_="imp-a")])


def test_an_event_keeps_its_tenant_when_its_member_is_removed_or_another_tenant_takes_the_id(store):
    two_tenants(store)
    store.record_events([event("m1", "a", "complete", id_="e1"), event("m3", "a", "start", id_="e3")])
    store.upsert_members([member("m1", "zjjt.zb1")])  # zjjt's own m1: another member, hxny's stays
    store.remove_member("m3", pseudonym="anon:3")
    assert store.recorded_tenants() == [(1, "hxny"), (2, "hxny")]
    with pytest.raises(AmbiguousIdError, match="hxny, zjjt"):  # m1 names two members now
        store.record_events([event("m1", "a", "complete", id_="e1")])
    # zjjt's m1 records e1 in zjjt: new there; hxny's e1 is held still
    assert store.record_events([event("m1", "a", "complete", id_="e1")], tenants=["zjjt"]) == 1
    assert [e.id for e in store.history("m1", tenant="hxny").events] == ["e1"]
    with pytest.raises(ConflictError):
        store.record_events([event("m3", "b", "start", id_="e1")], tenants=["hxny"])
    assert store.record_events([event("m3", "a", "start", id_="e3")], tenants=["hxny"]) == 1  # its id was dropped


def test_given_tenants_are_kept_and_checked(store):
    assert store.record_events([event("m1", "a", "start", id_="e1"), event("m1", "a", "start", id_="e1")],
                               tenants=["hxny", "zjjt"]) == 2
    assert store.recorded_tenants() == [(1, "hxny"), (2, "zjjt")]
    before = (store.revisions(), store.events())
    for bad in (["hxny"], ["hxny.fdgs", "zjjt"], [None, "zjjt"]):
        with pytest.raises(ValidationError, match="tenant"):
            store.record_events([event("m1", "b", "start"), event("m2", "b", "start")], tenants=bad)
    assert (store.revisions(), store.events()) == before


def test_a_copy_of_the_store_keeps_every_events_tenant(store):
    from recsys.storage.migrate import copy_store

    source = MemoryStore()
    two_tenants(source)
    source.record_events([event("m1", "a", "complete", id_="e1"), event("m2", "a", "complete", id_="e1"),
                          event("m3", "b", "start", id_="e3")])
    source.upsert_members([member("m1", "zjjt.zb1")])
    source.remove_member("m3", pseudonym="anon:3")
    # Each enterprise's own m1 and x1, with their lists, beside a shared item.
    source.set_meta({"dim": str(DIM)})
    source.upsert_items([item("x1", "海南", org="hxny"), item("x1", "浙江", org="zjjt"), item("s1")], vectors(3))
    for tenant, title in (("hxny", "海南"), ("zjjt", "浙江")):
        source.put_served([served("m1", DAY, items=(title,))], tenant=tenant)
    copy_store(source, store, chunk=2)  # into this backend, a page of two at a time
    assert store.item_tenants(["x1", "s1"]) == {"x1": ["hxny", "zjjt"], "s1": [""]}
    assert store.get_items(["x1"], tenant="zjjt")["x1"].title == "浙江"
    for tenant, title in (("hxny", "海南"), ("zjjt", "浙江")):
        assert store.served_between(DAY, DAY, tenant=tenant) == [("m1", DAY, [title])]
    assert store.recorded_events() == source.recorded_events()
    assert store.recorded_tenants() == source.recorded_tenants() == [(1, "hxny"), (2, "zjjt"), (3, "hxny")]
    back = MemoryStore()
    copy_store(store, back)  # and out of it
    assert back.recorded_tenants() == source.recorded_tenants()
    with pytest.raises(ConflictError):  # hxny's e1 is still held in the copy, under hxny
        store.record_events([event("m9", "b", "start", id_="e1")], tenants=["hxny"])


def test_history_state_moves_on_activity_not_on_impressions(store):
    store.upsert_members([member("m1"), member("m2")])
    assert store.history("m1").state == "0:0"
    store.record_events([event("m1", "a", "complete", minutes=5)])  # sequence 1
    assert store.history("m1").state == "1:1" == member_state([1])
    store.record_events([event("m1", "b", "impression", minutes=1), event("m2", "a", "complete")])  # 2, 3
    store.put_served([served("m1", DAY)], [event("m1", "c", "impression", minutes=2, id_="imp")])  # 4
    h = store.history("m1")
    assert h.state == "1:1"
    assert [(e.item, e.kind) for e in h.events] == [("b", "impression"), ("c", "impression"), ("a", "complete")]
    store.record_events([event("m1", "b", "start", minutes=-5)])  # 5: earlier in time, later recorded
    assert store.history("m1").state == "2:5" == store.member_state("m1")
    assert store.history("m1").events == store.events("m1")
    assert store.member_state("m2") == store.history("m2").state == "1:3"
    assert store.member_state("nobody") == "0:0"


def test_histories_of_a_block_equal_each_history(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([
        event("m1", "a", "complete", minutes=5), event("m2", "b", "start", minutes=9),
        event("m1", "b", "impression", minutes=1), event("m1", "c", "start", minutes=-3),
    ])
    found = store.histories(["m2", "m1", "nobody", "m1"])
    assert list(found) == ["m2", "m1", "nobody"]
    for m in ("m1", "m2", "nobody"):
        assert found[m] == store.history(m)
    assert found["nobody"].events == [] and found["nobody"].state == "0:0"
    assert [e.item for e in found["m1"].events] == ["c", "b", "a"]
    assert store.histories([]) == {}


def _columns(found) -> list[tuple[str, list[tuple[str, str, float]]]]:
    """:class:`EventColumns` as plain data: each member asked with their events' item, kind, time."""
    assert found.member.dtype == np.int64 and found.at.dtype == np.float64 and len(found) == len(found.item)
    return [(m, [(found.item[n], found.kind[n], float(found.at[n])) for n in np.flatnonzero(found.member == k)])
            for k, m in enumerate(found.members)]


def _history_columns(store, members, **tenant) -> list[tuple[str, list[tuple[str, str, float]]]]:
    """What :meth:`Store.histories` holds, in the form of :func:`_columns`."""
    return [(m, [(e.item, e.kind, e.at.timestamp()) for e in h.events])
            for m, h in store.histories(members, **tenant).items()]


def test_history_columns_hold_the_histories_of_a_block(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([
        event("m1", "a", "complete", minutes=5), event("m2", "b", "start", minutes=9),
        event("m1", "b", "impression", minutes=1), event("m1", "c", "start", minutes=-3),
        event("m1", "d", "skip", minutes=1),  # the same time as b: the order recorded decides
    ])
    found = store.history_columns(["m2", "m1", "nobody", "m1"])
    assert found.members == ("m2", "m1", "nobody")
    assert _columns(found) == _history_columns(store, ["m2", "m1", "nobody"])
    assert [found.item[n] for n in np.flatnonzero(found.member == 1)] == ["c", "b", "d", "a"]
    assert found.at[0] == (T0 + dt.timedelta(minutes=9)).timestamp()
    empty = store.history_columns([])
    assert empty.members == () and len(empty) == 0


def test_interactions_up_to_a_sequence_number_in_record_order(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([
        event("m1", "a", "complete", minutes=9),  # 1
        event("m1", "b", "impression"),  # 2
        event("m2", "a", "rate", minutes=-9, value=4),  # 3
        event("m2", "c", "complete"),  # 4
    ])
    assert store.interactions(3, ["complete", "rate"]) == [("m1", "a", "complete", None), ("m2", "a", "rate", 4.0)]
    assert store.interactions(99, ("complete",)) == [("m1", "a", "complete", None), ("m2", "c", "complete", None)]
    assert store.interactions(0, ["complete"]) == []


def test_recorded_events_page_through_in_the_order_recorded(store):
    store.upsert_members([member("m1"), member("m2")])
    store.record_events([event("m1", "a", "complete", minutes=5, id_="late"), event("m2", "b", "start", minutes=1)])
    store.put_served([served("m1", DAY)], [event("m1", "a", "impression", minutes=3, id_="imp")])
    store.record_events([event("m1", "c", "complete", minutes=0, id_="first")])
    assert [e.id for e in store.events()] == ["first", None, "imp", "late"]  # time order
    everything = store.recorded_events()
    assert [(seq, e.id) for seq, e in everything] == [(1, "late"), (2, None), (3, "imp"), (4, "first")]
    assert everything[0][1] == event("m1", "a", "complete", minutes=5, id_="late")
    assert store.recorded_events(after=1, limit=2) == everything[1:3]
    assert store.recorded_events(after=4) == []


def test_enrolments_count_distinct_members(store):
    store.upsert_members([member("m1"), member("m2"), member("m3")])
    store.record_events([
        event("m1", "x", "enroll"), event("m1", "x", "enroll", minutes=1), event("m2", "x", "enroll"),
        event("m1", "y", "enroll"), event("m3", "z", "start"), event("m3", "x", "attend"),
    ])
    assert store.enrolments(["x", "y", "z", "nope"]) == {"x": 2, "y": 1}


def test_a_withdrawal_gives_the_seat_back_and_the_latest_enroll_event_decides(store):
    store.upsert_members([member("m1"), member("m2"), member("m3")])
    store.record_events([
        event("m1", "x", "enroll"), event("m2", "x", "enroll"), event("m3", "y", "enroll", minutes=1),
        event("m1", "x", "enroll", minutes=2, value=0.0),  # withdrawn
        event("m3", "y", "enroll", minutes=0, value=0.0),  # recorded later, but dated before the enrolment
        event("m2", "z", "enroll", value=0.0),  # a withdrawal alone holds no seat
    ])
    assert store.enrolments(["x", "y", "z"]) == {"x": 1, "y": 1}
    store.record_events([event("m1", "x", "enroll", minutes=3, value=1.0)])  # enrolled again
    assert store.enrolments(["x"]) == {"x": 2}
    # A member removed with their history kept under a pseudonym gives their seat back.
    store.remove_member("m2", pseudonym="anon:2b")
    assert store.enrolments(["x"]) == {"x": 1}


def test_branch_completions_window_and_exact_branch(store):
    since, until = T0, T0 + dt.timedelta(days=7)
    store.upsert_members([member("m1"), member("m2"), member("m3", org="b1.sub"), member("m4", org="b2")])
    store.record_events([
        Event(member="m1", item="x", kind="complete", at=since),  # the window's first instant counts
        Event(member="m2", item="x", kind="attend", at=until - dt.timedelta(seconds=1)),
        Event(member="m2", item="x", kind="complete", at=since + dt.timedelta(days=1)),  # m2 again: once
        Event(member="m2", item="y", kind="complete", at=until),  # the end is left out
        Event(member="m1", item="z", kind="complete", at=since - dt.timedelta(seconds=1)),
        Event(member="m1", item="y", kind="start", at=since + dt.timedelta(hours=1)),  # not a completion
        Event(member="m3", item="x", kind="complete", at=since),  # another branch, however named
        Event(member="m4", item="x", kind="complete", at=since),
    ])
    # Kept under a pseudonym when its member left: no member of any branch now.
    store.record_events([Event(member="anon:9", item="x", kind="complete", at=since)], tenants=["b1"])
    assert store.branch_completions("b1", since, until) == ({"x": 2}, 2)
    assert store.branch_completions("b2", since, until) == ({"x": 1}, 1)
    assert store.branch_completions("nobody", since, until) == ({}, 0)


def test_completions_after_reads_what_is_new_in_the_order_recorded(store):
    store.upsert_members([member("m1"), member("m2", org="hxny.zb1")])
    store.record_events([
        Event(member="m1", item="x", kind="complete", at=T0),
        Event(member="m1", item="y", kind="start", at=T0),  # not a completion
        Event(member="m2", item="z", kind="attend", at=T0 + dt.timedelta(hours=1)),
        Event(member="m1", item="w", kind="complete", at=T0 - dt.timedelta(days=1)),  # before the window
    ])
    first = store.completions_after(0, T0)
    assert [(t, m, i, ts) for _, t, m, i, ts in first] == [
        ("b1", "m1", "x", T0.timestamp()), ("hxny", "m2", "z", (T0 + dt.timedelta(hours=1)).timestamp())]
    assert first[0][0] < first[1][0] <= store.revisions().activity
    assert store.completions_after(first[-1][0], T0) == []
    store.record_events([Event(member="m1", item="v", kind="complete", at=T0 + dt.timedelta(days=1)),
                         Event(member="m1", item="v", kind="impression", at=T0 + dt.timedelta(days=1))])
    (new,) = store.completions_after(first[-1][0], T0)
    assert new[1:] == ("b1", "m1", "v", (T0 + dt.timedelta(days=1)).timestamp()) and new[0] > first[-1][0]
    # A late event dated before the window is left out, however new.
    store.record_events([Event(member="m1", item="u", kind="complete", at=T0 - dt.timedelta(seconds=1))])
    assert store.completions_after(new[0], T0) == []
    assert [row[3] for row in store.completions_after(0, T0, tenant="hxny")] == ["z"]


# -- served lists ---------------------------------------------------------------------------


def test_served_lists_round_trip_and_replace(store):
    store.upsert_members([member("m1")])
    assert store.get_served("m1", DAY, "minutes=30") is None
    first = served("m1", DAY, items=("a", "b"), state="1:1")
    store.put_served([first, served("m1", DAY, "minutes=60", items=("c",))])
    assert store.get_served("m1", DAY, "minutes=30") == first
    assert store.get_served("m1", DAY, "minutes=60").payload["entries"][0]["item"]["id"] == "c"
    assert store.get_served("m1", DAY + dt.timedelta(days=1), "minutes=30") is None
    again = served("m1", DAY, items=("d",), state="2:7")
    store.put_served([again])
    assert store.get_served("m1", DAY, "minutes=30") == again


def test_put_served_records_impressions_once_without_moving_activity(store):
    store.upsert_members([member("m1")])
    store.record_events([event("m1", "a", "complete", id_="done")])
    impressions = [event("m1", i, "impression", id_=f"imp-{i}") for i in ("a", "b", "c")]
    store.put_served([served("m1", DAY, items=("a", "b", "c"))], impressions)
    assert [e.id for e in store.events(kinds=["impression"])] == ["imp-a", "imp-b", "imp-c"]
    assert store.revisions().activity == 1

    # Served again (a retry, or a list rebuilt the same day): the recorded impressions are skipped,
    # as is one whose id was already recorded through record_events.
    store.record_events([event("m1", "d", "impression", id_="imp-d")])
    store.put_served(
        [served("m1", DAY, items=("b", "d", "e"))],
        [impressions[1], event("m1", "d", "impression", id_="imp-d"), event("m1", "e", "impression", id_="imp-e")],
    )
    assert [e.id for e in store.events(kinds=["impression"])] == ["imp-a", "imp-b", "imp-c", "imp-d", "imp-e"]
    assert store.count_events() == 6 and store.revisions().activity == 1
    # Skipped impressions use up no sequence number: the next event is the 7th.
    store.record_events([event("m1", "b", "start")])
    assert store.revisions().activity == 7 and store.history("m1").state == "2:7"


def test_put_served_takes_impressions_with_ids_only_and_writes_nothing_otherwise(store):
    for bad in (event("m1", "a", "complete", id_="c"), event("m1", "a", "impression")):
        with pytest.raises(ValidationError):
            store.put_served([served("m1", DAY)], [event("m1", "b", "impression", id_="ok"), bad])
    assert store.get_served("m1", DAY, "minutes=30") is None and store.count_events() == 0


def test_served_between_by_day_and_member_inclusive(store):
    store.upsert_members([member("m1"), member("m2")])
    d1, d2, d3, d4 = (DAY + dt.timedelta(days=n) for n in range(4))
    store.put_served([
        served("m2", d2, items=("b",)),
        served("m1", d2, "minutes=60", items=("c",)),
        served("m1", d2, "minutes=30", items=("a", "b")),
        served("m1", d1, items=("z",)),
        served("m1", d3, items=()),
        served("m1", d4, items=("y",)),
    ])
    assert store.served_between(d2, d3) == [
        ("m1", d2, ["a", "b"]), ("m1", d2, ["c"]), ("m2", d2, ["b"]), ("m1", d3, []),
    ]
    assert store.served_between(d4, d1) == []


def test_served_between_adds_the_announced_activities_when_asked(store):
    store.upsert_members([member("m1")])
    listed = served("m1", DAY, items=("a",))
    listed.payload["upcoming"] = [{"item": {"id": "act"}, "score": 0.0}]
    store.put_served([listed])
    assert store.served_between(DAY, DAY) == [("m1", DAY, ["a"])]
    assert store.served_between(DAY, DAY, upcoming=True) == [("m1", DAY, ["a", "act"])]


def test_served_on_names_member_and_request_of_one_day(store):
    store.upsert_members([member("m1"), member("m2")])
    d1, d2 = DAY, DAY + dt.timedelta(days=1)
    store.put_served([served("m1", d1), served("m1", d1, "minutes=60"), served("m2", d2)])
    assert store.served_on(d1) == {("m1", "minutes=30"), ("m1", "minutes=60")}
    assert store.served_on(d2) == {("m2", "minutes=30")}
    assert store.served_on(d2 + dt.timedelta(days=1)) == set()


def test_served_for_a_block_of_members_on_one_day(store):
    store.upsert_members([member("m1"), member("m2"), member("m3")])
    d1, d2 = DAY, DAY + dt.timedelta(days=1)
    store.put_served([served("m1", d1), served("m1", d1, "minutes=60"), served("m2", d1), served("m3", d2)])
    found = store.served_for(["m1", "m3", "nobody"], d1)
    assert sorted((s.member, s.request) for s in found) == [("m1", "minutes=30"), ("m1", "minutes=60")]
    assert all(s == store.get_served(s.member, d1, s.request) for s in found)
    assert store.served_for([], d1) == []


# -- metadata and caches --------------------------------------------------------------------


def test_metadata_set_and_delete_all_or_nothing(store):
    assert store.get_meta("encoder_name") is None
    store.set_meta({"encoder_name": "tfidf:hash1024", "dim": "1024"})
    store.set_meta({"encoder_name": None, "dim": "384", "never_set": None})
    assert (store.get_meta("encoder_name"), store.get_meta("dim")) == (None, "384")
    for bad in ({"dim": "1", "rev": "9"}, {"dim": "1", "members_rev": None}, {"dim": 1}):
        with pytest.raises(ValidationError):
            store.set_meta(bad)
    assert store.get_meta("dim") == "384" and store.revisions() == Revisions(0, 0, 0)
    assert store.get_meta("rev") is None  # the counters are read with revisions(), not as metadata


def test_metadata_is_read_by_prefix(store):
    store.set_meta({"member_removed:hx:m1": "1.5", "member_removed:hx:m2": "2.5", "member_removed_x": "no",
                    "member_removed:zj:m1": "3.5", "dim": "8", "党员:1": "是", "党员之家": "否"})
    assert store.meta_with_prefix("member_removed:") == {
        "member_removed:hx:m1": "1.5", "member_removed:hx:m2": "2.5", "member_removed:zj:m1": "3.5"}
    assert store.meta_with_prefix("member_removed:hx:") == {"member_removed:hx:m1": "1.5", "member_removed:hx:m2": "2.5"}
    assert store.meta_with_prefix("党员:") == {"党员:1": "是"}
    assert store.meta_with_prefix("%") == {} and store.meta_with_prefix("_") == {}  # no pattern: a prefix as written
    assert store.meta_with_prefix("re") == {}  # the store's own keys (rev) never
    for bad in ("", "a\x00", "\ud800"):
        with pytest.raises(ValidationError):
            store.meta_with_prefix(bad)


def test_keep_meta_sets_a_key_once_and_everyone_gets_the_first_value(store):
    assert store.keep_meta("token_secret", "aa") == "aa"
    assert store.keep_meta("token_secret", "bb") == "aa" == store.get_meta("token_secret")
    with pytest.raises(ValidationError):
        store.keep_meta("rev", "9")
    # Writers racing for a key that is not set yet all end with one value, the stored one.
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda n: store.keep_meta("pseudonym_secret", f"v{n}"), range(8)))
    assert len(set(got)) == 1 and got[0] == store.get_meta("pseudonym_secret")


def test_artefacts_round_trip_bytes_and_bump_the_models_revision(store):
    assert store.get_artefact("ranking") is None
    before = store.revisions()
    blob = bytes(range(256)) * 3  # every byte value, NULs included
    store.put_artefact("ranking", blob, 7)
    got = store.get_artefact("ranking")
    assert (got.name, got.data, got.activity) == ("ranking", blob, 7) and got.created > 0
    after = store.revisions()
    assert after.models == before.models + 1
    assert (after.items, after.members, after.activity) == (before.items, before.members, before.activity)
    store.put_artefact("ranking", b"v2", 9)  # replaced, not added
    assert (store.get_artefact("ranking").data, store.get_artefact("ranking").activity) == (b"v2", 9)
    assert store.revisions().models == before.models + 2
    for bad in (("Bad Name", b"x", 1), ("ok", "text", 1), ("ok", b"x", -1), ("", b"x", 0)):
        with pytest.raises(ValidationError):
            store.put_artefact(*bad)
    assert store.get_artefact("ok") is None and store.revisions().models == before.models + 2
    store.put_artefact("a.t-1", b"", 0)
    assert store.artefact_names() == ["a.t-1", "ranking"]  # every name kept, in order
    models = store.revisions().models
    assert store.remove_artefact("a.t-1") and store.get_artefact("a.t-1") is None
    assert not store.remove_artefact("a.t-1") and store.artefact_names() == ["ranking"]
    assert store.revisions().models == models + 1  # bumped by the removal only
    with pytest.raises(ValidationError):
        store.set_meta({"models_rev": "0"})  # the counter is the store's own


def test_embedding_cache_round_trip(store):
    cache = store.embedding_cache()
    assert store.embedding_cache() is cache
    x = vectors(2)
    cache.put_many("model-a", {b"k1": x[0], b"k2": x[1]})
    got = cache.get_many("model-a", [b"k1", b"k2", b"unknown"])
    assert got.keys() == {b"k1", b"k2"}
    assert got[b"k1"].tobytes() == x[0].tobytes() and got[b"k2"].dtype == np.float32
    assert cache.get_many("model-b", [b"k1"]) == {}  # each model has its own vectors
    cache.put_many("model-a", {b"k1": x[1]})
    assert cache.get_many("model-a", [b"k1"])[b"k1"].tobytes() == x[1].tobytes()


def test_the_embedding_cache_lists_every_entry_for_a_copy(store):
    cache = store.embedding_cache()
    x = vectors(5)
    cache.put_many("model-b", {b"\x00z": x[0], b"a": x[1]})
    cache.put_many("model-a", {bytes([k]): x[k] for k in range(2, 5)})
    want = [("model-a", bytes([k]), x[k].tobytes()) for k in range(2, 5)] + [
        ("model-b", b"\x00z", x[0].tobytes()), ("model-b", b"a", x[1].tobytes())]
    assert [(m, k, v.tobytes()) for m, k, v in cache.entries()] == want  # by model, then key
    if "page" in inspect.signature(cache.entries).parameters:  # a database reads a page at a time
        assert [(m, k, v.tobytes()) for m, k, v in cache.entries(page=2)] == want


# -- open_store -----------------------------------------------------------------------------


def test_open_store_by_path_and_sqlite_url(tmp_path, monkeypatch):
    by_path = open_store(str(tmp_path / "a"))
    assert isinstance(by_path, SQLiteStore) and by_path.files == tmp_path / "a"
    assert by_path.url == f"sqlite://{tmp_path / 'a'}" and by_path.url.startswith("sqlite:///")
    by_path.upsert_members([member("m1")])
    by_path.close()
    for again in (open_store(tmp_path / "a"), open_store(f"sqlite://{tmp_path / 'a'}")):
        assert again.member_ids(["m1"]) == {"m1"}
        again.close()
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite://rel/dir")
    assert relative.files == tmp_path / "rel" / "dir" and relative.files.is_dir()
    relative.close()


def test_open_store_memory_is_new_each_time():
    one, two = open_store("memory://"), open_store("memory://")
    assert isinstance(one, MemoryStore) and (one.url, one.files) == ("memory://", None)
    one.upsert_members([member("m1")])
    assert two.count_members() == 0


@pytest.mark.parametrize("url, message", [
    ("redis://cache.example:6379/0", "unknown store URL 'redis://cache.example:6379/0'"),
    ("redis://rec:s3cret@cache.example:6379/0", "unknown store URL 'redis://rec:\\*\\*\\*@cache.example:6379/0'"),
    ("", "no store given"),
])
def test_open_store_refuses_other_backends_and_lists_the_supported_forms(url, message):
    with pytest.raises(StoreError, match=message) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)  # a password never reaches a message or a log
    assert all(form in str(caught.value) for form in ("sqlite:///", "memory://", "postgresql://"))


@pytest.mark.parametrize("url, message", [("memory://shared", "memory:// alone"), ("sqlite://", "names no folder")])
def test_open_store_refuses_a_malformed_url(url, message):
    with pytest.raises(StoreError, match=message):
        open_store(url)


# -- every backend answers like the reference -----------------------------------------------

IDS = ["a", "b", "c", "d"]
MEMBERS = ["m1", "m2", "m3"]

# Items shared or of a tenant, members of two tenants (b1, b2): the same ids in several tenants,
# clashes of shared and tenant items, and reads without a tenant that find an id ambiguous.
_items = st.tuples(st.lists(st.sampled_from(IDS), min_size=1, max_size=3), st.sampled_from([None, "b1", "b2"])).map(
    lambda ids_org: ("items", ids_org))
_removals = st.lists(st.sampled_from(IDS), max_size=2).map(lambda ids: ("remove", ids))
_members = st.lists(st.tuples(st.sampled_from(MEMBERS), st.sampled_from(["b1", "b2"])), min_size=1, max_size=2).map(
    lambda ms: ("members", ms))
_event = st.builds(
    lambda m, it, kind, minute, id_: event(m, it, kind, minutes=minute, id_=id_, value=4.0 if kind == "rate" else None),
    st.sampled_from(MEMBERS), st.sampled_from(IDS),
    st.sampled_from(["impression", "start", "complete", "attend", "enroll", "rate"]),
    st.integers(0, 3),  # few distinct times, so ties are common
    st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3", "e4"])),  # few ids: retries and conflicts
)
_events = st.lists(_event, max_size=4).map(lambda es: ("events", es))
_serves = st.lists(
    st.tuples(st.sampled_from(MEMBERS), st.sampled_from(IDS), st.sampled_from(["i1", "i2", "i3", "e1"])), max_size=3
).map(lambda imps: ("served", imps))
_operations = st.lists(st.one_of(_items, _removals, _members, _events, _serves), max_size=12)


def _apply(store: Store, op: tuple) -> object:
    """Run one write; return what it answered (or the error class it raised)."""
    kind, args = op
    try:
        if kind == "items":
            ids, org = args
            # The vector depends on the id and the write, so a replaced item has a new vector.
            return store.upsert_items([item(i, f"{i}-{len(ids)}", org=org) for i in ids],
                                      np.array([[IDS.index(i), len(ids), 0.5, -1] for i in ids], dtype=np.float32))
        if kind == "remove":
            return store.remove_items(args)
        if kind == "members":
            return store.upsert_members([member(m, org=o) for m, o in args])
        if kind == "events":
            return store.record_events(args)
        lists = [served(m, DAY, items=(it,)) for m, it, _ in args]
        return store.put_served(lists, [event(m, it, "impression", id_=i) for m, it, i in args])
    except (ConflictError, ValidationError) as exc:
        return type(exc)


def _answers(store: Store, revs: list[int]) -> dict:
    changes = {}
    for since in revs:
        c = _answered(lambda: store.item_changes(since, DIM))
        changes[since] = c if isinstance(c, type) else (c.rev, [(it, v.tobytes()) for it, v in c.upserted], c.removed)
    return {
        "revisions": store.revisions(),
        "events": store.events(),
        "histories": {m: store.history(m) for m in MEMBERS},
        "columns": _columns(store.history_columns(MEMBERS)),
        "changes": changes,
        "items": list(store.iter_items()),
        "members": list(store.iter_members()),
        "interactions": store.interactions(store.revisions().activity, ["complete", "rate", "start"]),
        "recorded": store.recorded_events(),
        "tenants": store.recorded_tenants(),
        "enrolments": store.enrolments(IDS),
        "branch": store.branch_completions("b1", T0, T0 + dt.timedelta(minutes=2)),
        "served": store.served_between(DAY, DAY),
        "scoped": {tenant: _scoped_answers(store, tenant, revs) for tenant in ("", "b1", "b2")},
    }


def _answered(read) -> object:
    """What a read answered, or the error class it raised (an id of several tenants)."""
    try:
        return read()
    except ValidationError as exc:
        return type(exc)


def _scoped_answers(store: Store, tenant: str, revs: list[int]) -> dict:
    """What one tenant's reads answer; and what reads without a tenant answer, ids ambiguous or not."""
    changes = {}
    for since in revs:
        c = store.item_changes(since, DIM, tenant=tenant)
        changes[since] = (c.rev, [(it, v.tobytes()) for it, v in c.upserted], c.removed)
    columns = _columns(store.history_columns(MEMBERS, tenant=tenant))
    assert columns == _history_columns(store, MEMBERS, tenant=tenant)  # the same events, in the same order
    return {
        "changes": changes,
        "items": list(store.iter_items(tenant=tenant)),
        "got items": store.get_items(IDS, tenant=tenant),
        "members": list(store.iter_members(tenant=tenant)),
        "got members": store.get_members(MEMBERS, tenant=tenant),
        "histories": store.histories(MEMBERS, tenant=tenant),
        "columns": columns,
        "served": store.served_between(DAY, DAY, tenant=tenant),
        "got served": [store.get_served(m, DAY, "minutes=30", tenant=tenant) for m in MEMBERS],
        "enrolments": store.enrolments(IDS, tenant=tenant),
        "interactions": store.interactions(store.revisions().activity, ["complete", "rate"], tenant=tenant),
        "counts": (store.count_items(tenant=tenant), store.count_members(tenant=tenant),
                   store.count_events(tenant=tenant)),
        "holders": (store.item_tenants(IDS), store.member_tenants(MEMBERS)),
        "unscoped": (_answered(lambda: store.get_items(IDS)), _answered(lambda: store.get_members(MEMBERS)),
                     _answered(lambda: [store.get_served(m, DAY, "minutes=30") for m in MEMBERS])),
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_operations)
def test_every_backend_answers_like_the_reference(backends, ops):
    with tempfile.TemporaryDirectory() as scratch:
        reference = MemoryStore()
        others = {name: opener(Path(scratch) / name) for name, opener in backends.items() if name != "memory"}
        try:
            revs = [0]
            for op in ops:
                expected = _apply(reference, op)
                for name, other in others.items():
                    assert _apply(other, op) == expected, (name, op)
                    assert other.revisions() == reference.revisions(), (name, op)
                revs.append(reference.revisions().items)
            want = _answers(reference, revs)
            for name, other in others.items():
                assert _answers(other, revs) == want, name
        finally:
            for other in others.values():
                other.close()


def test_a_sound_store_has_no_damaged_rows_and_passes_its_own_check(store):
    assert store.integrity_problems() == [] and store.damaged_rows(DIM) == []
    store.upsert_items([item("a"), item("b")], vectors(2))
    store.upsert_members([member("m1")])
    store.record_events([event("m1", "a", "complete", id_="e1"), event("m1", "b", "rate", value=4)])
    store.put_served([served("m1", DAY)], [event("m1", "b", "impression", minutes=1, id_="imp")])
    store.repair_indexes()  # rebuilding what is sound changes nothing
    assert store.integrity_problems() == []
    assert store.damaged_rows(DIM) == []
    if not store.url.startswith("memory:"):  # memory keeps vectors as arrays, not bytes to misread
        # Vectors are checked against the dimension asked for.
        assert {(r.table, r.id) for r in store.damaged_rows(DIM + 1)} == {("items", "a"), ("items", "b")}
