"""What only the PostgreSQL backend has: its schema versions, its errors, and several writers at once.

The contract (``test_store_contract.py``) already runs on PostgreSQL; these tests cover what a
single-process backend cannot show. Several processes are stood in for by several stores (each
with its own connections) written from threads: to the server they are the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
import pytest

from recsys import ConflictError, Engine, Event, Item, Member, StoreError, ValidationError, get_encoder
from recsys.pipeline.collaborative import CollaborativeModel
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
        assert reader.revisions() == Revisions(items=40, members=40, activity=40, roster=40)
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


@pytest.mark.parametrize("apart", ["no", "yes", "store-given"],
                         ids=["on-its-thread", "in-a-process-of-its-own", "a-store-without-its-password"])
def test_engines_on_one_database_plan_with_the_model_it_keeps_while_one_builds_the_next(postgres, monkeypatch, apart):
    """The collaborative model behind the database's events is built beside the requests (on a
    thread with connections of its own, or, on a large store, in a process of its own that opens
    the database with the password the engine was given) and kept: until then every engine plans
    with the kept one, and after it every engine plans with the new one without building it. An
    engine given a store object knows its URL without the password: its builds stay on its
    thread, however large the store."""
    url = postgres.new_database()
    day = dt.date(2026, 3, 10)
    items = [Item(id=i, title=t, body=t, kind="article", minutes=10, published=dt.date(2026, 1, 1), topics=("读书",))
             for i, t in (("a", "红色家书选读"), ("ta", "新能源汽车产业观察"), ("tb", "古代水利工程史话"),
                          ("x1", "乡村振兴一线纪实"))]

    def done(member: str, item: str, hour: int) -> Event:
        return Event(member=member, item=item, kind="complete", at=T0 + dt.timedelta(hours=hour))

    if apart == "store-given":
        serving = Engine(PostgresStore(url), get_encoder("tfidf"), background_models=True)
    else:
        serving = Engine.open(url, encoder="tfidf", background_models=True)
    other = None
    try:
        serving.add_items(items)
        serving.upsert_members([Member(id=f"m{k}", name=f"党员{k}", org="b1", daily_minutes=30) for k in range(4)])
        serving.record([done("m0", "a", 0)] + [done(f"m{k}", i, h) for k in (1, 2, 3) for i, h in (("a", 1), ("ta", 2))])
        assert serving.rank("m0", day=day)[0].item.id == "ta"  # the first model: built, kept
        if apart != "no":
            serving._world.build_apart_from = 0
        if apart == "yes":
            monkeypatch.setattr(CollaborativeModel, "fit", _not_in_this_process)
        other = Engine.open(url, encoder="tfidf")
        # Through another engine: six newcomers complete a with tb, which becomes a's neighbour.
        other.upsert_members([Member(id=f"n{k}", name=f"党员{k}", org="b1") for k in range(6)])
        other.record([done(f"n{k}", i, h) for k in range(6) for i, h in (("a", 3), ("tb", 4))])
        assert serving.rank("m0", day=day)[0].item.id == "ta"  # the kept model, while the next is built
        serving._world.settle()
        assert serving.rank("m0", day=day)[0].item.id == "tb"
        assert other.rank("m0", day=day)[0].item.id == "tb" and other.collab_build_seconds == 0  # read, not built
    finally:
        serving.close()
        if other is not None:
            other.close()


def _not_in_this_process(*args, **kwargs):
    raise AssertionError("the collaborative model was built in the serving process")


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


# -- a removal racing a write, on two connections ---------------------------------------------
#
# The contract suite shows what a write finds once a removal has landed. These stage the race
# itself on the server: a third connection holds a row lock that stops one side halfway through
# its transaction (its own locks taken), the other side is started and seen waiting, then the
# lock is let go.


def waiting_on_locks(url: str, sessions: int, timeout: float = 20.0) -> None:
    """Return once ``sessions`` connections to the database wait on a lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as watch:
        while time.monotonic() < deadline:
            waiting = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND wait_event_type = 'Lock'").fetchone()[0]
            if waiting >= sessions:
                return
            time.sleep(0.02)
    raise AssertionError(f"{sessions} connections never waited on a lock")


@contextlib.contextmanager
def let_go(stall: psycopg.Connection) -> Iterator[None]:
    """Let go of the stalling lock on the way out, before the threads are waited for, so that a
    failed check ends the test instead of leaving it waiting."""
    try:
        yield
    finally:
        stall.rollback()


def served_list(member: str, request: str, items: tuple[str, ...] = ("i1",)):
    from recsys.storage import ServedList

    payload = {"member": member, "entries": [{"item": {"id": i}, "score": 0.5} for i in items]}
    return ServedList(member, T0.date(), request, "0:0", payload, 0.0)


