"""What only the SQLite backend has: statement counts, files on disk, and its errors as StoreError."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import gc
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

from recsys import ConflictError, Event, Item, Member, StoreError
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
    """A store holding members m1 to m3 whose statements are kept in ``store.statements``
    (cleared after opening)."""
    statements: list[str] = []
    store = SQLiteStore(tmp_path / "store", trace=statements.append)
    store.upsert_members([Member(id=f"m{k}", name=f"党员{k}", org="b1") for k in (1, 2, 3)])
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
    assert traced.revisions() == Revisions(items=0, members=1, activity=1, roster=1)
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
    store.upsert_members([Member(id="m1", name="张伟", org="b1")])
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


#: A store as schema 1 left it: event ids unique across the store.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (id TEXT PRIMARY KEY, data TEXT NOT NULL, text_hash BLOB NOT NULL, vector BLOB NOT NULL,
                    org TEXT, rev INTEGER NOT NULL);
CREATE INDEX items_rev ON items (rev);
CREATE TABLE removed_items (id TEXT PRIMARY KEY, rev INTEGER NOT NULL);
CREATE INDEX removed_rev ON removed_items (rev);
CREATE TABLE members (id TEXT PRIMARY KEY, data TEXT NOT NULL, org TEXT NOT NULL);
CREATE INDEX members_org ON members (org);
CREATE TABLE served (member TEXT NOT NULL, day TEXT NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL,
                     payload TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (member, day, request));
CREATE INDEX served_day ON served (day);
CREATE TABLE org_names (org TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE artefacts (name TEXT PRIMARY KEY, data BLOB NOT NULL, activity INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE,
    member TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    at TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX events_member ON events (member, ts);
CREATE INDEX events_item ON events (item, kind);
CREATE INDEX events_member_kind ON events (member, kind, ts, item);
INSERT INTO meta VALUES ('schema', '1'), ('rev', '0'), ('activity_seq', '7');
"""


def schema_1_store(folder) -> None:
    """Two tenants' members, their events (e1 in hxny, e2 in zjjt), a removed member's event kept
    under a pseudonym without its id, and sequence numbers given up to 9 (the last ones removed)."""
    folder.mkdir()
    db = sqlite3.connect(folder / SQLiteStore.DB_NAME)
    db.executescript(SCHEMA_1)
    for member in (Member(id="m-a", name="张伟", org="hxny.fdgs"), Member(id="m-b", name="陈静", org="zjjt")):
        db.execute("INSERT INTO members VALUES (?, ?, ?)", (member.id, json.dumps(member.to_dict()), member.org))
    for seq, (id_, member, kind) in enumerate([("e1", "m-a", "complete"), ("e2", "m-b", "complete"),
                                               (None, "anon:1", "start"), ("imp-1", "m-a", "impression")], 1):
        db.execute("INSERT INTO events VALUES (?, ?, ?, 'i1', ?, NULL, ?, ?)",
                   (seq * 2 - 1, id_, member, kind, T0.isoformat(), T0.timestamp()))
    db.execute("UPDATE sqlite_sequence SET seq = 9 WHERE name = 'events'")
    db.commit()
    db.close()


