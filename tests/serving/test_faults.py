"""Faults in what a store holds: an engine fails with an error naming the damage, never serves a
wrong answer, and recovers by itself once the damage is gone (or rebuilds what it can)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from factories import SAMPLE, make_item

from recsys import Engine, Member
from recsys.exceptions import StoreError

DAY = dt.date(2026, 6, 15)


@pytest.fixture
def store(tmp_path):
    """A store folder with the five sample items and one member, closed (the index file saved)."""
    path = tmp_path / "store"
    engine = Engine.open(path, encoder="tfidf")
    engine.add_items([make_item(i, t, b, topics=tp) for i, t, b, tp in SAMPLE])
    engine.upsert_members([Member(id="m1", name="张伟", org="hxny.fdgs.zb-yunxing", roles=("member",))])
    engine.close()
    return path


def _lists(path):
    engine = Engine.open(path, encoder="tfidf")
    try:
        return engine.daily("m1", DAY, preview=True).to_dict(), len(engine.catalogue())
    finally:
        engine.close()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_an_unreadable_index_file_is_rebuilt_from_the_store(store, damage, caplog):
    expected = _lists(store)
    index_file = store / "index.npz"
    assert index_file.exists()
    data = bytearray(index_file.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        for at in range(64, len(data), 97):
            data[at] ^= 0xFF
    else:
        data = bytearray(b"not an index at all")
    index_file.write_bytes(bytes(data))
    assert _lists(store) == expected
    assert "rebuild" in caplog.text


def test_a_damaged_item_row_fails_naming_it_and_never_serves_an_empty_catalogue(store):
    with sqlite3.connect(store / "recsys.sqlite") as db:
        good = db.execute("SELECT data FROM items WHERE id = 'safety'").fetchone()[0]
        db.execute("""UPDATE items SET data = '{"id": "safety"}' WHERE id = 'safety'""")
    engine = Engine.open(store, encoder="tfidf")
    try:
        for _ in range(2):  # a failed load leaves nothing half-set: the second call fails alike
            with pytest.raises(StoreError, match="'safety'"):
                engine.catalogue()
        with pytest.raises(StoreError, match="'safety'"):
            engine.daily("m1", DAY)
        with sqlite3.connect(store / "recsys.sqlite") as db:
            db.execute("UPDATE items SET data = ? WHERE id = 'safety'", (good,))
        # Repaired: the next call loads the whole catalogue, and nothing was served meanwhile.
        assert len(engine.catalogue()) == len(SAMPLE)
        assert engine.daily("m1", DAY).entries
    finally:
        engine.close()


def test_a_store_opened_read_only_reads_and_refuses_writes_changing_nothing(store):
    expected = _lists(store)
    files = {p.name: p.read_bytes() for p in store.iterdir()}
    engine = Engine.open(store, read_only=True)
    try:
        assert engine.daily("m1", DAY, preview=True).to_dict() == expected[0]
        assert engine.search("安全生产", k=2)
        for write in (lambda: engine.daily("m1", DAY),
                      lambda: engine.add_items([make_item("new", "新内容", "正文")]),
                      lambda: engine.remove_item("safety")):
            with pytest.raises(StoreError, match="read-only"):
                write()
    finally:
        engine.close()
    # (A reader may leave SQLite's empty -wal/-shm files beside them: what it holds is unchanged.)
    assert {name: (store / name).read_bytes() for name in files} == files


def test_a_read_only_open_of_a_missing_store_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        Engine.open(tmp_path / "typo", read_only=True)
    assert not (tmp_path / "typo").exists()


def test_an_index_file_of_another_revision_is_rebuilt(store, tmp_path, caplog):
    expected = _lists(store)
    # The index file of a store that has seen more writes than this one: it reflects a revision
    # this database never had, so it cannot be caught up, only rebuilt.
    other = tmp_path / "other"
    with Engine.open(other, encoder="tfidf") as engine:
        for n in range(3):
            engine.add_items([make_item(f"x{n}", f"其他内容{n}", "完全不同的正文")])
    (store / "index.npz").write_bytes((other / "index.npz").read_bytes())
    assert _lists(store) == expected
    assert "does not match the store; rebuilding" in caplog.text


def test_reads_are_not_held_behind_a_long_write(store):
    """A large ingest embeds before it takes the engine's lock: lists and searches meanwhile are
    answered in a small part of the write's time, not after it."""
    import threading
    import time

    engine = Engine.open(store, encoder="tfidf")
    try:
        engine.search("安全生产", k=3)  # warm: the segmenter's dictionary, the index
        many = [make_item(f"n{k}", f"第{k}讲：基层党建专题", f"支部标准化规范化建设的第{k}个案例。" * 40)
                for k in range(4000)]
        write = threading.Thread(target=engine.add_items, args=(many,))
        reads: list[float] = []
        started = time.perf_counter()
        write.start()
        while write.is_alive():
            began = time.perf_counter()
            engine.search("安全生产", k=3)
            engine.daily("m1", DAY, preview=True)
            reads.append(time.perf_counter() - began)
        written = time.perf_counter() - started
        assert len(engine.catalogue()) == len(SAMPLE) + 4000
    finally:
        engine.close()
    assert len(reads) >= 5, (len(reads), written)
    # Neither the embedding nor the database write nor reading the written rows back holds the
    # readers' lock: only the index taking them in does (before, a read waited a fifth of it).
    assert max(reads) < written / 8, (max(reads), written)


