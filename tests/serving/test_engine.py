"""The engine on its embedded store: writes, reads, search, similar, crashes and bad input."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from factories import make_item
from recsys import (
    ConflictError,
    Engine,
    Event,
    HashingTfidfEncoder,
    NotFoundError,
    StoreError,
    ValidationError,
)
from recsys.records import TZ


class CountingEncoder(HashingTfidfEncoder):
    """The model-free encoder, counting the texts it is asked to embed (items' texts in
    ``calls``, query texts in ``queries``)."""

    def __init__(self):
        super().__init__(dim=256)
        self.calls = 0
        self.queries: list[str] = []

    def encode(self, texts, *, query=False):
        if query:
            self.queries += texts
        else:
            self.calls += len(texts)
        return super().encode(texts, query=query)


def at(day=1, hour=20):
    return dt.datetime(2026, 11, day, hour, tzinfo=TZ)


def test_search_finds_the_matching_item(engine):
    hits = engine.search("嘉兴南湖红船 第一次全国代表大会", k=3)
    assert hits[0].item.id == "history"
    assert hits[0].score > hits[1].score
    assert engine.search("涉密计算机 互联网", k=1)[0].item.id == "secrecy"


def test_similar_excludes_the_item_itself(engine):
    engine.add_items([make_item("safety2", "安全生产隐患排查", "有限空间作业先通风、再检测、后作业，落实安全生产责任制。")])
    hits = engine.similar("safety", k=3)
    assert hits[0].item.id == "safety2"
    assert "safety" not in [h.item.id for h in hits]
    with pytest.raises(NotFoundError, match="no item with id 'nope'"):
        engine.similar("nope")


def test_an_item_is_searchable_once_added_and_gone_once_removed(engine):
    engine.add_items([make_item("new", "数字化转型与智慧电厂", "数字化转型推动电厂智能巡检。")])
    assert engine.search("智慧电厂 数字化", k=1)[0].item.id == "new"
    engine.remove_item("new")
    assert "new" not in [h.item.id for h in engine.search("智慧电厂 数字化", k=10)]
    with pytest.raises(NotFoundError):
        engine.item("new")
    with pytest.raises(NotFoundError):
        engine.remove_item("new")


def test_updating_an_item_replaces_it(engine):
    engine.add_items([make_item("safety", "保密工作新规", "涉密载体管理与保密检查。")])
    assert engine.item("safety").title == "保密工作新规"
    assert engine.stats()["items"] == 5


def test_reopening_restores_everything(tmp_path, sample_items, sample_member):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(sample_items)
        eng.upsert_members([sample_member])
        eng.record([Event(member="m1", item="safety", kind="complete", at=at())])
        before = [h.item.id for h in eng.search("安全生产", k=5)]
    with Engine.open(tmp_path / "s") as eng:  # the store remembers its encoder
        assert eng.encoder.name.startswith("tfidf")
        assert [h.item.id for h in eng.search("安全生产", k=5)] == before
        assert eng.member("m1") == sample_member
        assert [e.item for e in eng.events("m1")] == ["safety"]


def test_unchanged_items_are_not_embedded_again(tmp_path, sample_items):
    enc = CountingEncoder()
    with Engine.open(tmp_path / "s", encoder=enc) as eng:
        eng.add_items(sample_items)
        assert enc.calls == 5
        # With the items, what lists ask on the query side: role descriptions and topics, once.
        asked = eng.curriculum.query_texts() + [t for it in sample_items for t in it.topics]
        assert sorted(enc.queries) == sorted(set(asked))
        eng.add_items(sample_items)  # same text: nothing to embed
        assert enc.calls == 5 and len(enc.queries) == len(set(asked))
        eng.add_items([make_item("safety", "安全生产月活动要点", sample_items[0].body, level=2)])
        assert enc.calls == 5  # metadata changed, text did not
        eng.remove_item("integrity")
        eng.add_items([sample_items[1]])  # re-added: the embedding cache answers
        assert enc.calls == 5
    with Engine.open(tmp_path / "s2", encoder=enc) as eng:
        eng.add_items(sample_items)  # another store, same cache file? no: each store has its own
        assert enc.calls == 10


def test_a_bad_batch_writes_nothing(engine):
    good = make_item("ok", "好的条目", "内容")
    with pytest.raises(ValidationError) as err:
        engine.add_items([good.to_dict(), {**good.to_dict(), "id": "bad", "minutes": -1}])
    assert err.value.field == "minutes" and err.value.record == "bad"
    with pytest.raises(ValidationError, match="duplicate item id"):
        engine.add_items([good, good])
    assert engine.stats()["items"] == 5
    with pytest.raises(NotFoundError):
        engine.item("ok")


def test_events_need_known_members_and_items(engine):
    bad = [
        Event(member="m1", item="safety", kind="complete", at=at()),
        Event(member="ghost", item="safety", kind="complete", at=at()),
        Event(member="m1", item="nothing", kind="start", at=at()),
    ]
    with pytest.raises(ValidationError) as err:
        engine.record(bad)
    assert {(p.line, p.field) for p in err.value.problems} == {(2, "member"), (3, "item")}
    assert engine.events() == []


def test_events_are_idempotent_on_id(engine):
    batch = [
        {"id": "e1", "member": "m1", "item": "safety", "kind": "complete", "at": "2026-11-01T20:00:00"},
        {"id": "e2", "member": "m1", "item": "history", "kind": "rate", "value": 5, "at": "2026-11-01T21:00:00"},
    ]
    assert engine.record(batch) == 2
    assert engine.record(batch) == 0  # a retried batch is not counted twice
    assert len(engine.events("m1")) == 2
    with pytest.raises(ConflictError, match="e1"):
        engine.record([{**batch[0], "kind": "skip"}, {**batch[1], "id": "e3"}])
    assert len(engine.events("m1")) == 2  # all or nothing


def test_search_input_errors(engine):
    with pytest.raises(ValidationError):
        engine.search("   ")
    with pytest.raises(ValidationError):
        engine.search("党史", k=0)


def test_store_refuses_another_encoder(tmp_path, sample_items):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(sample_items)
    with pytest.raises(StoreError, match="encoder"):
        Engine.open(tmp_path / "s", encoder=CountingEncoder())


def test_store_path_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="not a folder|cannot create"):
        Engine.open(tmp_path / "f", encoder="tfidf")


def test_corrupt_index_file_is_rebuilt(tmp_path, sample_items):
    with Engine.open(tmp_path / "s", encoder="tfidf") as eng:
        eng.add_items(sample_items)
        eng.index().search(np.zeros((1, eng.dim), dtype=np.float32), 1)
    (tmp_path / "s" / "index.npz").write_bytes(b"garbage")
    with Engine.open(tmp_path / "s") as eng:
        assert eng.search("保密", k=1)[0].item.id == "secrecy"


CRASH = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from factories import make_item
    from recsys import Engine
    eng = Engine.open({store!r}, encoder="tfidf")
    eng.add_items([make_item("late", "新时代国企党建工作要点", "把党的领导融入公司治理各环节。")])
    eng.remove_item("history")
    os._exit(0)  # die without saving the index: the database has the writes, the index file not
    """
)


