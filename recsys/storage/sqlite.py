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
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recsys.exceptions import ConflictError, StoreError
from recsys.records import Event, Item, Member

__all__ = ["Store", "ItemChanges"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    org TEXT,
    rev INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_rev ON items (rev);
CREATE TABLE IF NOT EXISTS removed_items (id TEXT PRIMARY KEY, rev INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS removed_rev ON removed_items (rev);
CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, data TEXT NOT NULL, org TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS members_org ON members (org);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE,
    member TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    at TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_member ON events (member, ts);
CREATE INDEX IF NOT EXISTS events_item ON events (item, kind);
-- Covers the branch's completions (collaborative signal) without touching the table.
CREATE INDEX IF NOT EXISTS events_member_kind ON events (member, kind, ts, item);
CREATE TABLE IF NOT EXISTS served (
    member TEXT NOT NULL,
    day TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (member, day, request)
);
"""


def text_hash(item: Item) -> bytes:
    """Hash of what is embedded for an item; unchanged text means an unchanged vector."""
    return hashlib.blake2b(item.text.encode("utf-8"), digest_size=16).digest()


@dataclass(frozen=True)
class ItemChanges:
    """Item writes logged after a revision: ``upserted`` items with their vectors, ``removed`` ids."""

    rev: int
    upserted: list[tuple[Item, np.ndarray]]
    removed: list[str]


class Store:
    """SQLite-backed storage of items, members, events and served lists in a folder.

    One connection per thread; WAL journal so readers never block the writer; ``synchronous=FULL``
    so an acknowledged write survives a power cut, not just a process crash.

    Args:
        path: The store folder; created if missing.
    """

    DB_NAME = "recsys.sqlite"
    INDEX_NAME = "index.npz"
    CACHE_NAME = "embeddings.sqlite"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store folder {self.path}: {exc.strerror}") from exc
        if not self.path.is_dir():
            raise StoreError(f"store path {self.path} is not a folder")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self._db()
        try:
            with db:
                db.executescript(_SCHEMA)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('rev', '0')")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path / self.DB_NAME} is not a usable recsys database: {exc}") from exc
        schema = int(self.get_meta("schema") or 0)
        if schema > SCHEMA_VERSION:
            raise StoreError(f"store {self.path} was written by a newer recsys (schema {schema})")

    # -- connections ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path / self.DB_NAME, timeout=60, isolation_level=None,
                                     check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA busy_timeout=60000")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open {self.path / self.DB_NAME}: {exc}") from exc
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it commits, or none of it does."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                try:
                    db.close()
                except sqlite3.ProgrammingError:  # pragma: no cover - closed from another thread
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- metadata ------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def rev(self) -> int:
        """The item revision: bumped by every item write."""
        return int(self.get_meta("rev") or 0)

    def _bump(self, db: sqlite3.Connection) -> int:
        rev = int(db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0]) + 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'rev'", (str(rev),))
        return rev

    # -- items ---------------------------------------------------------------------------

    def item_hashes(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Stored text hashes of those ``ids`` that exist."""
        out: dict[str, bytes] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for id_, h in self._db().execute(f"SELECT id, text_hash FROM items WHERE id IN ({marks})", chunk):
                out[id_] = bytes(h)
        return out

    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        """Insert or replace items with their vectors in one transaction; return the new revision."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.transaction() as db:
            rev = self._bump(db)
            db.executemany(
                "INSERT OR REPLACE INTO items (id, data, text_hash, vector, org, rev) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (it.id, _dumps(it.to_dict()), text_hash(it), v.tobytes(), it.org, rev)
                    for it, v in zip(items, vectors)
                ],
            )
            db.executemany("DELETE FROM removed_items WHERE id = ?", [(it.id,) for it in items])
        return rev

    def remove_items(self, ids: Sequence[str]) -> int:
        """Remove items (their events stay, as history); return the new revision."""
        with self.transaction() as db:
            rev = self._bump(db)
            db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])
            db.executemany("INSERT OR REPLACE INTO removed_items VALUES (?, ?)", [(i, rev) for i in ids])
        return rev

    def get_items(self, ids: Sequence[str]) -> dict[str, Item]:
        out: dict[str, Item] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for id_, data in self._db().execute(f"SELECT id, data FROM items WHERE id IN ({marks})", chunk):
                out[id_] = Item.from_dict(json.loads(data))
        return out

    def item_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` that exist."""
        found: set[str] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db().execute(f"SELECT id FROM items WHERE id IN ({marks})", chunk))
        return found

    def iter_items(self) -> Iterator[Item]:
        for (data,) in self._db().execute("SELECT data FROM items ORDER BY id"):
            yield Item.from_dict(json.loads(data))

    def count_items(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def item_changes(self, since: int, dim: int) -> ItemChanges:
        """Everything written to items after revision ``since``, read in one snapshot."""
        db = self._db()
        db.execute("BEGIN")  # one read snapshot, so rev and rows agree
        try:
            rev = int(db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])
            upserted = [
                (Item.from_dict(json.loads(data)), np.frombuffer(blob, dtype=np.float32).reshape(dim))
                for data, blob in db.execute("SELECT data, vector FROM items WHERE rev > ?", (since,))
            ]
            removed = [r[0] for r in db.execute("SELECT id FROM removed_items WHERE rev > ?", (since,))]
        finally:
            db.execute("COMMIT")
        return ItemChanges(rev, upserted, removed)

    def all_item_ids(self) -> set[str]:
        return {r[0] for r in self._db().execute("SELECT id FROM items")}

    # -- members -------------------------------------------------------------------------

    def upsert_members(self, members: Sequence[Member]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO members (id, data, org) VALUES (?, ?, ?)",
                [(m.id, _dumps(m.to_dict()), m.org) for m in members],
            )
            # Models derived from the members (role-aware popularity) see that they changed.
            db.execute("INSERT INTO meta VALUES ('members_rev', '1')"
                       " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def get_members(self, ids: Sequence[str]) -> dict[str, Member]:
        out: dict[str, Member] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for id_, data in self._db().execute(f"SELECT id, data FROM members WHERE id IN ({marks})", chunk):
                out[id_] = Member.from_dict(json.loads(data))
        return out

    def iter_members(self) -> Iterator[Member]:
        for (data,) in self._db().execute("SELECT data FROM members ORDER BY id"):
            yield Member.from_dict(json.loads(data))

    def member_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db().execute(f"SELECT id FROM members WHERE id IN ({marks})", chunk))
        return found

    def count_members(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM members").fetchone()[0]

    # -- events --------------------------------------------------------------------------

    def record_events(self, events: Sequence[Event]) -> int:
        """Store events in one transaction; return how many were new.

        An event whose id is already stored with the same content is a retry and is skipped; the
        same id with different content is a :class:`ConflictError` and nothing is written.
        """
        with self.transaction() as db:
            added = 0
            activity = None
            for e in events:
                row = (e.id, e.member, e.item, e.kind, e.value, e.at.isoformat(), e.at.timestamp())
                if e.id is not None:
                    old = db.execute(
                        "SELECT member, item, kind, value, ts FROM events WHERE id = ?", (e.id,)
                    ).fetchone()
                    if old is not None:
                        if old != (e.member, e.item, e.kind, e.value, e.at.timestamp()):
                            raise ConflictError(
                                f"event id {e.id!r} is already recorded with different content"
                            )
                        continue
                cursor = db.execute(
                    "INSERT INTO events (id, member, item, kind, value, at, ts) VALUES (?, ?, ?, ?, ?, ?, ?)", row
                )
                added += 1
                if e.kind != "impression":
                    activity = cursor.lastrowid
            if activity is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('activity_seq', ?)", (str(activity),))
        return added

    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[Event]:
        """Events in time order, optionally of one member, up to ``until``, of some kinds."""
        sql, args = "SELECT id, member, item, kind, value, at FROM events WHERE 1=1", []
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
        return [
            Event(id=i, member=m, item=it, kind=k, value=v, at=dt.datetime.fromisoformat(at))
            for i, m, it, k, v, at in self._db().execute(sql, args)
        ]

    def count_events(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM events").fetchone()[0]

    @property
    def members_rev(self) -> int:
        """The member revision: bumped by every member write."""
        return int(self.get_meta("members_rev") or 0)

    def activity_seq(self) -> int:
        """The sequence number of the last event other than an impression (0 for none).

        It only grows, and serving lists (which records impressions) does not move it. Kept in
        ``meta`` by :meth:`record_events`; a store written before that is scanned once.
        """
        stored = self.get_meta("activity_seq")
        if stored is not None:
            return int(stored)
        seq = self._db().execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE kind != 'impression'").fetchone()[0]
        if seq:
            with self.transaction() as db:  # a writer that got there first knows better
                db.execute("INSERT OR IGNORE INTO meta VALUES ('activity_seq', ?)", (str(seq),))
        return seq

    def interactions(self, until_seq: int, kinds: Iterable[str]) -> list[tuple[str, str, str, float | None]]:
        """``(member, item, kind, value)`` of the events of ``kinds`` up to sequence number
        ``until_seq``, in the order recorded: the input of the collaborative model."""
        kinds = list(kinds)
        return self._db().execute(
            f"SELECT member, item, kind, value FROM events WHERE seq <= ? AND kind IN ({','.join('?' * len(kinds))})"
            " ORDER BY seq",
            (until_seq, *kinds),
        ).fetchall()

    def member_roles(self) -> dict[str, list[str]]:
        """Every member's roles, without reading the whole records."""
        return {
            m: json.loads(roles or "[]")
            for m, roles in self._db().execute("SELECT id, json_extract(data, '$.roles') FROM members ORDER BY id")
        }

    def member_state(self, member: str) -> str:
        """A token that changes whenever an event of ``member`` is recorded.

        Impressions are left out: serving a list records impressions, which must not make the
        list just served stale.
        """
        row = self._db().execute(
            "SELECT COUNT(*), MAX(seq) FROM events WHERE member = ? AND kind != 'impression'", (member,)
        ).fetchone()
        return f"{row[0]}:{row[1] or 0}"

    def enrolments(self, items: Sequence[str]) -> dict[str, int]:
        """Members enrolled in each of ``items`` (offline activities)."""
        out: dict[str, int] = {}
        for chunk in _chunks(items):
            marks = ",".join("?" * len(chunk))
            for item, n in self._db().execute(
                f"SELECT item, COUNT(DISTINCT member) FROM events WHERE kind = 'enroll' AND item IN ({marks}) GROUP BY item",
                chunk,
            ):
                out[item] = n
        return out

    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        """Per item, how many members of branch ``org`` completed it in the window; and how many
        members of the branch completed anything."""
        rows = self._db().execute(
            "SELECT item, member FROM events INDEXED BY events_member_kind"
            " WHERE member IN (SELECT id FROM members WHERE org = ?)"
            " AND kind IN ('complete', 'attend') AND ts >= ? AND ts < ?",
            (org, since.timestamp(), until.timestamp()),
        ).fetchall()
        per_item: dict[str, set[str]] = {}
        for item, member in rows:
            per_item.setdefault(item, set()).add(member)
        return {i: len(ms) for i, ms in per_item.items()}, len({m for _, m in rows})

    # -- served lists --------------------------------------------------------------------

    def get_served(self, member: str, day: dt.date, request: str) -> tuple[str, Any] | None:
        row = self._db().execute(
            "SELECT state, payload FROM served WHERE member = ? AND day = ? AND request = ?",
            (member, day.isoformat(), request),
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def put_served(self, member: str, day: dt.date, request: str, state: str, payload: Any, created: float) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO served VALUES (?, ?, ?, ?, ?, ?)",
                (member, day.isoformat(), request, state, _dumps(payload), created),
            )

    def served_between(self, first: dt.date, last: dt.date) -> list[tuple[str, dt.date, list[str]]]:
        """Daily lists served from ``first`` to ``last`` (inclusive): ``(member, day, item ids)``.

        A list asked for with several budgets the same day counts once per request.
        """
        rows = self._db().execute(
            "SELECT member, day, payload FROM served WHERE day >= ? AND day <= ? ORDER BY day, member, request",
            (first.isoformat(), last.isoformat()),
        ).fetchall()
        return [
            (member, dt.date.fromisoformat(day), [e["item"]["id"] for e in json.loads(payload).get("entries", [])])
            for member, day, payload in rows
        ]


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