def test_a_schema_1_store_gets_event_ids_scoped_per_tenant(tmp_path):
    schema_1_store(tmp_path / "old")
    store = SQLiteStore(tmp_path / "old")
    try:
        assert [(e.id, e.member) for e in store.events()] == [
            ("e1", "m-a"), ("e2", "m-b"), (None, "anon:1"), ("imp-1", "m-a")]
        assert store.recorded_tenants() == [(1, "hxny"), (3, "zjjt"), (5, ""), (7, "hxny")]
        assert store.revisions().activity == 7 and store.integrity_problems() == []
        # The new rule: zjjt may use e1; within hxny, a retry is skipped and a change is a conflict.
        assert store.record_events([Event(id="e1", member="m-b", item="i2", kind="start", at=T0)]) == 1
        assert store.record_events([Event(id="e1", member="m-a", item="i1", kind="complete", at=T0)]) == 0
        with pytest.raises(ConflictError, match="'e1'"):
            store.record_events([Event(id="e1", member="m-a", item="i1", kind="skip", at=T0)])
        assert store.recorded_events(after=7) == [(10, store.events("m-b")[-1])]  # no number given twice
        assert store.get_meta("schema") is None and store._db().execute(
            "SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
        indexes = {r[0] for r in store._db().execute("SELECT name FROM sqlite_master WHERE tbl_name = 'events'")}
        assert {"events_member", "events_item", "events_member_kind_tenant"} <= indexes and "events_member_kind" not in indexes
    finally:
        store.close()


@contextlib.contextmanager
def read_only_and_unchanged(folder) -> Iterator[SQLiteStore]:
    """The store in ``folder`` opened read-only; checked afterwards to be byte for byte as it was."""
    before = (folder / SQLiteStore.DB_NAME).read_bytes()
    store = SQLiteStore(folder, read_only=True)
    try:
        yield store
    finally:
        store.close()
    assert (folder / SQLiteStore.DB_NAME).read_bytes() == before


def test_a_schema_1_store_opened_read_only_is_read_as_it_is(tmp_path):
    schema_1_store(tmp_path / "old")
    with read_only_and_unchanged(tmp_path / "old") as store:
        assert [e.id for e in store.events()] == ["e1", "e2", None, "imp-1"]
        assert store.recorded_tenants() == [(1, "hxny"), (3, "zjjt"), (5, ""), (7, "hxny")]
        assert store.damaged_rows(None) == []


#: A store as schema 2 left it: event ids per tenant, member and item ids across the store.
SCHEMA_2 = SCHEMA_1.replace("    id TEXT UNIQUE,", "    id TEXT,").replace(
    "    ts REAL NOT NULL\n);", "    ts REAL NOT NULL,\n    tenant TEXT NOT NULL DEFAULT '',\n    UNIQUE (tenant, id)\n);").replace(
    "('schema', '1')", "('schema', '2')")


def _item(id_: str, org: str | None, title: str = "材料") -> Item:
    return Item(id=id_, title=title, body="正文", kind="article", minutes=10, org=org, published=dt.date(2026, 1, 1))


def schema_2_store(folder) -> None:
    """Members and items of two tenants and a shared item, a removed item, a served list and events."""
    folder.mkdir()
    db = sqlite3.connect(folder / SQLiteStore.DB_NAME)
    db.executescript(SCHEMA_2)
    for m in (Member(id="m-a", name="张伟", org="hxny.fdgs"), Member(id="m-b", name="陈静", org="zjjt")):
        db.execute("INSERT INTO members VALUES (?, ?, ?)", (m.id, json.dumps(m.to_dict()), m.org))
    for it in (_item("x1", "hxny.fdgs"), _item("x2", "zjjt"), _item("s1", None)):
        db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, 1)",
                   (it.id, json.dumps(it.to_dict(), default=str), b"h" * 16, np.ones(4, dtype=np.float32).tobytes(),
                    it.org))
    db.execute("INSERT INTO removed_items VALUES ('gone', 1)")
    db.execute("INSERT INTO meta VALUES ('opening_balances', ?)",
               (json.dumps([{"member": "m-a", "year": 2026, "hours": 2.0}, {"member": "gone", "year": 2026, "hours": 1.0}]),))
    db.execute("UPDATE meta SET value = '1' WHERE key = 'rev'")
    db.execute("INSERT INTO served VALUES ('m-a', '2026-03-02', 'minutes=30', '0:0', '{\"entries\": []}', 1.0)")
    db.execute("INSERT INTO events (id, member, item, kind, value, at, ts, tenant)"
               " VALUES ('e1', 'm-a', 'x1', 'complete', NULL, ?, ?, 'hxny')", (T0.isoformat(), T0.timestamp()))
    db.commit()
    db.close()


