"""What only the PostgreSQL backend has: its schema versions, its errors, and several writers at once.

The contract (``test_store_contract.py``) already runs on PostgreSQL; these tests cover what a
single-process backend cannot show. Several processes are stood in for by several stores (each
with its own connections) written from threads: to the server they are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
import pytest

from recsys import ConflictError, Engine, Event, Item, Member, StoreError
from recsys.records import TZ
from recsys.storage import Revisions, open_store
from recsys.storage.postgres import SCHEMA_VERSION, PostgresStore

from postgres_cluster import PostgresCluster, free_port

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


def members_of_events(store) -> None:
    """The members m0 to m6 that :func:`events` names (a store records events of its members)."""
    store.upsert_members([Member(id=f"m{k}", name=f"党员{k}", org="b1") for k in range(7)])


def events(n: int, prefix: str = "e") -> list[Event]:
    return [Event(id=f"{prefix}{k}", member=f"m{k % 7}", item=f"i{k % 5}", kind="complete",
                  at=T0 + dt.timedelta(seconds=k)) for k in range(n)]


def test_a_postgresql_url_opens_a_postgres_store_whose_url_hides_the_password(postgres):
    url = postgres.new_database()
    store = open_store(url)
    try:
        assert isinstance(store, PostgresStore) and store.files is None
        assert postgres.PASSWORD not in store.url and ":***@" in store.url
        assert store.url.endswith(url.rsplit("@", 1)[1])
    finally:
        store.close()


def test_an_unreachable_server_is_a_store_error_naming_the_url_without_the_password():
    port = free_port()
    with pytest.raises(StoreError) as caught:
        open_store(f"postgresql://recsys:hunter2@127.0.0.1:{port}/recsys")
    assert f"postgresql://recsys:***@127.0.0.1:{port}/recsys" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_wrong_password_is_a_store_error_without_either_password(postgres):
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        open_store(postgres.url("postgres", password="wrong-pw"))
    assert "wrong-pw" not in str(caught.value) and postgres.PASSWORD not in str(caught.value)


def test_a_missing_database_is_a_store_error(postgres):
    with pytest.raises(StoreError, match='database "nowhere" does not exist'):
        open_store(postgres.url("nowhere"))


def test_a_newer_schema_is_refused_naming_both_versions(postgres):
    url = postgres.new_database()
    open_store(url).close()
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer than the {SCHEMA_VERSION}"):
        open_store(url)


def test_an_older_schema_is_upgraded_and_keeps_its_data(postgres):
    url = postgres.new_database()
    store = open_store(url)
    members_of_events(store)
    store.record_events(events(3))
    store.close()
    with psycopg.connect(url) as conn:  # back to version 1: before the embedding cache moved in
        conn.execute("DROP TABLE embeddings")
        conn.execute("DROP TABLE org_names")
        conn.execute("DROP TABLE artefacts")
        conn.execute("DELETE FROM counters WHERE name = 'models_rev'")
        _member_and_item_ids_across_the_store(conn)
        _event_ids_across_the_store(conn)
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    store = open_store(url)
    try:
        assert store.member_ids(["m1"]) == {"m1"} and store.count_events() == 3
        store.embedding_cache().put_many("model", {b"k": np.ones(3, dtype=np.float32)})
        assert store.embedding_cache().get_many("model", [b"k"]).keys() == {b"k"}
        store.set_org_names({"b1": "运行党支部"})
        assert store.org_names() == {"b1": "运行党支部"}
        store.put_artefact("ranking", b"model", 3)
        assert store.get_artefact("ranking").data == b"model" and store.revisions().models == 1
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA_VERSION)


def _member_and_item_ids_across_the_store(conn: psycopg.Connection) -> None:
    """Members, items, removed items and served lists as schema 5 and before made them: keyed by
    id alone, no tenant."""
    conn.execute("DROP INDEX items_id")
    conn.execute("DROP INDEX members_id")
    for table, key in (("items", "id"), ("removed_items", "id"), ("members", "id"),
                       ("served", "member, day, request")):
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        conn.execute(f"ALTER TABLE {table} DROP COLUMN tenant")
        conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")


def _event_ids_across_the_store(conn: psycopg.Connection) -> None:
    """The events table as schema 4 and before made it: ids unique across the store, no tenant."""
    conn.execute("ALTER TABLE events DROP CONSTRAINT events_tenant_id_key")
    conn.execute("ALTER TABLE events DROP COLUMN tenant")
    conn.execute("ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id)")


def test_a_schema_4_store_gets_event_ids_scoped_per_tenant(postgres):
    url = postgres.new_database()
    store = open_store(url)
    store.upsert_members([Member(id="m-a", name="张伟", org="hxny.fdgs"), Member(id="m-b", name="陈静", org="zjjt"),
                          Member(id="m-gone", name="王五", org="hxny.jt")])
    store.record_events([Event(id="e1", member="m-a", item="i1", kind="complete", at=T0),
                         Event(id="e2", member="m-b", item="i1", kind="complete", at=T0),
                         Event(id="e3", member="m-gone", item="i2", kind="start", at=T0)])
    store.remove_member("m-gone", pseudonym="anon:1")
    store.close()
    with psycopg.connect(url) as conn:
        _member_and_item_ids_across_the_store(conn)
        _event_ids_across_the_store(conn)
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    store = open_store(url)
    try:
        assert [(e.id, e.member) for e in store.events()] == [("e1", "m-a"), ("e2", "m-b"), (None, "anon:1")]
        assert store.recorded_tenants() == [(1, "hxny"), (2, "zjjt"), (3, "")]
        # The new rule: the other tenant may use e1; within hxny, a retry is skipped, a change a conflict.
        assert store.record_events([Event(id="e1", member="m-b", item="i2", kind="start", at=T0)]) == 1
        assert store.record_events([Event(id="e1", member="m-a", item="i1", kind="complete", at=T0)]) == 0
        with pytest.raises(ConflictError, match="'e1'"):
            store.record_events([Event(id="e1", member="m-a", item="i1", kind="skip", at=T0)])
        assert store.count_events() == 4 and store.revisions().activity == 4
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_schema_5_store_gets_member_and_item_ids_scoped_per_tenant(postgres):
    from recsys.storage import ServedList

    url = postgres.new_database()
    store = open_store(url)
    store.upsert_members([Member(id="m-a", name="张伟", org="hxny.fdgs"), Member(id="m-b", name="陈静", org="zjjt")])
    vectors = np.ones((3, 4), dtype=np.float32)
    store.upsert_items([Item(id=i, title=f"材料{i}", body="正文", kind="article", minutes=10, org=org,
                             published=dt.date(2026, 1, 1)) for i, org in (("x1", "hxny.fdgs"), ("x2", "zjjt"),
                                                                            ("s1", None))], vectors)
    store.put_served([ServedList("m-a", T0.date(), "minutes=30", "0:0", {"entries": []}, 1.0)])
    store.close()
    with psycopg.connect(url) as conn:
        _member_and_item_ids_across_the_store(conn)
        conn.execute("INSERT INTO meta VALUES ('opening_balances', %s)",
                     ('[{"member": "m-b", "year": 2026, "hours": 2.0}, {"member": "gone", "year": 2026, "hours": 1}]',))
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    store = open_store(url)
    try:
        assert store.member_tenants(["m-a", "m-b"]) == {"m-a": ["hxny"], "m-b": ["zjjt"]}
        assert store.item_tenants(["x1", "x2", "s1"]) == {"x1": ["hxny"], "x2": ["zjjt"], "s1": [""]}
        assert store.get_served("m-a", T0.date(), "minutes=30", tenant="hxny") is not None
        assert [(b["member"], b["tenant"]) for b in json.loads(store.get_meta("opening_balances"))] == [
            ("m-b", "zjjt"), ("gone", "")]
        # The new rule: zjjt may hold m-a and x1 of its own; hxny's stay as they were.
        store.upsert_members([Member(id="m-a", name="李娜", org="zjjt.b1")])
        store.upsert_items([Item(id="x1", title="浙江的x1", body="正文", kind="article", minutes=5, org="zjjt",
                                 published=dt.date(2026, 1, 1))], vectors[:1])
        assert store.get_members(["m-a"], tenant="hxny")["m-a"].name == "张伟"
        assert store.get_members(["m-a"], tenant="zjjt")["m-a"].name == "李娜"
        assert store.get_items(["x1"], tenant="zjjt")["x1"].title == "浙江的x1"
        assert store.get_items(["x1", "s1"], tenant="hxny").keys() == {"x1", "s1"}
        with pytest.raises(ConflictError, match="shared"):
            store.upsert_items([Item(id="s1", title="抢占", body="正文", kind="article", minutes=5, org="hxny",
                                     published=dt.date(2026, 1, 1))], vectors[:1])
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA_VERSION)


def test_processes_opening_a_new_database_at_once_create_the_schema_once(postgres):
    url = postgres.new_database()
    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: open_store(url), range(6)))
    for store in stores:
        assert store.revisions() == Revisions(0, 0, 0)
        store.close()


def test_concurrent_retries_of_one_batch_store_it_once_with_a_gapless_sequence(postgres):
    url = postgres.new_database()
    stores = [open_store(url) for _ in range(4)]
    members_of_events(stores[0])
    batch = events(400)
    start = threading.Barrier(len(stores) * 2)

    def send(store):
        start.wait()
        return store.record_events(batch)

    try:
        with ThreadPoolExecutor(len(stores) * 2) as pool:
            added = list(pool.map(send, stores * 2))
        assert sum(added) == 400 and sorted(added)[-1] == 400  # one writer stored it, every retry none
        reader = stores[0]
        assert reader.count_events() == 400
        assert reader.revisions().activity == 400  # sequence numbers 1..400, none lost to a retry
        assert [e.id for e in reader.events()] == [e.id for e in batch]
    finally:
        for store in stores:
            store.close()


def test_concurrent_writers_lose_no_update(postgres):
    url = postgres.new_database()
    stores = [open_store(url) for _ in range(4)]
    vector = np.ones((1, 4), dtype=np.float32)

    def write(k):
        store = stores[k % len(stores)]
        store.upsert_items([Item(id=f"it{k}", title=f"材料{k}", body="正文", kind="article", minutes=5,
                                 published=dt.date(2026, 1, 1))], vector)
        store.upsert_members([Member(id=f"m{k}", name=f"党员{k}", org="b1")])
        store.record_events([Event(member=f"m{k}", item=f"it{k}", kind="start", at=T0)])

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(40)))
        reader = stores[0]
        assert reader.revisions() == Revisions(items=40, members=40, activity=40)
        assert reader.count_items() == reader.count_members() == reader.count_events() == 40
        changes = reader.item_changes(0, 4)
        assert changes.rev == 40 and sorted(it.id for it, _ in changes.upserted) == sorted(f"it{k}" for k in range(40))
    finally:
        for store in stores:
            store.close()


def test_two_engines_on_one_database_see_each_others_items(postgres):
    url = postgres.new_database()
    writer, reader = Engine.open(url, encoder="tfidf"), None
    try:
        writer.add_items([Item(id="a1", title="遵义会议的历史意义", body="遵义会议是党的历史上生死攸关的转折点。",
                               kind="article", minutes=10, published=dt.date(2026, 1, 1))])
        reader = Engine.open(url)  # the encoder the store remembers
        assert [hit.item.id for hit in reader.search("遵义会议", k=1)] == ["a1"]
        writer.add_items([Item(id="a2", title="安全生产责任制", body="落实全员安全生产责任制。", kind="article",
                               minutes=10, published=dt.date(2026, 1, 1))])
        assert [hit.item.id for hit in reader.search("安全生产责任制", k=1)] == ["a2"]  # caught up by revision
    finally:
        writer.close()
        if reader is not None:
            reader.close()


def test_a_server_that_goes_away_is_a_store_error_and_nothing_is_half_written():
    cluster = PostgresCluster(durable=True).start()
    try:
        store = PostgresStore(cluster.new_database(), wait_timeout=2)
        members_of_events(store)
        store.record_events(events(5))
        cluster.halt()
        with pytest.raises(StoreError) as caught:
            store.record_events(events(10, prefix="late"))
        assert f"recsys:***@127.0.0.1:{cluster.port}" in str(caught.value) and "within 2 s" in str(caught.value)
        assert cluster.PASSWORD not in str(caught.value)
        cluster.resume()
        assert _once_back(store.count_events) == 5  # the pool reconnects; the failed batch left nothing
        assert store.record_events(events(10, prefix="late")) == 10
        store.close()
    finally:
        cluster.stop()


def _once_back(call, patience: float = 60):
    """What ``call`` answers once the store answers again (the pool reconnects with a backoff)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return call()
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_the_unsynced_commit_of_served_lists_leaves_events_synced():
    from recsys.storage import ServedList

    cluster = PostgresCluster(durable=True).start()  # the server's default: every commit synced
    try:
        store = PostgresStore(cluster.new_database(), pool_size=1)
        members_of_events(store)
        store.put_served([ServedList("m1", T0.date(), "minutes=30", "0:0", {"entries": []}, 0.0)],
                         [Event(id="imp-1", member="m1", item="i1", kind="impression", at=T0)])
        # The one pooled connection wrote the list: its SET LOCAL ended with that transaction.
        with store._pool.connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        store.record_events(events(3))
        assert store.count_events() == 4
        store.close()
    finally:
        cluster.stop()