def test_a_read_during_a_write_sees_the_catalogue_from_before_it(store):
    """While this process writes items, reads go on with the catalogue as it was (they neither
    wait for the database write nor catch up on rows still being written); the write's items
    are there once it returns."""
    import threading

    engine = Engine.open(store, encoder="tfidf")
    try:
        before = set(engine.catalogue())
        written, release = threading.Event(), threading.Event()
        upsert = engine.store.upsert_items

        def slow_upsert(items, vectors):  # the database write lands, then the writer is held
            rev = upsert(items, vectors)
            written.set()
            release.wait(30)
            return rev

        engine.store.upsert_items = slow_upsert
        write = threading.Thread(target=engine.add_items, args=([make_item("new1", "新时代党建工作要点", "支部建设")],))
        write.start()
        assert written.wait(30)
        assert set(engine.catalogue()) == before  # committed, but the write has not returned
        assert engine.daily("m1", DAY, preview=True).entries is not None
        release.set()
        write.join(30)
        assert set(engine.catalogue()) == before | {"new1"}
    finally:
        release.set()
        engine.close()


def test_a_failed_catch_up_changes_nothing_and_the_next_read_gets_every_change(store):
    """Another process writes while this one writes too, and reading its rows fails once: the
    catalogue must then be as before, and the next read must show both writes in full (their
    topics and publication lists too, not only the search index)."""
    from recsys.catalogue import Catalogue

    engine, other = Engine.open(store, encoder="tfidf"), Engine.open(store, encoder="tfidf")
    try:
        engine.catalogue()
        items = engine._world.items
        read_ahead, changes = items.read_ahead, engine.store.item_changes

        def other_writes_then_a_read_fails():
            ahead = read_ahead()
            other.add_items([make_item("other1", "其他单位的文章", "其他单位", topics=("其他",))])

            def failing(since, dim):
                engine.store.item_changes = changes  # once
                raise StoreError("database is locked")

            engine.store.item_changes = failing
            return ahead

        items.read_ahead = other_writes_then_a_read_fails
        with pytest.raises(StoreError):
            engine.add_items([make_item("new1", "新时代党建工作要点", "支部建设", topics=("新主题",))])
        items.read_ahead = read_ahead
        catalogue = engine.catalogue()
        rebuilt = Catalogue.build(dict(catalogue.items), items.index_)
        assert {"new1", "other1"} <= set(catalogue.items)
        assert catalogue.by_topic.get("新主题") == rebuilt.by_topic.get("新主题") == ("new1",)
        assert catalogue.by_topic.get("其他") == ("other1",)
        assert catalogue._published == rebuilt._published
    finally:
        engine.close()
        other.close()


def test_close_waits_for_a_write_in_progress(store):
    import threading

    engine = Engine.open(store, encoder="tfidf")
    engine.catalogue()
    inside, release = threading.Event(), threading.Event()
    upsert = engine.store.upsert_items

    def slow_upsert(items, vectors):
        rev = upsert(items, vectors)
        inside.set()
        release.wait(30)
        return rev

    engine.store.upsert_items = slow_upsert
    errors: list[BaseException] = []

    def write():
        try:
            engine.add_items([make_item("new1", "新时代党建工作要点", "支部建设")])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(30)
    closer = threading.Thread(target=engine.close)
    closer.start()
    closer.join(1)
    assert closer.is_alive()  # the store is not closed under the writer
    release.set()
    writer.join(30)
    closer.join(30)
    assert not errors and not closer.is_alive()
    with Engine.open(store, encoder="tfidf") as again:
        assert "new1" in again.catalogue()
