"""The embedded store: one folder holding a SQLite database and the vector index file.

The database is the source of truth, vectors included. The index file is a cache of the search
structure: every item write bumps a revision counter in the same transaction, and whoever holds
an in-memory index catches up from the changes logged since its revision. So a crash between a
database commit and an index save, or another process writing the same store, never leaves the
index and the database disagreeing: the next read reconciles them.

Layout::

    store/
        recsys.sqlite     items (with vectors), members, events, served lists, metadata
        index.npz         vectors and search graph, tagged with the revision they reflect
        embeddings.sqlite the embedding cache (model, content hash) -> vector
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from recsys.exceptions import StoreError
from recsys.records import PSEUDONYM_PREFIX, Event, Item, Member, tenant_of
from recsys.storage._shared import (
    RESERVED_META,
    DamagedRow,
    BALANCES_META,
    holders as _holders,
    check_impressions,
    check_artefact,
    check_meta,
    check_meta_prefix,
    check_org_names,
    check_vectors,
    conflict,
    damaged_rows,
    dumps,
    event_from_row,
    event_row,
    event_tenants,
    guarded,
    item_clash,
    held_by,
    of_members_held,
    one_per_id,
    remove_member_rows,
    roster_moves,
    scan_sql,
    served_item_ids,
    tag_balances,
    stored_record,
    stored_vector,
)
from recsys.storage._checkpoints import BACKSTOP_PAGES, Checkpointer
from recsys.storage._connections import ThreadConnections, read_only_connection
from recsys.storage._sqlite_errors import sqlite_errors
from recsys.storage.base import (
    Artefact,
    EventColumns,
    History,
    ItemChanges,
    MemberRemoval,
    Revisions,
    ServedList,
    member_state,
    state_token,
    text_hash,
)
from recsys.storage.embeddings import SQLiteEmbeddingCache

__all__ = ["SQLiteStore"]

#: 2: event ids are unique per tenant (``UNIQUE (tenant, id)``), no longer across the store.
#: 3: so are member and item ids: members, items, removed items and served lists are keyed by
#: (tenant, id), the tenant being the top level of the record's organisation (``""``: shared).
SCHEMA_VERSION = 3

# Event ids are unique within a tenant, the top level of the member's organisation when the event
# was recorded (kept when the member is removed under a pseudonym): two enterprises may both
# use an id, and neither learns that the other did.
_EVENTS = """
CREATE TABLE IF NOT EXISTS {name} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT,
    member TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    at TEXT NOT NULL,
    ts REAL NOT NULL,
    tenant TEXT NOT NULL DEFAULT '',
    UNIQUE (tenant, id)
)"""

_EVENT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS events_member ON events (member, ts)",
    "CREATE INDEX IF NOT EXISTS events_item ON events (item, kind)",
)

# Member and item ids are unique within a tenant (schema 3), so the records, the log of removed
# items and the served lists are keyed by (tenant, id); shared items are tenant "". A tenant item
# may not take a shared item's id nor the reverse (every tenant sees shared items).
_KEYED_BY_TENANT = {
    "items": """CREATE TABLE IF NOT EXISTS {name} (
    tenant TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    org TEXT,
    rev INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
)""",
    "removed_items": """CREATE TABLE IF NOT EXISTS {name} (
    tenant TEXT NOT NULL DEFAULT '', id TEXT NOT NULL, rev INTEGER NOT NULL, PRIMARY KEY (tenant, id))""",
    "members": """CREATE TABLE IF NOT EXISTS {name} (
    tenant TEXT NOT NULL DEFAULT '', id TEXT NOT NULL, data TEXT NOT NULL, org TEXT NOT NULL,
    PRIMARY KEY (tenant, id))""",
    "served": """CREATE TABLE IF NOT EXISTS {name} (
    tenant TEXT NOT NULL DEFAULT '',
    member TEXT NOT NULL,
    day TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (tenant, member, day, request)
)""",
}

#: How a schema 2 table's rows fill the table of schema 3 (and how a read-only connection shows
#: an older store's table as schema 3 would hold it): each record takes its organisation's tenant,
#: a served list its member's; a removed item's tenant is unknown ("": every view drops the id
#: unless it holds it).
_TENANT_OF_ROWS = {
    "items": "SELECT recsys_tenant(org) AS tenant, id, data, text_hash, vector, org, rev FROM main.items",
    "removed_items": "SELECT '' AS tenant, id, rev FROM main.removed_items",
    "members": "SELECT recsys_tenant(org) AS tenant, id, data, org FROM main.members",
    "served": "SELECT recsys_tenant((SELECT org FROM main.members WHERE main.members.id = main.served.member))"
              " AS tenant, member, day, request, state, payload, created FROM main.served",
}

# Created after an older store's upgrade (some name the tenant column).
_KEYED_INDEXES = (
    # Covers the branch's completions (collaborative signal) without touching the table: with the
    # tenant, since a branch's members are named by (tenant, id) (the index without it, which
    # schema 2 made, had every matching row read from the table: a fifth of a list's time).
    # Made here, once an upgrade has given every event its tenant.
    "CREATE INDEX IF NOT EXISTS events_member_kind_tenant ON events (member, kind, ts, item, tenant)",
    "CREATE INDEX IF NOT EXISTS items_rev ON items (rev)",
    "CREATE INDEX IF NOT EXISTS items_id ON items (id, tenant)",  # an id across tenants: clashes, lookups without one
    "CREATE INDEX IF NOT EXISTS removed_rev ON removed_items (rev)",
    "CREATE INDEX IF NOT EXISTS members_org ON members (org)",
    "CREATE INDEX IF NOT EXISTS members_id ON members (id, tenant)",
    # A day's lists (a resumed batch, coverage's exposure) without scanning every day's.
    "CREATE INDEX IF NOT EXISTS served_day ON served (day)",
    # A member's list of a day, asked without the tenant that leads the key: by the day alone a
    # list asked again after the nightly batch read every list of the day (17 ms at 10,000).
    "CREATE INDEX IF NOT EXISTS served_member ON served (member, day, request)",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + ";\n".join(ddl.format(name=name) for name, ddl in _KEYED_BY_TENANT.items()) + """;