def test_a_schema_2_store_gets_member_and_item_ids_scoped_per_tenant(tmp_path):
    schema_2_store(tmp_path / "old")
    store = SQLiteStore(tmp_path / "old")
    try:
        assert store._db().execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
        assert store.member_tenants(["m-a", "m-b"]) == {"m-a": ["hxny"], "m-b": ["zjjt"]}
        assert store.item_tenants(["x1", "x2", "s1"]) == {"x1": ["hxny"], "x2": ["zjjt"], "s1": [""]}
        assert store.get_served("m-a", dt.date(2026, 3, 2), "minutes=30", tenant="hxny") is not None
        assert store.item_changes(0, 4, tenant="zjjt").removed == ["gone"]
        assert [e.id for e in store.history("m-a", tenant="hxny").events] == ["e1"]
        assert [b["tenant"] for b in json.loads(store.get_meta("opening_balances"))] == ["hxny", ""]
        # The new rule: zjjt may hold m-a and x1 of its own; hxny's stay as they were.
        store.upsert_members([Member(id="m-a", name="李娜", org="zjjt.b1")])
        store.upsert_items([_item("x1", "zjjt", "浙江的x1")], np.ones((1, 4), dtype=np.float32))
        assert store.get_members(["m-a"], tenant="hxny")["m-a"].name == "张伟"
        assert store.get_items(["x1"], tenant="zjjt")["x1"].title == "浙江的x1"
        assert store.get_items(["x1"], tenant="hxny")["x1"].title == "材料"
        with pytest.raises(ConflictError, match="shared"):
            store.upsert_items([_item("s1", "hxny")], np.ones((1, 4), dtype=np.float32))
        indexes = {r[0] for r in store._db().execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"items_rev", "items_id", "removed_rev", "members_org", "members_id", "served_day"} <= indexes
        assert store.integrity_problems() == [] and store.damaged_rows(4) == []
    finally:
        store.close()


def test_a_schema_2_store_opened_read_only_is_read_as_the_upgrade_would_hold_it(tmp_path):
    schema_2_store(tmp_path / "old")
    with read_only_and_unchanged(tmp_path / "old") as store:
        assert store.member_tenants(["m-a", "m-b"]) == {"m-a": ["hxny"], "m-b": ["zjjt"]}
        assert [i.id for i in store.iter_items(tenant="hxny")] == ["s1", "x1"]
        assert store.get_served("m-a", dt.date(2026, 3, 2), "minutes=30", tenant="hxny") is not None
        assert store.branch_completions("hxny.fdgs", T0, T0 + dt.timedelta(hours=1)) == ({"x1": 1}, 1)
        assert store.damaged_rows(4) == []


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


def test_a_branchs_completions_are_read_from_the_index_alone(tmp_path):
    store = SQLiteStore(tmp_path / "s")
    try:
        # The members of a branch are named by (tenant, id): the tenant must be in the covering
        # index, or every completion of the window is read from the table too.
        since = dt.datetime(2026, 1, 1, tzinfo=TZ)
        plan = store._db().execute(
            f"EXPLAIN QUERY PLAN SELECT item, member FROM {store._events_by_member}"
            " WHERE member IN (SELECT id FROM members WHERE org = ?) AND tenant = ?"
            " AND kind IN ('complete', 'attend') AND ts >= ? AND ts < ?",
            ("hxny.a", "hxny", since.timestamp(), since.timestamp() + 86400)).fetchall()
        assert any("COVERING INDEX events_member_kind_tenant" in row[-1] for row in plan), plan
        assert store.branch_completions("hxny.a", since, since + dt.timedelta(days=1)) == ({}, 0)
    finally:
        store.close()


def test_a_members_served_list_is_found_by_member_not_by_reading_the_days(tmp_path):
    """After the nightly batch a day holds a list per member: one asked again (no tenant given,
    which leads the key) is found by the member, not among every list of the day."""
    store = SQLiteStore(tmp_path / "s")
    try:
        for sql, args in (("SELECT state FROM served WHERE member = ? AND day = ? AND request = ?", ("m1", "2026-12-01", "minutes=30")),
                          ("SELECT state FROM served WHERE day = ? AND member IN (?, ?)", ("2026-12-01", "m1", "m2"))):
            plan = store._db().execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
            assert any("INDEX served_member" in row[-1] for row in plan), plan
    finally:
        store.close()