def test_index_catches_up_after_a_crash(tmp_path, sample_items):
    store = str(tmp_path / "s")
    with Engine.open(store, encoder="tfidf") as eng:
        eng.add_items(sample_items)
    tests = str(__import__("pathlib").Path(__file__).parents[1])
    subprocess.run([sys.executable, "-c", CRASH.format(store=store, tests=tests)], check=True)
    with Engine.open(store) as eng:
        ids = [h.item.id for h in eng.search("国企党建 公司治理", k=10)]
        assert ids[0] == "late"
        assert "history" not in ids
        assert len(eng.index()) == 5


def test_a_second_engine_on_the_same_store_sees_writes(tmp_path, sample_items):
    a = Engine.open(tmp_path / "s", encoder="tfidf")
    b = Engine.open(tmp_path / "s")
    a.add_items(sample_items)
    assert b.search("保密", k=1)[0].item.id == "secrecy"
    a.remove_item("secrecy")
    assert "secrecy" not in [h.item.id for h in b.search("保密", k=5)]
    a.close()
    b.close()


def test_a_preview_is_the_list_but_stores_nothing(engine):
    day = dt.date(2026, 6, 1)
    before = len(engine.events())
    shown = engine.daily("m1", day=day, preview=True)
    assert shown.entries
    assert len(engine.events()) == before  # no impressions
    assert engine.store.get_served("m1", day, f"minutes={shown.budget}") is None
    assert engine.daily("m1", day=day) == shown  # the real request makes the same list, and keeps it
    assert len(engine.events()) == before + len(shown.entries)


class _Tiny:
    """An encoder of another dimension than the model-free one."""

    name, dim = "tiny-8", 8

    def encode(self, texts, *, query=False):
        out = np.zeros((len(texts), 8), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_an_empty_store_may_change_encoder_and_a_full_one_may_not(tmp_path, sample_items):
    Engine.open(tmp_path / "s", encoder="tfidf").close()
    with Engine.open(tmp_path / "s", encoder=_Tiny()) as eng:  # empty: the new dimension is taken
        eng.add_items(sample_items)
        assert eng.dim == 8 and eng.search("保密", k=1)
    with pytest.raises(StoreError, match="tiny-8"):
        Engine.open(tmp_path / "s", encoder="tfidf")


def test_a_path_running_past_the_last_year_a_date_may_take_is_refused_by_its_days(engine):
    assert len(engine.path("m1", start="2199-12-25", days=7).days) == 7
    with pytest.raises(ValidationError, match="runs past 2199-12-31") as refused:
        engine.path("m1", start="2199-12-25", days=14)
    assert refused.value.field == "days"