-- Display names of organisations (reports show them instead of dotted codes). Created on
-- opening an older store too: the schema version counts changes an older recsys cannot read.
CREATE TABLE IF NOT EXISTS org_names (org TEXT PRIMARY KEY, name TEXT NOT NULL);
-- Trained models (recsys train), by name, with the activity sequence they were trained up to.
CREATE TABLE IF NOT EXISTS artefacts (name TEXT PRIMARY KEY, data BLOB NOT NULL, activity INTEGER NOT NULL,
                                      created REAL NOT NULL);
""" + _EVENTS.format(name="events") + ";\n" + ";\n".join(_EVENT_INDEXES) + ";\n"

_EVENT_FIELDS = ("id", "member", "item", "kind", "value", "at", "ts", "tenant")  # event_row, then the tenant
_EVENT_COLUMNS = ", ".join(_EVENT_FIELDS)

_guarded = guarded(lambda store: sqlite_errors(store._db_file))

#: An event's tenant where the table has no column for it (a schema 1 store opened read-only):
#: its member's, as the upgrade fills it.
_DERIVED_TENANT = "recsys_tenant((SELECT org FROM main.members WHERE main.members.id = events.member))"


def _scope_event_ids_by_tenant(db: sqlite3.Connection) -> None:
    """Upgrade a schema 1 store inside the opening transaction: event ids, unique across the store
    until then, become unique per tenant. SQLite cannot drop the old UNIQUE (id), so the table is
    rebuilt (create, copy, drop, rename) and each event takes the tenant of its member; the events
    of members removed under a pseudonym have no id left, so their tenant (``""``) binds nothing.
    Sequence numbers are kept, and so is the highest ever given, so none is given twice."""
    given = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    db.execute("DROP TABLE IF EXISTS events_by_tenant")
    db.execute(_EVENTS.format(name="events_by_tenant"))
    db.execute(
        f"INSERT INTO events_by_tenant (seq, {', '.join(_EVENT_FIELDS)})"
        " SELECT seq, id, member, item, kind, value, at, ts, " + _DERIVED_TENANT + " FROM events ORDER BY seq"
    )
    db.execute("DROP TABLE events")
    db.execute("ALTER TABLE events_by_tenant RENAME TO events")
    for index in _EVENT_INDEXES:
        db.execute(index)
    if given is not None:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'events', MAX(?, COALESCE(MAX(seq), 0)) FROM events",
                   (given[0],))


def _scope_member_and_item_ids_by_tenant(db: sqlite3.Connection) -> None:
    """Upgrade a schema 2 store inside the opening transaction: member and item ids, unique across
    the store until then, become unique per tenant. Each keyed table is rebuilt (create, copy,
    drop, rename), as SQLite cannot change a primary key in place. The opening balances the
    engine keeps in one setting take their member's tenant too (see :func:`tag_balances`)."""
    found = db.execute("SELECT value FROM meta WHERE key = ?", (BALANCES_META,)).fetchone()
    if found is not None:
        orgs = dict(db.execute("SELECT id, org FROM members").fetchall())
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (tag_balances(found[0], orgs), BALANCES_META))
    for name, ddl in _KEYED_BY_TENANT.items():
        db.execute(f"DROP TABLE IF EXISTS {name}_by_tenant")
        db.execute(ddl.format(name=f"{name}_by_tenant"))
        db.execute(f"INSERT INTO {name}_by_tenant {_TENANT_OF_ROWS[name]}")
    for name in _KEYED_BY_TENANT:
        db.execute(f"DROP TABLE {name}")
        db.execute(f"ALTER TABLE {name}_by_tenant RENAME TO {name}")


def _show_as_current(db: sqlite3.Connection, schema: int) -> None:
    """Show an older store, opened read-only and so not upgraded, as the current schema holds it:
    temporary views (of this connection only) over its tables, with the tenants an upgrade would
    fill, shadow the tables of the same name."""
    for name, rows in _TENANT_OF_ROWS.items():
        db.execute(f"CREATE TEMP VIEW IF NOT EXISTS {name} AS {rows}")
    if schema < 2:
        db.execute("CREATE TEMP VIEW IF NOT EXISTS events AS SELECT seq, id, member, item, kind, value, at, ts, "
                   + _DERIVED_TENANT + " AS tenant FROM main.events")


def _checkpointer(store: SQLiteStore) -> Checkpointer:
    """The store's checkpoint thread, holding the store weakly: a store nobody closed is still
    collected, and its thread then ends. Its connection is not traced: its statements come
    whenever the thread wakes."""
    ref = weakref.ref(store)

    def connect() -> sqlite3.Connection | None:
        found = ref()
        return None if found is None else found._connect(traced=False)

    return Checkpointer(connect, lambda: ref() is not None, where=store._db_file)



def _copy_database(source_file: Path, target_file: Path) -> None:
    """SQLite's online backup of ``source_file`` into ``target_file``: a consistent snapshot,
    read only (a store on a read-only mount is copied as well), written in steps so writers wait
    for a step, not the whole copy. An error writing names the copy, not the store.

    Raises:
        StoreError: the folder cannot be written by this user while the database's log holds
            changes: reading the file alone (all such a user can do) would leave them out.
    """
    wal = source_file.with_name(source_file.name + "-wal")
    if not os.access(source_file.parent, os.W_OK) and wal.is_file() and wal.stat().st_size > 0:
        raise StoreError(f"{source_file}: the store is in use, or was not closed cleanly, and this user cannot write "
                         "its folder, so its latest changes cannot be read: back it up as a user who can write it, "
                         "or once every process using it has stopped")
    source = read_only_connection(source_file)
    try:
        with sqlite_errors(target_file):
            copy = sqlite3.connect(target_file)
        try:
            try:
                source.backup(copy, pages=1024)
            except sqlite3.OperationalError as exc:
                # A full or read-only disk is the copy's; anything else is the store's to read.
                side = target_file if "full" in str(exc) or "readonly" in str(exc) else source_file
                with sqlite_errors(side):
                    raise
            with sqlite_errors(target_file):
                copy.execute("PRAGMA journal_mode=WAL")  # as a store's own database is kept
        finally:
            copy.close()
    finally:
        source.close()

