"""What only the SQLite backend has: statement counts, files on disk, and its errors as StoreError."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pytest

from recsys import Event, Member, StoreError
from recsys.records import TZ
from recsys.storage import Revisions, ServedList, SQLiteStore, open_store
from recsys.storage._sqlite_errors import sqlite_errors

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
DAY = T0.date()


def impressions(n: int, member: str = "m1") -> list[Event]:
    return [Event(member=member, item=f"i{k}", kind="impression", at=T0, id=f"imp-{member}-{k}") for k in range(n)]


def served(member: str, request: str = "minutes=30") -> ServedList:
    return ServedList(member, DAY, request, "0:0", {"entries": []}, 0.0)


@pytest.fixture
def traced(tmp_path):
    """A store whose statements are kept in ``store.statements`` (cleared after opening)."""
    statements: list[str] = []
    store = SQLiteStore(tmp_path / "store", trace=statements.append)
    statements.clear()
    store.statements = statements
    yield store
    store.close()


def test_trace_sees_every_statement(traced):
    traced.upsert_members([Member(id="m1", name="张伟", org="b1")])
    assert traced.statements[0] == "BEGIN IMMEDIATE" and traced.statements[-1] == "COMMIT"
    assert any(s.startswith("INSERT OR REPLACE INTO members") for s in traced.statements)


def test_revisions_and_history_are_one_statement_each(traced):
    traced.record_events([Event(member="m1", item="a", kind="complete", at=T0)])
    traced.statements.clear()
    assert traced.revisions() == Revisions(items=0, members=0, activity=1)
    assert len(traced.statements) == 1
    traced.statements.clear()
    assert traced.history("m1").state == "1:1"
    assert len(traced.statements) == 1


def test_put_served_is_one_transaction_with_one_insert_per_chunk_of_impressions(traced):
    traced.put_served([served("m1"), served("m2")], impressions(3))
    inserts = [s for s in traced.statements if s.startswith("INSERT OR IGNORE INTO events")]
    assert len(inserts) == 1
    assert traced.statements.count("BEGIN IMMEDIATE") == traced.statements.count("COMMIT") == 1
    traced.statements.clear()
    traced.put_served([served("m3")], impressions(1200, "m3"))
    assert sum(s.startswith("INSERT OR IGNORE INTO events") for s in traced.statements) == 3  # 500 rows each
    assert traced.count_events() == 1203 and traced.revisions().activity == 0


def test_served_lists_commit_without_syncing_but_events_stay_synced(traced):
    # A served list is made again the same if lost with the machine; recorded events are not.
    traced.record_events([Event(member="m1", item="a", kind="complete", at=T0)])
    traced.put_served([served("m1")], impressions(2))
    traced.record_events([Event(member="m1", item="b", kind="complete", at=T0)])
    pragmas = [s for s in traced.statements if s.startswith("PRAGMA synchronous")]
    assert pragmas == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
    normal, full = (traced.statements.index(p) for p in pragmas)
    assert normal < traced.statements.index("BEGIN IMMEDIATE", normal) < full
    # The connection is back to syncing every commit: the next events wait for the disk.
    assert traced._db().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_everything_survives_reopening(tmp_path):
    store = open_store(tmp_path / "s")
    store.upsert_items([], np.zeros((0, 4), dtype=np.float32))
    store.upsert_members([Member(id="m1", name="张伟", org="b1")])
    store.record_events([Event(member="m1", item="a", kind="complete", at=T0, id="e1")])
    store.put_served([served("m1")], impressions(2))
    store.set_meta({"dim": "4"})
    store.embedding_cache().put_many("model", {b"k": np.ones(4, dtype=np.float32)})
    before = (store.revisions(), store.events(), store.get_served("m1", DAY, "minutes=30"))
    store.close()

    again = open_store(f"sqlite://{tmp_path / 's'}")
    assert (again.revisions(), again.events(), again.get_served("m1", DAY, "minutes=30")) == before
    assert again.get_meta("dim") == "4"
    assert again.embedding_cache().get_many("model", [b"k"])[b"k"].tolist() == [1.0] * 4
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "embeddings.sqlite", "recsys.sqlite",
    ]
    again.close()


def test_a_store_written_before_the_activity_sequence_was_kept_is_scanned_once(tmp_path):
    store = SQLiteStore(tmp_path / "old")
    store.record_events([Event(member="m1", item="a", kind="complete", at=T0),
                         Event(member="m1", item="b", kind="impression", at=T0)])
    store.close()
    with sqlite3.connect(tmp_path / "old" / SQLiteStore.DB_NAME) as db:  # as an older recsys left it
        db.execute("DELETE FROM meta WHERE key = 'activity_seq'")
    db.close()

    statements: list[str] = []
    reopened = SQLiteStore(tmp_path / "old", trace=statements.append)
    assert any("MAX(seq)" in s for s in statements)
    statements.clear()
    assert reopened.revisions().activity == 1 and len(statements) == 1
    reopened.close()


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path):
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / SQLiteStore.DB_NAME).write_bytes(b"this is not a database, just some bytes\n" * 100)
    with pytest.raises(StoreError, match="not a recsys database") as caught:
        open_store(folder)
    assert str(folder / SQLiteStore.DB_NAME) in str(caught.value)
    assert not isinstance(caught.value, sqlite3.Error)


def test_a_file_damaged_after_opening_is_a_store_error_too(tmp_path):
    store = open_store(tmp_path / "s")
    store.close()  # the next call opens a new connection, on what is there now
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "s" / f"{SQLiteStore.DB_NAME}{suffix}").unlink(missing_ok=True)
    (tmp_path / "s" / SQLiteStore.DB_NAME).write_bytes(b"\x00garbage" * 512)
    for call in (store.revisions, lambda: list(store.iter_items()), lambda: store.history("m1")):
        with pytest.raises(StoreError, match="not a recsys database"):
            call()


def test_a_store_from_a_newer_recsys_is_refused(tmp_path):
    SQLiteStore(tmp_path / "s").close()
    with sqlite3.connect(tmp_path / "s" / SQLiteStore.DB_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.close()
    with pytest.raises(StoreError, match="newer recsys"):
        SQLiteStore(tmp_path / "s")


def test_a_busy_database_says_try_again(tmp_path):
    path = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(StoreError, match="busy.*try again") as caught:
            with sqlite_errors(path):
                waiter.execute("BEGIN IMMEDIATE")
        assert str(path) in str(caught.value)
    finally:
        waiter.close()
        holder.close()


def test_the_embedding_cache_is_one_per_store_on_its_own_file(tmp_path):
    store = SQLiteStore(tmp_path / "s")
    cache = store.embedding_cache()
    assert store.embedding_cache() is cache and cache.path == tmp_path / "s" / SQLiteStore.CACHE_NAME
    store.close()