def impression(member: str) -> Event:
    return Event(id=f"imp:{member}", member=member, item="i1", kind="impression", at=T0)


@pytest.fixture
def racing(postgres):
    """Two stores on one new database (a worker writing, another removing) with members m1 and m2,
    m1 served a list already, and a raw connection to stall either of them."""
    url = postgres.new_database()
    writer, remover = open_store(url), open_store(url)
    writer.upsert_members([Member(id="m1", name="党员1", org="b1"), Member(id="m2", name="党员2", org="b1")])
    writer.put_served([served_list("m1", "minutes=30")])
    stall = psycopg.connect(url)
    try:
        yield url, writer, remover, stall
    finally:
        stall.close()
        writer.close()
        remover.close()


def race(racing, first, second):
    """Run ``first`` until it waits on the stalling lock (on m1's served list), then ``second``
    until it waits too, on ``first``; then let go. Returns both calls' futures, done."""
    url, _, _, stall = racing
    stall.execute("SELECT 1 FROM served WHERE member = 'm1' FOR UPDATE")
    with ThreadPoolExecutor(2) as pool, let_go(stall):
        ahead = pool.submit(first)
        waiting_on_locks(url, 1)
        behind = pool.submit(second)
        waiting_on_locks(url, 2)  # the second waits for the first, not the other way round
    return ahead, behind


def test_a_list_written_while_a_removal_is_under_way_waits_for_it_and_keeps_nothing_of_the_member(racing):
    _, writer, remover, _ = racing
    # The removal stops at its last step (the member's lists), its lock on the member taken.
    removal, write = race(racing, lambda: remover.remove_member("m1"), lambda: writer.put_served(
        [served_list("m1", "minutes=45"), served_list("m2", "minutes=45")], [impression("m1"), impression("m2")]))
    assert removal.result().served == 1 and write.result() is None
    assert writer.get_served("m1", T0.date(), "minutes=45") is None
    assert writer.get_served("m1", T0.date(), "minutes=30") is None
    assert writer.get_served("m2", T0.date(), "minutes=45") is not None
    assert [e.id for e in writer.events()] == ["imp:m2"]
    assert writer.get_members(["m1", "m2"]).keys() == {"m2"}


def test_events_recorded_while_a_removal_is_under_way_are_refused_whole(racing):
    _, writer, remover, _ = racing
    removal, record = race(racing, lambda: remover.remove_member("m1"), lambda: writer.record_events([
        Event(id="e2", member="m2", item="i1", kind="complete", at=T0),
        Event(id="e1", member="m1", item="i1", kind="complete", at=T0)]))
    assert removal.result() is not None
    with pytest.raises(ValidationError, match="unknown member 'm1'"):
        record.result()
    assert writer.events() == []  # m2's event went with the batch: all or nothing


def test_a_removal_arriving_while_a_list_is_written_waits_for_it_and_removes_what_it_wrote(racing):
    _, writer, remover, _ = racing
    # The write stops when it replaces m1's list, its locks on m1 and m2 taken.
    write, removal = race(racing, lambda: writer.put_served(
        [served_list("m1", "minutes=30", ("i2",)), served_list("m2", "minutes=30")], [impression("m1"), impression("m2")]),
        lambda: remover.remove_member("m1"))
    assert write.result() is None
    removed = removal.result()
    assert (removed.served, removed.events) == (1, 1)  # the list and impression the write had just stored
    assert writer.get_served("m1", T0.date(), "minutes=30") is None
    assert writer.get_served("m2", T0.date(), "minutes=30") is not None
    assert [e.id for e in writer.events()] == ["imp:m2"]


def test_an_update_of_a_member_does_not_wait_for_a_write_naming_them(racing):
    url, writer, remover, stall = racing
    stall.execute("SELECT 1 FROM served WHERE member = 'm1' FOR UPDATE")
    with ThreadPoolExecutor(2) as pool, let_go(stall):
        write = pool.submit(writer.put_served, [served_list("m1", "minutes=30", ("i2",))])
        waiting_on_locks(url, 1)
        # FOR KEY SHARE lets a record's update through: a roster import is not held up by the day's lists.
        update = pool.submit(remover.upsert_members, [Member(id="m1", name="党员1", org="b1", roles=("cadre",))])
        update.result(timeout=10)  # done while the write still waits
    assert write.result() is None
    assert remover.member_roles()["m1"] == ["cadre"]
    assert writer.get_served("m1", T0.date(), "minutes=30").payload["entries"][0]["item"]["id"] == "i2"
