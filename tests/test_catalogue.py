"""The catalogue's columns kept current by the items that changed, against building them anew."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Item, Schedule
from recsys.catalogue import Catalogue, Columns
from recsys.records import TZ

DAY = dt.date(2026, 6, 15)
ROLES = ["member", "cadre", "young", "retired"]
TOPICS = ["党史", "党章", "廉洁从业", "安全生产"]
ORGS = [None, "t", "t.a", "u"]


@st.composite
def items(draw, id_: str, others: list[str]):
    offline = draw(st.booleans())
    schedule = None
    if offline:
        starts = dt.datetime.combine(DAY + dt.timedelta(days=draw(st.integers(-5, 20))), dt.time(9), TZ)
        schedule = Schedule(starts=starts, ends=starts + dt.timedelta(hours=draw(st.integers(1, 50))),
                            location=draw(st.sampled_from(["太原", "大同", ""])) + "·某地",
                            capacity=draw(st.none() | st.integers(1, 5)))
    return Item(
        id=id_, title=draw(st.sampled_from(["学习材料", "过政治生日", "专题党课"])) + id_, body="",
        kind="activity" if offline else draw(st.sampled_from(["article", "quiz", "video", "case"])),
        mode="offline" if offline else "online", minutes=draw(st.integers(5, 90)),
        topics=tuple(draw(st.lists(st.sampled_from(TOPICS), max_size=3, unique=True))),
        roles=tuple(draw(st.lists(st.sampled_from(ROLES), max_size=2, unique=True))),
        level=draw(st.integers(1, 3)), published=DAY - dt.timedelta(days=draw(st.integers(0, 60))),
        expires=draw(st.none() | st.just(DAY + dt.timedelta(days=30))),
        requires=tuple(draw(st.lists(st.sampled_from([o for o in others if o != id_] + ["gone"]), max_size=2, unique=True))),
        schedule=schedule, org=draw(st.sampled_from(ORGS)),
    )


@st.composite
def changes(draw):
    """A catalogue, then what a revision does to it, applied as the catalogue cache applies it."""
    ids = [f"i{k:02d}" for k in range(draw(st.integers(0, 12)))]
    before = {i: draw(items(i, ids[:k])) for k, i in enumerate(ids)}
    removed = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    replaced = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    added = [f"n{k}" for k in range(draw(st.integers(0, 4)))]
    upserted = [draw(items(i, ids + added[:k])) for k, i in enumerate([i for i in replaced if i not in removed] + added)]
    after = dict(before)
    after.update((it.id, it) for it in upserted)
    for i in removed:
        after.pop(i, None)
    return before, after, [it.id for it in upserted]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes())
def test_updated_columns_equal_columns_built_anew(change):
    before, after, changed = change
    updated = Columns.build(before).updated(after, changed)
    built = Columns.build(after)
    for f in dataclasses.fields(Columns):
        if f.name.startswith("_"):
            continue
        got, want = getattr(updated, f.name), getattr(built, f.name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want), f.name
        else:
            assert got == want, f.name
    # The catalogue kept current the same way reads the same.
    old = Catalogue.build(before)
    old.columns  # built, so the update can start from it
    new = Catalogue.build(after, previous=old, changed=changed)
    assert new.columns.ids == built.ids and new.by_topic == Catalogue.build(after).by_topic


def test_a_replaced_item_moves_to_its_new_codes():
    a = Item(id="a", title="党课", body="", kind="article", minutes=10, published=DAY, topics=("党史",), roles=("cadre",))
    b = Item(id="b", title="案例", body="", kind="case", minutes=10, published=DAY, topics=("党章",))
    cols = Columns.build({"a": a, "b": b})
    a2 = dataclasses.replace(a, topics=("廉洁从业",), roles=(), kind="quiz")
    new = cols.updated({"a": a2, "b": b}, ["a"])
    # Known answers: 党史 and cadre no longer used by any item, so they leave the vocabularies.
    assert new.topic_names == ("党章", "廉洁从业") and new.role_names == ()
    assert new.kinds == ("case", "quiz") and new.kinds[new.kind[0]] == "quiz"
    assert new.topics[0].tolist() == [False, True] and not new.targeted.any()


def test_lookup_gives_rows_and_values_in_the_mappings_order():
    a = Item(id="a", title="党课", body="", kind="article", minutes=10, published=DAY)
    b = Item(id="b", title="案例", body="", kind="case", minutes=10, published=DAY)
    cols = Columns.build({"a": a, "b": b})
    rows, values = cols.lookup({"b": 3, "gone": 7, "a": 1})
    # Known answers: an id outside the catalogue keeps its place with row -1.
    assert rows.tolist() == [cols.row["b"], -1, cols.row["a"]] and values.tolist() == [3.0, 7.0, 1.0]
    rows, values = cols.lookup({})
    assert rows.shape == values.shape == (0,)


def test_an_organisation_sees_its_own_owners_and_those_above_it():
    made = {o: Item(id=f"i-{o}", title="党课", body="", kind="article", minutes=10, published=DAY, org=o)
            for o in ("t", "t.a", "t.b", "u")}
    cols = Columns.build(made)
    assert cols.owners == ("t", "t.a", "t.b", "u")
    # Known answers: t.a sees t and itself, not its sibling or another enterprise; the last entry
    # (shared items) is always seen.
    assert cols.seen_by("t.a").tolist() == [True, True, False, False, True]
    assert cols.seen_by("t").tolist() == [True, False, False, False, True]
    assert cols.seen_by("v").tolist() == [False, False, False, False, True]
    assert cols.seen_by("t.a") is cols.seen_by("t.a") and not cols.seen_by("t.a").flags.writeable