def test_listing_an_embedding_cache_that_was_never_written_creates_nothing(tmp_path):
    from recsys.storage import SQLiteEmbeddingCache

    cache = SQLiteEmbeddingCache(tmp_path / "cache.sqlite")
    assert list(cache.entries()) == [] and not list(tmp_path.iterdir())
    cache.put_many("", {b"": np.ones(2, dtype=np.float32), b"k": np.zeros(2, dtype=np.float32)})
    # The first entry there can be, an empty model name and key, is listed too.
    assert [(m, k) for m, k, _ in cache.entries(page=1)] == [("", b""), ("", b"k")]
    with pytest.raises(ValueError):
        list(cache.entries(page=0))


def _in_database_file(store: SQLiteStore) -> int:
    """Events the database file itself holds, the write-ahead log left unread."""
    uri = (store.files / SQLiteStore.DB_NAME).as_uri() + "?mode=ro&immutable=1"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        except sqlite3.OperationalError:  # not even the tables yet
            return 0


def test_a_write_reaches_the_database_file_soon_though_no_commit_checkpoints(tmp_path):
    store = SQLiteStore(tmp_path / "store")
    try:
        # A few pages of log, far below the count at which a commit checkpoints by itself.
        store.upsert_members([Member(id="m1", name="张伟", org="b1")])
        store.record_events([Event(member="m1", item="a", kind="complete", at=T0)])
        for _ in range(100):  # the store's thread checkpoints within about half a second
            if _in_database_file(store) == 1:
                break
            time.sleep(0.05)
        assert _in_database_file(store) == 1
        thread = store._checkpoints.thread
        assert thread is not None and thread.is_alive()
    finally:
        store.close()
    assert not thread.is_alive() and store._checkpoints.thread is None


def test_a_close_between_the_threads_wait_and_its_clear_still_stops_it():
    """Stages the interleaving: the thread's wait for the next checkpoint times out, close() sets
    its flags, and only then does the thread clear the wake-up close() gave it."""
    from recsys.storage._checkpoints import Checkpointer

    checkpoints = Checkpointer(lambda: sqlite3.connect(":memory:"), lambda: True, every=0.01)
    closing = threading.Event()

    class LateClear(threading.Event):
        def set(self):
            super().set()
            if checkpoints._stop.is_set():
                closing.set()  # close() woke the thread

        def clear(self):
            if not checkpoints._stop.is_set():
                closing.wait(5)  # the clear comes after close() set both flags
            super().clear()

    checkpoints._written = LateClear()
    checkpoints.wrote()
    thread = checkpoints.thread
    time.sleep(0.1)  # the thread waits in its clear() for close()
    closer = threading.Thread(target=checkpoints.close, daemon=True)
    closer.start()
    closer.join(10)
    assert not closer.is_alive() and not thread.is_alive()


def test_a_reader_starts_no_checkpoints_and_a_store_nobody_closed_lets_its_thread_go(tmp_path):
    store = SQLiteStore(tmp_path / "store")
    store.upsert_members([Member(id="m1", name="张伟", org="b1")])
    store.record_events([Event(member="m1", item=f"i{n}", kind="complete", at=T0) for n in range(3)])
    store.close()
    reader = SQLiteStore(tmp_path / "store", read_only=True)
    try:
        assert reader.revisions().activity == 3 and reader._checkpoints is None
    finally:
        reader.close()
    # Left open and dropped: the thread holds the store weakly, so it is collected all the same.
    forgotten = SQLiteStore(tmp_path / "store")
    forgotten.record_events([Event(member="m1", item="x", kind="complete", at=T0)])
    gone = weakref.ref(forgotten)
    del forgotten
    gc.collect()
    assert gone() is None