class SQLiteStore:
    """SQLite-backed storage of items, members, events and served lists in a folder.

    One connection per thread; WAL journal so readers never block the writer; ``synchronous=FULL``
    so an acknowledged write survives a power cut, not just a process crash.

    Args:
        path: The store folder; created if missing.
        trace: Called with the text of every SQL statement the store's connections run (see
            :meth:`sqlite3.Connection.set_trace_callback`); tests count statements with it.
        read_only: Open an existing store for reading only (``mode=ro``): nothing is created or
            written, and a write fails with a StoreError saying the store is read-only. When
            nobody may write the folder (so SQLite cannot make its ``-wal``/``-shm`` files) the
            database is read as the file holds it (``immutable=1``); a store closed cleanly
            keeps nothing outside that file.

    Raises:
        StoreError: The folder cannot be created, or its database is not a usable recsys store.

    Example:
        >>> store = SQLiteStore("recsys-data")           # doctest: +SKIP
        >>> store.revisions()                            # doctest: +SKIP
        Revisions(items=0, members=0, activity=0, models=0, roster=0)
    """

    DB_NAME = "recsys.sqlite"
    CACHE_NAME = "embeddings.sqlite"

    def __init__(self, path: str | os.PathLike[str], *, trace: Callable[[str], None] | None = None,
                 read_only: bool = False) -> None:
        self.files: Path = Path(path).expanduser().absolute()
        self.url = f"sqlite://{self.files}"
        self.read_only = read_only
        self._db_file = self.files / self.DB_NAME
        self._trace = trace
        self._connections = ThreadConnections(self._connect)
        self._checkpoints = None if read_only else _checkpointer(self)
        self._lock = threading.Lock()
        self._cache: SQLiteEmbeddingCache | None = None
        self._legacy: int | None = None  # the schema of an older store opened read-only
        if read_only:
            if not self._db_file.is_file():
                raise StoreError(f"no store at {self.files} (no {self.DB_NAME} there): give an existing store folder")
        else:
            try:
                self.files.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create store folder {self.files}: {exc.strerror}") from exc
        if not self.files.is_dir():
            raise StoreError(f"store path {self.files} is not a folder")
        try:
            with sqlite_errors(self._db_file):
                self._prepare()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.files)!r})"

    def _prepare(self) -> None:
        """Create the tables of a new store; check an existing one is ours and bring it up to date."""
        if self.read_only:
            found = self._db().execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None or int(found[0]) > SCHEMA_VERSION:
                raise StoreError(f"store {self.files} is not a recsys store of this version (schema "
                                 f"{found[0] if found else 'missing'}): upgrade recsys, or give the store's folder")
            if int(found[0]) < SCHEMA_VERSION:  # read as it is: tenants derived as the upgrade fills them
                self._legacy = int(found[0])
                _show_as_current(self._db(), self._legacy)
            return
        self._db().executescript(_SCHEMA)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            schema = int(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
            if schema > SCHEMA_VERSION:
                raise StoreError(f"store {self.files} was written by a newer recsys (schema {schema}): upgrade recsys")
            if schema < 2:
                _scope_event_ids_by_tenant(db)
            if schema < 3:
                _scope_member_and_item_ids_by_tenant(db)
            for index in _KEYED_INDEXES:
                db.execute(index)
            db.execute("DROP INDEX IF EXISTS events_member_kind")  # schema 2's, replaced by the one with tenants
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('rev', '0')")
            self._keep_activity_seq(db)

    # -- connections ---------------------------------------------------------------------

    def _connect(self, *, traced: bool = True) -> sqlite3.Connection:
        if self.read_only:
            db = read_only_connection(self._db_file)
        else:
            db = sqlite3.connect(self._db_file, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            if not self.read_only:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                # Commits leave the checkpoint to the store's own thread (see Checkpointer).
                db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            db.execute("PRAGMA busy_timeout=60000")
            # The tenant of an organisation, for SQL that fills or derives events' tenants.
            db.create_function("recsys_tenant", 1, tenant_of, deterministic=True)
            if self._legacy is not None:
                _show_as_current(db, self._legacy)
        except sqlite3.Error:
            db.close()
            raise
        if self._trace is not None and traced:
            db.set_trace_callback(self._trace)
        return db

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _transaction(self, *, wait_for_disk: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it commits, or none of it does.

        ``wait_for_disk=False`` commits without syncing the log to disk (WAL, ``synchronous=
        NORMAL``): safe if the process dies, lost only if the machine does, and then only with
        every commit after it (the log is written in order, and the next synced commit syncs it).
        For what can be made again from the rest of the store.
        """
        db = self._db()
        if not wait_for_disk:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full, I/O error); a second ROLLBACK
                # would hide the error that caused it.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        finally:
            if not wait_for_disk:
                db.execute("PRAGMA synchronous=FULL")
        if self._checkpoints is not None:
            self._checkpoints.wrote()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement in it sees the same state of the database."""
        db = self._db()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            if db.in_transaction:
                db.execute("COMMIT")

    @_guarded
    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
        self._connections.close()
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    # -- metadata and counters -----------------------------------------------------------

    @_guarded
    def get_meta(self, key: str) -> str | None:
        """A metadata value, or None. The store's own counters are not metadata: see :meth:`revisions`."""
        if key in RESERVED_META:
            return None
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @_guarded
    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        prefix = check_meta_prefix(prefix)
        rows = self._db().execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                                  (len(prefix), prefix)).fetchall()
        return {k: v for k, v in rows if k not in RESERVED_META}

    @_guarded
    def set_meta(self, values: Mapping[str, str | None]) -> None:
        """Set several metadata keys at once (None deletes a key), all or nothing."""
        check_meta(values)
        with self._transaction() as db:
            self._write_meta(db, values)

    @_guarded
    def keep_meta(self, key: str, value: str) -> str:
        check_meta({key: value})
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            return db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    @staticmethod
    def _write_meta(db: sqlite3.Connection, values: Mapping[str, str | None]) -> None:
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, v) for k, v in values.items() if v is not None])
        db.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k, v in values.items() if v is None])

    @_guarded
    def revisions(self) -> Revisions:
        """The item and member revisions and the activity sequence, in one statement."""
        values = dict(self._db().execute(
            "SELECT key, value FROM meta WHERE key IN ('rev', 'members_rev', 'roster_rev', 'activity_seq', 'models_rev')"
        ).fetchall())
        activity = values.get("activity_seq")
        if activity is None:  # pragma: no cover - kept from open on; only a store edited by hand lacks it
            with self._transaction() as db:
                activity = self._keep_activity_seq(db)
        return Revisions(items=int(values.get("rev", 0)), members=int(values.get("members_rev", 0)),
                         activity=int(activity), models=int(values.get("models_rev", 0)),
                         roster=int(values.get("roster_rev", 0)))

    @staticmethod
    def _keep_activity_seq(db: sqlite3.Connection) -> int:
        """Make sure ``meta`` holds the activity sequence (inside a write transaction); a store
        written before it was kept there is scanned once, so ``revisions()`` stays one statement."""
        row = db.execute("SELECT value FROM meta WHERE key = 'activity_seq'").fetchone()
        if row is not None:
            return int(row[0])
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE kind != 'impression'").fetchone()[0]
        db.execute("INSERT INTO meta VALUES ('activity_seq', ?)", (str(seq),))
        return seq

    def _bump(self, db: sqlite3.Connection) -> int:
        rev = int(db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0]) + 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'rev'", (str(rev),))
        return rev

    # -- items ---------------------------------------------------------------------------

    def _keyed(self, table: str, columns: Sequence[str], ids: Iterable[str], tenant: str | None, *,
               shared: bool = False, db: sqlite3.Connection | None = None) -> list[tuple[Any, ...]]:
        """``(id, tenant, *columns)`` of the rows of ``table`` with those ``ids``: in ``tenant``
        (and, with ``shared``, shared ones), or in any tenant when it is None."""
        db = db or self._db()
        scope, args = "", []
        if tenant is not None:
            scope = " AND tenant IN (?, '')" if shared else " AND tenant = ?"
            args = [tenant]
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            rows += db.execute(f"SELECT {', '.join(['id', 'tenant', *columns])} FROM {table} WHERE id IN ({marks}){scope}",
                               (*chunk, *args)).fetchall()
        return rows

    @staticmethod
    def _one_each(kind: str, rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
        """``id -> (tenant, *columns)`` of :meth:`_keyed` rows; an id of several tenants is an error."""
        return one_per_id(kind, ((row[0], row[1], row[1:]) for row in rows))

    @_guarded
    def item_hashes(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, bytes]:
        """Stored text hashes of those ``ids`` that exist."""
        found = self._one_each("item", self._keyed("items", ("text_hash",), ids, tenant, shared=True))
        return {id_: bytes(h) for id_, (_, h) in found.items()}

    @_guarded
    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        """Insert or replace items with their vectors in one transaction; return the new revision."""
        vectors = check_vectors(items, vectors)
        with self._transaction() as db:
            held = {id_: holder for id_, holder in self._keyed("items", (), [it.id for it in items], None, db=db)}
            for it in items:
                if it.id in held and (held[it.id] == "") != (it.tenant == ""):
                    raise item_clash(it.id, held[it.id] == "")
            rev = self._bump(db)
            db.executemany(
                "INSERT OR REPLACE INTO items (tenant, id, data, text_hash, vector, org, rev) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (it.tenant, it.id, dumps(it.to_dict()), text_hash(it), v.tobytes(), it.org, rev)
                    for it, v in zip(items, vectors)
                ],
            )
            db.executemany("DELETE FROM removed_items WHERE tenant = ? AND id = ?", [(it.tenant, it.id) for it in items])
        return rev

    @_guarded
    def remove_items(self, ids: Sequence[str], *, tenant: str | None = None) -> int:
        """Remove items (their events stay, as history); return the new revision."""
        with self._transaction() as db:
            held = {id_: row[0] for id_, row in
                    self._one_each("item", self._keyed("items", (), ids, tenant, shared=True, db=db)).items()}
            keys = [(held.get(i, tenant or ""), i) for i in ids]
            rev = self._bump(db)
            db.executemany("DELETE FROM items WHERE tenant = ? AND id = ?", keys)
            db.executemany("INSERT OR REPLACE INTO removed_items VALUES (?, ?, ?)", [(*k, rev) for k in keys])
        return rev

    @_guarded
    def get_items(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Item]:
        found = self._one_each("item", self._keyed("items", ("data",), ids, tenant, shared=True))
        return {id_: self._record(Item, id_, data) for id_, (_, data) in found.items()}

    @_guarded
    def item_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        """Those of ``ids`` that exist."""
        return set(self._one_each("item", self._keyed("items", (), ids, tenant, shared=True)))

    @_guarded
    def item_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The tenants holding each of ``ids`` that some tenant holds (``""``: shared)."""
        return _holders(self._keyed("items", (), ids, None))

    @staticmethod
    def _scope(tenant: str | None, *, shared: bool = False, column: str = "tenant") -> tuple[str, list[str]]:
        """A condition (with its arguments) keeping the rows of ``tenant`` (and shared ones)."""
        if tenant is None:
            return "1=1", []
        return (f"{column} IN (?, '')" if shared else f"{column} = ?"), [tenant]

    @_guarded
    def iter_items(self, *, tenant: str | None = None) -> Iterator[Item]:
        """Every item, by id."""
        where, args = self._scope(tenant, shared=True)
        for id_, data in self._db().execute(f"SELECT id, data FROM items WHERE {where} ORDER BY id, tenant", args):
            yield self._record(Item, id_, data)

    @_guarded
    def count_items(self, *, tenant: str | None = None) -> int:
        where, args = self._scope(tenant, shared=True)
        return self._db().execute(f"SELECT COUNT(*) FROM items WHERE {where}", args).fetchone()[0]

    @_guarded
    def item_changes(self, since: int, dim: int, *, tenant: str | None = None) -> ItemChanges:
        """Everything written to items after revision ``since``, read in one snapshot."""
        where, args = self._scope(tenant, shared=True)
        with self._snapshot() as db:  # so the revision and the rows agree
            if tenant is None:  # a catalogue of every tenant's items needs their ids unique
                twice = db.execute("SELECT id, group_concat(tenant) FROM items GROUP BY id HAVING COUNT(*) > 1"
                                   " LIMIT 1").fetchone()
                if twice is not None:
                    one_per_id("item", ((twice[0], t, None) for t in sorted(twice[1].split(","))))
            rev = int(db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])
            rows = db.execute(f"SELECT id, data, vector FROM items WHERE rev > ? AND {where} ORDER BY rev, id",
                              (since, *args))
            upserted = [(self._record(Item, id_, data), self._vector(id_, blob, dim)) for id_, data, blob in rows]
            # An id another tenant removed is not removed from a view that still holds it.
            rows = db.execute(
                f"SELECT id FROM removed_items AS r WHERE rev > ? AND {where} AND NOT EXISTS"
                f" (SELECT 1 FROM items WHERE items.id = r.id AND {where.replace('tenant', 'items.tenant')})"
                " GROUP BY id ORDER BY MIN(rev), id", (since, *args, *args))
            removed = [id_ for (id_,) in rows]
        return ItemChanges(rev, upserted, removed)

    def _record(self, kind: type, id_: str, data: str):
        return stored_record(kind, id_, data, self._db_file)

    def _vector(self, id_: str, blob: bytes, dim: int) -> np.ndarray:
        return stored_vector(id_, blob, dim, self._db_file)

    # -- members -------------------------------------------------------------------------

    @_guarded
    def upsert_members(self, members: Sequence[Member]) -> None:
        records = [m.to_dict() for m in members]
        with self._transaction() as db:
            roster = roster_moves(db.execute, members, records)
            db.executemany(
                "INSERT OR REPLACE INTO members (tenant, id, data, org) VALUES (?, ?, ?, ?)",
                [(m.tenant, m.id, dumps(r), m.org) for m, r in zip(members, records)],
            )
            self._bump_members(db, roster=roster)

    @staticmethod
    def _bump_members(db: sqlite3.Connection, *, roster: bool = True) -> None:
        # What is derived from the members (branch activity, role-aware popularity) sees that
        # they changed.
        for key in ("members_rev", "roster_rev") if roster else ("members_rev",):
            db.execute("INSERT INTO meta VALUES (?, '1')"
                       " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (key,))

    @_guarded
    def get_members(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Member]:
        found = self._one_each("member", self._keyed("members", ("data",), ids, tenant))
        return {id_: self._record(Member, id_, data) for id_, (_, data) in found.items()}

    @_guarded
    def member_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        return set(self._one_each("member", self._keyed("members", (), ids, tenant)))

    @_guarded
    def member_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The tenants holding each of ``ids`` that some tenant holds."""
        return _holders(self._keyed("members", (), ids, None))

    @_guarded
    def iter_members(self, *, tenant: str | None = None) -> Iterator[Member]:
        """Every member, by id."""
        where, args = self._scope(tenant)
        for id_, data in self._db().execute(f"SELECT id, data FROM members WHERE {where} ORDER BY id, tenant", args):
            yield self._record(Member, id_, data)

    @_guarded
    def count_members(self, *, tenant: str | None = None) -> int:
        where, args = self._scope(tenant)
        return self._db().execute(f"SELECT COUNT(*) FROM members WHERE {where}", args).fetchone()[0]

    @_guarded
    def member_orgs(self, *, tenant: str | None = None) -> list[tuple[str, str]]:
        where, args = self._scope(tenant)
        return [tuple(row) for row in self._db().execute(
            f"SELECT org, id FROM members WHERE {where} ORDER BY org, id, tenant", args)]

    @_guarded
    def member_roles(self, *, tenant: str | None = None) -> dict[str, list[str]]:
        """Every member's roles, without reading the whole records (a damaged record has none
        here: it is named where the member is read, not in every member's statistics)."""
        where, args = self._scope(tenant)
        return {
            m: json.loads(roles or "[]")
            for m, roles in self._db().execute(
                "SELECT id, CASE WHEN json_valid(data) THEN json_extract(data, '$.roles') END "
                f"FROM members WHERE {where} ORDER BY id, tenant", args)
        }

    @_guarded
    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None,
        tenant: str | None = None,
    ) -> MemberRemoval | None:
        check_meta(meta or {})
        with self._transaction() as db:
            held = self._one_each("member", self._keyed("members", (), [member], tenant, db=db)).get(member)
            if held is None:
                return None
            removed = remove_member_rows(db.execute, member, pseudonym, tenant=held[0])
            if removed is None:
                return None
            self._write_meta(db, meta or {})
            self._bump_members(db)
        return MemberRemoval(member, *removed, pseudonym)

    # -- organisations -------------------------------------------------------------------

    @_guarded
    def set_org_names(self, names: Mapping[str, str | None]) -> None:
        pairs = check_org_names(names)
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO org_names VALUES (?, ?)", [p for p in pairs if p[1] is not None])
            db.executemany("DELETE FROM org_names WHERE org = ?", [(org,) for org, name in pairs if name is None])

    @_guarded
    def org_names(self) -> dict[str, str]:
        return dict(self._db().execute("SELECT org, name FROM org_names ORDER BY org").fetchall())

    # -- events --------------------------------------------------------------------------

    @_guarded
    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None,
                      tenant: str | None = None) -> int:
        """Store events in one transaction; return how many were new.

        An event whose id its tenant already holds with the same content is a retry and is
        skipped; the same id with different content is a :class:`~recsys.exceptions.ConflictError`
        and nothing is written.
        """
        with self._transaction() as db:
            # The members read in the writing transaction: a removal lands wholly before or after.
            orgs = self._member_orgs(db, [e.member for e in events], tenant) if tenants is None else {}
            tenants = event_tenants(events, orgs, tenants)
            added = 0
            activity = None
            for line, (e, tenant) in enumerate(zip(events, tenants), start=1):
                if e.id is not None:
                    old = db.execute(
                        "SELECT member, item, kind, value, ts FROM events WHERE tenant = ? AND id = ?", (tenant, e.id)
                    ).fetchone()
                    if old is not None:
                        if old != (e.member, e.item, e.kind, e.value, e.at.timestamp()):
                            raise conflict(e.id, line)
                        continue
                cursor = db.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                    (*event_row(e), tenant))
                added += 1
                if e.kind != "impression":
                    activity = cursor.lastrowid
            if activity is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('activity_seq', ?)", (str(activity),))
        return added

    def _member_orgs(self, db: sqlite3.Connection, members: Iterable[str], tenant: str | None = None
                     ) -> dict[str, str]:
        """The organisation of each of ``members`` the store holds (in ``tenant``, if given;
        inside a transaction).

        Raises:
            AmbiguousIdError: A member id is held by several tenants (give the tenants).
        """
        found = self._one_each("member", self._keyed("members", ("org",), members, tenant, db=db))
        return {id_: org for id_, (_, org) in found.items()}

    @_guarded
    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
        tenant: str | None = None,
    ) -> list[Event]:
        """Events in time order (ties in the order recorded), optionally of one member, up to
        ``until``, of some kinds, of one tenant."""
        where, args = self._scope(tenant)
        sql = f"SELECT id, member, item, kind, value, at FROM events WHERE {where}"
        if member is not None:
            sql += " AND member = ?"
            args.append(member)
        if until is not None:
            sql += " AND ts <= ?"
            args.append(until.timestamp())
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY ts, seq"
        return [event_from_row(row) for row in self._db().execute(sql, args)]

    @_guarded
    def history(self, member: str, *, tenant: str | None = None) -> History:
        """One member's events in time order and their state token, in one statement."""
        where, args = self._scope(tenant)
        rows = self._db().execute(
            f"SELECT seq, id, member, item, kind, value, at FROM events WHERE member = ? AND {where} ORDER BY ts, seq",
            (member, *args),
        ).fetchall()
        # Impressions are left out of the state: serving a list records impressions, which must
        # not make the list just served stale.
        state = member_state(seq for seq, _, _, _, kind, _, _ in rows if kind != "impression")
        return History(events=[event_from_row(row[1:]) for row in rows], state=state)

    @_guarded
    def histories(self, members: Sequence[str], *, tenant: str | None = None) -> dict[str, History]:
        rows: dict[str, list] = {m: [] for m in members}
        where, args = self._scope(tenant)
        for chunk in _chunks(list(rows)):
            marks = ",".join("?" * len(chunk))
            for row in self._db().execute(
                f"SELECT seq, id, member, item, kind, value, at FROM events WHERE member IN ({marks}) AND {where}"
                " ORDER BY member, ts, seq", (*chunk, *args),
            ):
                rows[row[2]].append(row)
        return {
            m: History(events=[event_from_row(row[1:]) for row in found],
                       state=member_state(seq for seq, _, _, _, kind, _, _ in found if kind != "impression"))
            for m, found in rows.items()
        }

    @_guarded
    def history_columns(self, members: Sequence[str], *, tenant: str | None = None) -> EventColumns:
        # Unsorted, and only columns the (member, kind, ts, item, tenant) index holds (seq is its
        # rowid): SQLite answers from the index alone, and the sort is one lexsort after.
        where, args = self._scope(tenant)
        db = self._db()
        rows = itertools.chain.from_iterable(
            db.execute(f"SELECT member, item, kind, ts, seq FROM events WHERE member IN ({','.join('?' * len(chunk))})"
                       f" AND {where}", (*chunk, *args))
            for chunk in _chunks(list(dict.fromkeys(members)))
        )
        return EventColumns.from_rows(members, rows)

    @_guarded
    def member_state(self, member: str, *, tenant: str | None = None) -> str:
        where, args = self._scope(tenant)
        count, last = self._db().execute(
            f"SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events WHERE member = ? AND kind != 'impression' AND {where}",
            (member, *args),
        ).fetchone()
        return state_token(count, last)

    @_guarded
    def count_events(self, *, tenant: str | None = None) -> int:
        where, args = self._scope(tenant)
        return self._db().execute(f"SELECT COUNT(*) FROM events WHERE {where}", args).fetchone()[0]

    @_guarded
    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        rows = self._db().execute(
            "SELECT seq, id, member, item, kind, value, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        return [(row[0], event_from_row(row[1:])) for row in rows]

    @_guarded
    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        return self._db().execute(
            "SELECT seq, tenant FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()

    @_guarded
    def interactions(self, until_seq: int, kinds: Iterable[str], *,
                     tenant: str | None = None) -> list[tuple[str, str, str, float | None]]:
        """``(member, item, kind, value)`` of the events of ``kinds`` up to sequence number
        ``until_seq``, in the order recorded: the input of the collaborative model."""
        kinds = list(kinds)
        where, args = self._scope(tenant)
        return self._db().execute(
            f"SELECT member, item, kind, value FROM events WHERE seq <= ? AND kind IN ({','.join('?' * len(kinds))})"
            f" AND {where} ORDER BY seq",
            (until_seq, *kinds, *args),
        ).fetchall()

    @_guarded
    def enrolments(self, items: Sequence[str], *, tenant: str | None = None) -> dict[str, int]:
        """How many distinct members hold a seat in each of ``items`` (offline activities): those
        whose latest ``enroll`` event is not a withdrawal (value 0). A shared activity's seats
        are taken by every tenant's members, a tenant's own by its members only."""
        out: dict[str, int] = {}
        where, args = "1=1", []
        if tenant is not None:
            where, args = "(tenant = ? OR item IN (SELECT id FROM items WHERE tenant = ''))", [tenant]
        for chunk in _chunks(items):
            marks = ",".join("?" * len(chunk))
            for item, n in self._db().execute(
                "SELECT item, COUNT(*) FROM (SELECT item, value, ROW_NUMBER() OVER"
                " (PARTITION BY item, tenant, member ORDER BY ts DESC, seq DESC) AS newest FROM events"
                # A removed member's history kept under a pseudonym holds no seat.
                f" WHERE kind = 'enroll' AND item IN ({marks}) AND member NOT LIKE '{PSEUDONYM_PREFIX}%' AND {where})"
                " WHERE newest = 1 AND (value IS NULL OR value != 0) GROUP BY item",
                (*chunk, *args),
            ):
                out[item] = n
        return out

    @property
    def _events_by_member(self) -> str:
        # The covering index; an older store opened read-only (not upgraded) has schema 2's, or
        # none at all under the view of a schema 1 store.
        if self._legacy is None:
            return "events INDEXED BY events_member_kind_tenant"
        return "events" if self._legacy < 2 else "events INDEXED BY events_member_kind"

    @_guarded
    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        """Per item, how many members of branch ``org`` completed it in the window; and how many
        members of the branch completed anything."""
        rows = self._db().execute(
            f"SELECT item, member FROM {self._events_by_member}"
            " WHERE member IN (SELECT id FROM members WHERE org = ?) AND tenant = ?"
            " AND kind IN ('complete', 'attend') AND ts >= ? AND ts < ?",
            (org, tenant_of(org), since.timestamp(), until.timestamp()),
        ).fetchall()
        per_item: dict[str, set[str]] = {}
        for item, member in rows:
            per_item.setdefault(item, set()).add(member)
        return {i: len(ms) for i, ms in per_item.items()}, len({m for _, m in rows})

    @_guarded
    def completions_after(self, after: int, since: dt.datetime, *,
                          tenant: str | None = None) -> list[tuple[int, str, str, str, float]]:
        where, args = self._scope(tenant)
        # From the start, the covering index (sequence numbers are its rowids) reads a fraction
        # of the table; after a sequence number, the rowid range reads only what is new.
        source = self._events_by_member if after <= 0 else "events NOT INDEXED"
        return self._db().execute(
            f"SELECT seq, tenant, member, item, ts FROM {source} WHERE seq > ? AND kind IN ('complete', 'attend')"
            f" AND ts >= ? AND {where} ORDER BY seq", (after, since.timestamp(), *args),
        ).fetchall()

    # -- served lists --------------------------------------------------------------------

    @_guarded
    def get_served(self, member: str, day: dt.date, request: str, *, tenant: str | None = None) -> ServedList | None:
        where, args = self._scope(tenant)
        rows = self._db().execute(
            f"SELECT member, tenant, state, payload, created FROM served WHERE member = ? AND day = ? AND request = ?"
            f" AND {where}", (member, day.isoformat(), request, *args),
        ).fetchall()
        found = one_per_id("member", ((row[0], row[1], row[2:]) for row in rows)).get(member)
        if found is None:
            return None
        state, payload, created = found
        return ServedList(member, day, request, state, json.loads(payload), created)

    @_guarded
    def served_for(self, members: Sequence[str], day: dt.date, *, tenant: str | None = None) -> list[ServedList]:
        out = []
        where, args = self._scope(tenant)
        for chunk in _chunks(list(dict.fromkeys(members))):
            marks = ",".join("?" * len(chunk))
            for member, request, state, payload, created in self._db().execute(
                f"SELECT member, request, state, payload, created FROM served WHERE day = ? AND member IN ({marks})"
                f" AND {where}", (day.isoformat(), *chunk, *args),
            ):
                out.append(ServedList(member, day, request, state, json.loads(payload), created))
        return out

    @_guarded
    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = (), *,
                   tenant: str | None = None, copy: bool = False) -> None:
        """Keep served lists and record their impressions in one transaction.

        The impressions go in by multi-row ``INSERT OR IGNORE`` statements, so a day's batch of
        lists costs a few statements, and an impression already recorded (same id in the member's
        tenant) is skipped. They never move the activity sequence.

        The commit does not wait for the disk (see :meth:`_transaction`): a served list is the
        plan of the member's state, made again the same if lost with the machine, and its
        impressions only start cool-downs. Events that members and portals send stay synced.
        """
        check_impressions(impressions)
        members = list(dict.fromkeys([*(s.member for s in lists), *(e.member for e in impressions)]))
        with self._transaction(wait_for_disk=False) as db:
            # Which members are held, read in the writing transaction: a removal is another
            # writing transaction, wholly before this one (their list is dropped) or after it
            # (it removes the list with the rest), in this process or another.
            held = held_by(members, tenant, copy, lambda: {m: tenant_of(org) for m, org in
                                                           self._member_orgs(db, members, tenant).items()})
            lists, impressions = of_members_held(lists, held), of_members_held(impressions, held)
            db.executemany(
                "INSERT INTO served VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, member, day, request) DO UPDATE"
                " SET state = excluded.state, payload = excluded.payload, created = excluded.created",
                [(held[s.member], s.member, s.day.isoformat(), s.request, s.state, dumps(s.payload), s.created)
                 for s in lists],
            )
            rows = [(n, *event_row(e), held[e.member]) for n, e in enumerate(impressions)]
            per_row = len(rows[0]) if rows else 1  # the position in the batch, event_row, the tenant
            per_statement = max(1, min(500, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // per_row))
            marks = "(" + ",".join("?" * per_row) + ")"
            for chunk in _chunks(rows, per_statement):
                # The first of an id in a tenant stays, and recorded ones are filtered out rather
                # than left to OR IGNORE: an ignored row still uses up a sequence number, and the
                # sequence must count only what is stored.
                db.execute(
                    f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS})"
                    " SELECT column2, column3, column4, column5, column6, column7, column8, column9 FROM ("
                    "  SELECT *, ROW_NUMBER() OVER (PARTITION BY column9, column2 ORDER BY column1) AS nth FROM ("
                    f"   VALUES {','.join([marks] * len(chunk))})) AS fresh"
                    " WHERE nth = 1 AND NOT EXISTS (SELECT 1 FROM events"
                    "  WHERE events.tenant = fresh.column9 AND events.id = fresh.column2)"
                    " ORDER BY column1",
                    [value for row in chunk for value in row],
                )

    @_guarded
    def served_between(
        self, first: dt.date, last: dt.date, *, upcoming: bool = False, tenant: str | None = None
    ) -> list[tuple[str, dt.date, list[str]]]:
        """Daily lists served from ``first`` to ``last`` (inclusive): ``(member, day, item ids)``.

        A list asked for with several budgets the same day counts once per request.
        """
        where, args = self._scope(tenant)
        rows = self._db().execute(
            f"SELECT member, day, payload FROM served WHERE day >= ? AND day <= ? AND {where}"
            " ORDER BY day, member, request, tenant",
            (first.isoformat(), last.isoformat(), *args),
        ).fetchall()
        return [
            (member, dt.date.fromisoformat(day), served_item_ids(json.loads(payload), upcoming=upcoming))
            for member, day, payload in rows
        ]

    @_guarded
    def served_on(self, day: dt.date, *, tenant: str | None = None) -> set[tuple[str, str]]:
        where, args = self._scope(tenant)
        rows = self._db().execute(f"SELECT member, request FROM served WHERE day = ? AND {where}",
                                  (day.isoformat(), *args))
        return {(member, request) for member, request in rows}

    # -- trained models ------------------------------------------------------------------

    @_guarded
    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        check_artefact(name, data, activity)
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO artefacts VALUES (?, ?, ?, ?)", (name, bytes(data), activity, time.time()))
            db.execute("INSERT INTO meta VALUES ('models_rev', '1') "
                       "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    @_guarded
    def remove_artefact(self, name: str) -> bool:
        with self._transaction() as db:
            if not db.execute("DELETE FROM artefacts WHERE name = ?", (name,)).rowcount:
                return False
            db.execute("INSERT INTO meta VALUES ('models_rev', '1') "
                       "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            return True

    @_guarded
    def artefact_names(self) -> list[str]:
        return [row[0] for row in self._db().execute("SELECT name FROM artefacts ORDER BY name")]

    @_guarded
    def get_artefact(self, name: str) -> Artefact | None:
        row = self._db().execute("SELECT data, activity, created FROM artefacts WHERE name = ?", (name,)).fetchone()
        return None if row is None else Artefact(name, bytes(row[0]), int(row[1]), float(row[2]))

    # -- caches --------------------------------------------------------------------------

    def backup(self, target: str | os.PathLike[str]) -> list[Path]:
        """Copy the store, while it is in use, into the new folder ``target``: the database and
        the embedding cache with SQLite's online backup API (each a consistent snapshot, taken
        page by page without stopping writers for long), and the folder's JSON files (the
        curriculum, the API keys' hashes). The vector index is left out: it is rebuilt from the
        database when the copy is first used.

        Returns:
            The files written.

        Raises:
            StoreError: ``target`` is a file, is inside the store's folder, already holds files, or
                cannot be written (a copy that fails
                halfway, on a full disk say, is taken away again, so the same command can be run
                once there is room).
        """
        import shutil

        target = Path(target).expanduser().absolute()
        if target == self.files:
            raise StoreError(f"{target} is the store itself: give a new folder")
        if self.files.resolve() in target.resolve().parents:
            # Inside the store's folder, the copy would go with it (a lost disk, a folder removed).
            raise StoreError(f"{target} is inside the store's folder {self.files}: give a folder elsewhere")
        if target.exists() and not target.is_dir():
            raise StoreError(f"{target} is a file: give a new or empty folder")
        if target.exists() and any(target.iterdir()):
            raise StoreError(f"{target} is not empty: give a new or empty folder, so no store is overwritten")
        made = not target.exists()
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create backup folder {target}: {exc.strerror}") from exc
        written: list[Path] = []
        try:
            for name in (self.DB_NAME, self.CACHE_NAME):
                source_file = self.files / name
                if not source_file.is_file():
                    continue
                written.append(target / name)
                _copy_database(source_file, target / name)
            for extra in sorted(self.files.glob("*.json")):
                written.append(target / extra.name)
                try:
                    shutil.copy2(extra, target / extra.name)
                except OSError as exc:
                    raise StoreError(f"cannot copy {extra} to {target}: {exc.strerror}") from exc
        except BaseException:
            for path in written:  # nothing half-copied is left to block the next attempt
                for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    leftover.unlink(missing_ok=True)
            if made:
                shutil.rmtree(target, ignore_errors=True)
            raise
        return written

    @_guarded
    def integrity_problems(self) -> list[str]:
        """What SQLite's own check (``PRAGMA integrity_check``) finds wrong with the file's pages
        and indexes; empty when it is sound."""
        found = [r[0] for r in self._db().execute("PRAGMA integrity_check")]
        return [] if found == ["ok"] else found

    @_guarded
    def damaged_rows(self, dim: int | None) -> list[DamagedRow]:
        """Every row that does not parse (see :func:`recsys.storage._shared.damaged_rows`)."""
        with self._snapshot() as db:
            scans = scan_sql()
            return damaged_rows({table: db.execute(sql) for table, sql in scans.items()}, dim, self._db_file)

    @_guarded
    def repair_indexes(self) -> None:
        """Rebuild SQLite's own indexes from the tables (``REINDEX``): what mends an index that
        ``integrity_problems`` finds out of step with its table."""
        self._db().execute("REINDEX")

    def embedding_cache(self) -> SQLiteEmbeddingCache:
        """The store's embedding cache, on ``embeddings.sqlite`` in the folder (one per store)."""
        with self._lock:
            if self._cache is None:
                self._cache = SQLiteEmbeddingCache(self.files / self.CACHE_NAME, read_only=self.read_only)
            return self._cache


def _chunks(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]
