"""The shared store: a PostgreSQL database that several processes (``recsys serve`` workers on
several machines) read and write at once.

Everything the SQLite folder keeps lives in the database, vectors (``bytea``) and the embedding
cache included; each process searches its own in-memory index, kept in step with the item
revision exactly as with SQLite (:meth:`PostgresStore.item_changes`).

How it stays correct with several writers:

- Every public method is one transaction (a pooled connection's ``with`` block): all or nothing.
- Counters are rows of ``counters`` bumped with ``UPDATE ... RETURNING``, so two writers never
  lose each other's bump; the row lock also orders item revisions, so a reader's snapshot never
  sees revision ``r`` without every write up to ``r``.
- Event ids are unique per tenant by constraint (``UNIQUE (tenant, id)``), so two processes
  retrying the same batch store it once. Event writers also take the ``seq``
  counter's row lock: sequence numbers stay gapless (a database sequence would leak numbers on
  every rollback and skipped retry), which keeps members' state tokens the same on every backend.
- Bulk writes (events, served lists and their impressions) go through ``COPY`` into a
  per-connection temporary table, then one ``INSERT ... SELECT``.
- Text keys use the ``"C"`` collation, so "by id" means by code point, as everywhere else,
  whatever the database's locale.

The schema is versioned (``meta.schema``): opening an older one upgrades it in one transaction
under an advisory lock (two processes starting at once upgrade it once); a newer one is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np

from recsys.exceptions import ConflictError, MissingExtraError, StoreError
from recsys.records import PSEUDONYM_PREFIX, Event, Item, Member, tenant_of
from recsys.storage._shared import (
    RESERVED_META,
    DamagedRow,
    check_impressions,
    check_artefact,
    check_meta,
    check_meta_prefix,
    check_org_names,
    check_vectors,
    conflict,
    damaged_rows,
    dumps,
    event_content,
    event_from_row,
    holders,
    item_clash,
    one_per_id,
    event_row,
    event_tenants,
    held_by,
    of_members_held,
    first_of_each_id,
    guarded,
    redacted,
    remove_member_rows,
    roster_moves,
    scan_sql,
    served_item_ids,
    stored_record,
    stored_vector,
)
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
from recsys.storage.embeddings import paged_entries

try:  # an optional extra: only a PostgreSQL URL imports this module
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("a PostgreSQL store", "postgres") from exc

__all__ = ["PostgresStore", "PostgresEmbeddingCache", "SCHEMA_VERSION"]

#: Each step brings a database from the version before it to its own (its index + 1).
_MIGRATIONS = (
    # 1: the store's tables.
    """
    CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
    CREATE TABLE counters (name text COLLATE "C" PRIMARY KEY, value bigint NOT NULL);
    INSERT INTO counters VALUES ('rev', 0), ('members_rev', 0), ('activity_seq', 0), ('seq', 0);
    CREATE TABLE items (
        id text COLLATE "C" PRIMARY KEY,
        data text NOT NULL,
        text_hash bytea NOT NULL,
        vector bytea NOT NULL,
        org text,
        rev bigint NOT NULL
    );
    CREATE INDEX items_rev ON items (rev);
    CREATE TABLE removed_items (id text COLLATE "C" PRIMARY KEY, rev bigint NOT NULL);
    CREATE INDEX removed_rev ON removed_items (rev);
    CREATE TABLE members (id text COLLATE "C" PRIMARY KEY, data text NOT NULL, org text NOT NULL);
    CREATE INDEX members_org ON members (org);
    CREATE TABLE events (
        seq bigint PRIMARY KEY,
        id text COLLATE "C" UNIQUE,
        member text COLLATE "C" NOT NULL,
        item text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        value double precision,
        at text NOT NULL,
        ts double precision NOT NULL
    );
    -- Few indexes, since every one slows ingest: a member's history (and a branch's completions);
    -- enrolments, a small share of the events.
    CREATE INDEX events_member ON events (member, ts);
    CREATE INDEX events_enrolled ON events (item) WHERE kind = 'enroll';
    CREATE TABLE served (
        member text COLLATE "C" NOT NULL,
        day date NOT NULL,
        request text COLLATE "C" NOT NULL,
        state text NOT NULL,
        payload text NOT NULL,
        created double precision NOT NULL,
        PRIMARY KEY (member, day, request)
    );
    CREATE INDEX served_day ON served (day);
    """,
    # 2: the embedding cache moves into the database, so every process shares it.
    """
    CREATE TABLE embeddings (
        model text NOT NULL,
        key bytea NOT NULL,
        vector bytea NOT NULL,
        PRIMARY KEY (model, key)
    );
    """,
    # 3: display names of organisations, which reports show instead of dotted codes.
    """
    CREATE TABLE org_names (org text COLLATE "C" PRIMARY KEY, name text NOT NULL);
    """,
    # 4: trained models (recsys train), with a counter that tells serving processes to reload.
    """
    CREATE TABLE artefacts (
        name text COLLATE "C" PRIMARY KEY,
        data bytea NOT NULL,
        activity bigint NOT NULL,
        created double precision NOT NULL
    );
    INSERT INTO counters VALUES ('models_rev', 0);
    """,
    # 5: event ids are unique per tenant (the top level of the member's organisation), no longer
    # across the store, so enterprises never learn of each other's ids. Each event takes its
    # member's tenant; those of members removed under a pseudonym have no id left, so their
    # tenant ('') binds nothing.
    """
    ALTER TABLE events ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '';
    UPDATE events SET tenant = split_part(members.org, '.', 1) FROM members WHERE members.id = events.member;
    ALTER TABLE events DROP CONSTRAINT events_id_key;
    ALTER TABLE events ADD CONSTRAINT events_tenant_id_key UNIQUE (tenant, id);
    """,
    # 6: member and item ids are unique per tenant too: members, items, removed items and served
    # lists are keyed by (tenant, id), each record taking its organisation's tenant ('' for a
    # shared item), a served list its member's. A removed item's tenant is unknown (''): every
    # view drops the id unless it holds it. The opening balances the engine keeps in one setting
    # take their member's tenant too.
    """
    UPDATE meta SET value = (
        SELECT COALESCE(jsonb_agg(b.value || jsonb_build_object('tenant', COALESCE(
            (SELECT split_part(m.org, '.', 1) FROM members m WHERE m.id = b.value ->> 'member'), ''))
            ORDER BY b.ordinality), '[]'::jsonb)::text
        FROM jsonb_array_elements(meta.value::jsonb) WITH ORDINALITY AS b)
    WHERE key = 'opening_balances' AND jsonb_typeof(value::jsonb) = 'array';
    ALTER TABLE items ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '';
    UPDATE items SET tenant = split_part(org, '.', 1) WHERE org IS NOT NULL;
    ALTER TABLE items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (tenant, id);
    CREATE INDEX items_id ON items (id, tenant);
    ALTER TABLE removed_items ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE removed_items DROP CONSTRAINT removed_items_pkey, ADD PRIMARY KEY (tenant, id);
    ALTER TABLE members ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '';
    UPDATE members SET tenant = split_part(org, '.', 1);
    ALTER TABLE members DROP CONSTRAINT members_pkey, ADD PRIMARY KEY (tenant, id);
    CREATE INDEX members_id ON members (id, tenant);
    ALTER TABLE served ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '';
    UPDATE served SET tenant = members.tenant FROM members WHERE members.id = served.member;
    ALTER TABLE served DROP CONSTRAINT served_pkey, ADD PRIMARY KEY (tenant, member, day, request);
    """,
    # 7: a member's list of a day, asked without the tenant that leads the key: by the day alone,
    # a list asked again after the nightly batch read every list of that day.
    """
    CREATE INDEX IF NOT EXISTS served_member ON served (member, day, request);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

# Any constant shared by every recsys process: serializes schema set-up and upgrades.
_SCHEMA_LOCK = 0x7265_6373_7973  # "recsys"

# A per-connection staging table for COPY of served lists; emptied at every commit.
_STAGING = """
CREATE TEMP TABLE new_served (
    ord integer NOT NULL, tenant text COLLATE "C", member text COLLATE "C", day date, request text COLLATE "C",
    state text, payload text, created double precision
) ON COMMIT DELETE ROWS;
"""

_EVENT_COLUMNS = "id, member, item, kind, value, at, ts, tenant"  # as :func:`event_row` gives them, then the tenant


@contextmanager
def _pg_errors(url: str, wait: float | None = None) -> Iterator[None]:
    """Turn a driver error into the library's: a conflict, or a StoreError naming the URL
    (``url`` is already without its password; the driver's messages never hold one)."""
    try:
        yield
    except PoolTimeout as exc:
        raise StoreError(f"PostgreSQL store {url}: no connection to the server within {wait:g} s "
                         "(is it running and reachable? are all connections busy?)") from exc
    except psycopg.errors.IntegrityError as exc:
        raise ConflictError("the write conflicts with what the store holds; read the record again and retry") from exc
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"PostgreSQL store {url}: {reason}") from exc


_guarded = guarded(lambda store: _pg_errors(store.url, store.wait_timeout))


class PostgresStore:
    """Items, members, events and served lists in a PostgreSQL database shared by processes.

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname`` (any libpq URL, query
            parameters such as ``sslmode`` included). The database must exist; the store
            creates or upgrades its tables.
        pool_size: Most connections this process opens at once (threads beyond wait for one).
        connect_timeout: Seconds to wait for the server when connecting.
        wait_timeout: Seconds a call waits for a free, live connection before it fails with
            StoreError (the service answers 503 then).

    Raises:
        StoreError: The server cannot be reached, refuses the login, or holds a schema of a
            newer recsys; the message names the URL without its password.

    Example:
        >>> store = PostgresStore("postgresql://recsys@db.internal:5432/recsys")  # doctest: +SKIP
        >>> store.revisions()                                                     # doctest: +SKIP
        Revisions(items=0, members=0, activity=0, models=0, roster=0)
    """

    def __init__(self, url: str, *, pool_size: int = 8, connect_timeout: int = 10, wait_timeout: float = 10) -> None:
        self.url = redacted(url)
        self.wait_timeout = wait_timeout
        self.files = None  # derived files (the vector index) are kept in memory
        self._cache: PostgresEmbeddingCache | None = None
        # No JIT: the store's queries are short, and compiling them costs more than it saves.
        options = {"connect_timeout": connect_timeout, "application_name": "recsys", "options": "-c jit=off"}
        with _pg_errors(self.url, wait_timeout):
            # Connect once first: an unreachable server or a wrong password fails here at once,
            # with the server's reason, rather than as a pool timeout later.
            with psycopg.connect(url, **options) as conn:
                self._prepare(conn)
            self._pool = ConnectionPool(
                url, kwargs=options, min_size=1, max_size=pool_size, timeout=wait_timeout,
                configure=_configure, check=ConnectionPool.check_connection,
                name="recsys", open=True,
            )

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    def _prepare(self, conn: psycopg.Connection) -> None:
        """Create the tables of a new database, upgrade an older schema, refuse a newer one."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            version = 0
            if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is not None:
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"PostgreSQL store {self.url} has schema version {version}, newer than the "
                    f"{SCHEMA_VERSION} this recsys knows: upgrade recsys"
                )
            for step in _MIGRATIONS[version:]:
                conn.execute(step)
            if version < SCHEMA_VERSION:
                conn.execute(
                    "INSERT INTO meta VALUES ('schema', %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        """One transaction on a pooled connection: committed at the end, rolled back on error."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    @_guarded
    def close(self) -> None:
        self._pool.close()

    # -- metadata and counters -----------------------------------------------------------

    @_guarded
    def get_meta(self, key: str) -> str | None:
        if key in RESERVED_META:
            return None
        with self._transaction() as cur:
            row = cur.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    @_guarded
    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        prefix = check_meta_prefix(prefix)
        with self._transaction() as cur:
            rows = cur.execute("SELECT key, value FROM meta WHERE left(key, %s) = %s",
                               (len(prefix), prefix)).fetchall()
        return {k: v for k, v in rows if k not in RESERVED_META}

    @_guarded
    def set_meta(self, values: Mapping[str, str | None]) -> None:
        check_meta(values)
        with self._transaction() as cur:
            self._write_meta(cur, values)

    @_guarded
    def keep_meta(self, key: str, value: str) -> str:
        check_meta({key: value})
        with self._transaction() as cur:
            cur.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, value))
            return cur.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()[0]

    @staticmethod
    def _write_meta(cur: psycopg.Cursor, values: Mapping[str, str | None]) -> None:
        cur.executemany(
            "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(k, v) for k, v in values.items() if v is not None],
        )
        cur.execute("DELETE FROM meta WHERE key = ANY(%s)", ([k for k, v in values.items() if v is None],))

    @_guarded
    def revisions(self) -> Revisions:
        with self._transaction() as cur:
            values = dict(cur.execute(
                "SELECT name, value FROM counters WHERE name IN ('rev', 'members_rev', 'roster_rev', 'activity_seq', "
                "'models_rev')"
            ).fetchall())
        return Revisions(items=values["rev"], members=values["members_rev"], activity=values["activity_seq"],
                         models=values["models_rev"], roster=values.get("roster_rev", 0))

    @staticmethod
    def _members_turn(cur: psycopg.Cursor) -> None:
        """Wait for any other member write to commit, and hold the others off until this one
        does (the members counter's row, locked until commit): the roster check then reads what
        the write before committed. Two writes at once could each see the other's member as it
        was, and neither count a move."""
        cur.execute("SELECT value FROM counters WHERE name = 'members_rev' FOR UPDATE")

    @staticmethod
    def _bump_roster(cur: psycopg.Cursor) -> None:
        # A counter stores made before it had: created at its first bump.
        cur.execute("INSERT INTO counters VALUES ('roster_rev', 1)"
                    " ON CONFLICT (name) DO UPDATE SET value = counters.value + 1")

    @staticmethod
    def _bump(cur: psycopg.Cursor, name: str, by: int = 1) -> int:
        """Add to a counter and return its new value; the row stays locked until commit."""
        return cur.execute("UPDATE counters SET value = value + %s WHERE name = %s RETURNING value",
                           (by, name)).fetchone()[0]

    # -- items ---------------------------------------------------------------------------

    @staticmethod
    def _keyed(cur: psycopg.Cursor, table: str, columns: Sequence[str], ids: Iterable[str], tenant: str | None, *,
               shared: bool = False, lock: str = "") -> list[tuple]:
        """``(id, tenant, *columns)`` of the rows of ``table`` with those ``ids``: in ``tenant``
        (and, with ``shared``, shared ones), or in any tenant when it is None."""
        scope, args = _scope(tenant, shared=shared)
        return cur.execute(f"SELECT {', '.join(['id', 'tenant', *columns])} FROM {table}"
                           f" WHERE id = ANY(%s) AND {scope} {lock}", (list(dict.fromkeys(ids)), *args)).fetchall()

    @staticmethod
    def _one_each(kind: str, rows: list[tuple]) -> dict[str, tuple]:
        """``id -> (tenant, *columns)`` of :meth:`_keyed` rows; an id of several tenants is an error."""
        return one_per_id(kind, ((row[0], row[1], row[1:]) for row in rows))

    @_guarded
    def item_hashes(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, bytes]:
        with self._transaction() as cur:
            found = self._one_each("item", self._keyed(cur, "items", ("text_hash",), ids, tenant, shared=True))
        return {id_: bytes(h) for id_, (_, h) in found.items()}

    @_guarded
    def upsert_items(self, items: Sequence[Item], vectors: np.ndarray) -> int:
        vectors = check_vectors(items, vectors)
        # Last of each id wins, as a row-by-row replace would have it; one row per id lets the
        # upsert be one statement.
        latest = {(it.tenant, it.id): (it, v) for it, v in zip(items, vectors)}
        with self._transaction() as cur:
            rev = self._bump(cur, "rev")  # taken first: item writers take turns, so the check holds
            held = dict(self._keyed(cur, "items", (), [it.id for it, _ in latest.values()], None))
            for it, _ in latest.values():
                if it.id in held and (held[it.id] == "") != (it.tenant == ""):
                    raise item_clash(it.id, held[it.id] == "")
            cur.executemany(
                "INSERT INTO items (tenant, id, data, text_hash, vector, org, rev) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant, id) DO UPDATE SET data = excluded.data, text_hash = excluded.text_hash,"
                " vector = excluded.vector, org = excluded.org, rev = excluded.rev",
                [(it.tenant, it.id, dumps(it.to_dict()), text_hash(it), v.tobytes(), it.org, rev)
                 for it, v in latest.values()],
            )
            cur.execute("DELETE FROM removed_items WHERE (tenant, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                        ([t for t, _ in latest], [i for _, i in latest]))
        return rev

    @_guarded
    def remove_items(self, ids: Sequence[str], *, tenant: str | None = None) -> int:
        ids = list(dict.fromkeys(ids))
        with self._transaction() as cur:
            rev = self._bump(cur, "rev")
            held = self._one_each("item", self._keyed(cur, "items", (), ids, tenant, shared=True))
            tenants = [held[i][0] if i in held else tenant or "" for i in ids]
            cur.execute("DELETE FROM items WHERE (tenant, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                        (tenants, ids))
            cur.execute(
                "INSERT INTO removed_items (tenant, id, rev) SELECT t, i, %s FROM unnest(%s::text[], %s::text[]) AS r(t, i)"
                " ON CONFLICT (tenant, id) DO UPDATE SET rev = excluded.rev",
                (rev, tenants, ids),
            )
        return rev

    @_guarded
    def get_items(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Item]:
        with self._transaction() as cur:
            found = self._one_each("item", self._keyed(cur, "items", ("data",), ids, tenant, shared=True))
        return {id_: stored_record(Item, id_, data, self.url) for id_, (_, data) in found.items()}

    @_guarded
    def item_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        with self._transaction() as cur:
            return set(self._one_each("item", self._keyed(cur, "items", (), ids, tenant, shared=True)))

    @_guarded
    def item_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        with self._transaction() as cur:
            return holders(self._keyed(cur, "items", (), ids, None))

    @_guarded
    def iter_items(self, *, tenant: str | None = None) -> Iterator[Item]:
        for id_, data in self._stream("SELECT id, data FROM items WHERE {} ORDER BY id, tenant", tenant, shared=True):
            yield stored_record(Item, id_, data, self.url)

    def _stream(self, sql: str, tenant: str | None = None, *, shared: bool = False) -> Iterator[tuple]:
        """A query's rows, fetched in pages by a server-side cursor, so a catalogue of any size
        is never all in memory at once (``{}`` in ``sql``: where the rows of ``tenant`` are kept)."""
        scope, args = _scope(tenant, shared=shared)
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(name="recsys_stream") as cur:
            cur.itersize = 2000
            cur.execute(sql.replace("{}", scope), args)
            yield from cur

    @_guarded
    def count_items(self, *, tenant: str | None = None) -> int:
        scope, args = _scope(tenant, shared=True)
        with self._transaction() as cur:
            return cur.execute(f"SELECT COUNT(*) FROM items WHERE {scope}", args).fetchone()[0]

    @_guarded
    def item_changes(self, since: int, dim: int, *, tenant: str | None = None) -> ItemChanges:
        scope, args = _scope(tenant, shared=True)
        with self._pool.connection() as conn:
            # One snapshot for the revision and the rows, so they agree.
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                if tenant is None:  # a catalogue of every tenant's items needs their ids unique
                    twice = cur.execute("SELECT id, array_agg(tenant) FROM items GROUP BY id HAVING COUNT(*) > 1"
                                        " LIMIT 1").fetchone()
                    if twice is not None:
                        one_per_id("item", ((twice[0], t, None) for t in twice[1]))
                rev = cur.execute("SELECT value FROM counters WHERE name = 'rev'").fetchone()[0]
                rows = cur.execute(f"SELECT id, data, vector FROM items WHERE rev > %s AND {scope} ORDER BY rev, id",
                                   (since, *args))
                upserted = [(stored_record(Item, id_, data, self.url), stored_vector(id_, blob, dim, self.url))
                            for id_, data, blob in rows]
                # An id another tenant removed is not removed from a view that still holds it.
                rows = cur.execute(
                    f"SELECT id FROM removed_items AS r WHERE rev > %s AND {scope} AND NOT EXISTS"
                    f" (SELECT 1 FROM items WHERE items.id = r.id AND {scope.replace('tenant', 'items.tenant')})"
                    " GROUP BY id ORDER BY MIN(rev), id", (since, *args, *args))
                removed = [id_ for (id_,) in rows]
        return ItemChanges(rev, upserted, removed)

    # -- members -------------------------------------------------------------------------

    @_guarded
    def upsert_members(self, members: Sequence[Member]) -> None:
        latest = {(m.tenant, m.id): m for m in members}  # last of each wins, as with a row-by-row replace
        records = [m.to_dict() for m in latest.values()]
        with self._transaction() as cur:
            self._members_turn(cur)
            roster = roster_moves(cur.execute, list(latest.values()), records, mark="%s")
            cur.executemany(
                "INSERT INTO members (tenant, id, data, org) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, id) DO UPDATE SET data = excluded.data, org = excluded.org",
                [(m.tenant, m.id, dumps(r), m.org) for m, r in zip(latest.values(), records)],
            )
            # What is derived from the members (branch activity, role-aware popularity) sees
            # that they changed.
            self._bump(cur, "members_rev")
            if roster:
                self._bump_roster(cur)

    @_guarded
    def get_members(self, ids: Sequence[str], *, tenant: str | None = None) -> dict[str, Member]:
        with self._transaction() as cur:
            found = self._one_each("member", self._keyed(cur, "members", ("data",), ids, tenant))
        return {id_: stored_record(Member, id_, data, self.url) for id_, (_, data) in found.items()}

    @_guarded
    def member_ids(self, ids: Sequence[str], *, tenant: str | None = None) -> set[str]:
        with self._transaction() as cur:
            return set(self._one_each("member", self._keyed(cur, "members", (), ids, tenant)))

    @_guarded
    def member_tenants(self, ids: Sequence[str]) -> dict[str, list[str]]:
        with self._transaction() as cur:
            return holders(self._keyed(cur, "members", (), ids, None))

    @_guarded
    def iter_members(self, *, tenant: str | None = None) -> Iterator[Member]:
        for id_, data in self._stream("SELECT id, data FROM members WHERE {} ORDER BY id, tenant", tenant):
            yield stored_record(Member, id_, data, self.url)

    @_guarded
    def count_members(self, *, tenant: str | None = None) -> int:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            return cur.execute(f"SELECT COUNT(*) FROM members WHERE {scope}", args).fetchone()[0]

    @_guarded
    def member_orgs(self, *, tenant: str | None = None) -> list[tuple[str, str]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(f"SELECT org, id FROM members WHERE {scope}", args).fetchall()
        return sorted(tuple(row) for row in rows)  # in code points, as the other stores (not the column's collation)

    @_guarded
    def member_roles(self, *, tenant: str | None = None) -> dict[str, list[str]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(f"SELECT id, data::jsonb -> 'roles' FROM members WHERE {scope} ORDER BY id, tenant",
                               args).fetchall()
        return {m: list(roles or []) for m, roles in rows}

    @_guarded
    def remove_member(
        self, member: str, *, pseudonym: str | None = None, meta: Mapping[str, str | None] | None = None,
        tenant: str | None = None,
    ) -> MemberRemoval | None:
        check_meta(meta or {})
        with self._transaction() as cur:
            self._members_turn(cur)
            held = self._one_each("member", self._keyed(cur, "members", (), [member], tenant)).get(member)
            if held is None:
                return None
            # FOR UPDATE: an upsert of the member at the same time waits for this transaction.
            removed = remove_member_rows(cur.execute, member, pseudonym, tenant=held[0], mark="%s", lock="FOR UPDATE")
            if removed is None:
                return None
            self._write_meta(cur, meta or {})
            self._bump(cur, "members_rev")
            self._bump_roster(cur)
        return MemberRemoval(member, *removed, pseudonym)

    # -- organisations -------------------------------------------------------------------

    @_guarded
    def set_org_names(self, names: Mapping[str, str | None]) -> None:
        pairs = check_org_names(names)
        with self._transaction() as cur:
            cur.executemany("INSERT INTO org_names VALUES (%s, %s) ON CONFLICT (org) DO UPDATE SET name = excluded.name",
                            [p for p in pairs if p[1] is not None])
            cur.execute("DELETE FROM org_names WHERE org = ANY(%s)", ([org for org, name in pairs if name is None],))

    @_guarded
    def org_names(self) -> dict[str, str]:
        with self._transaction() as cur:
            return dict(cur.execute("SELECT org, name FROM org_names ORDER BY org").fetchall())

    # -- events --------------------------------------------------------------------------

    @_guarded
    def record_events(self, events: Sequence[Event], *, tenants: Sequence[str] | None = None,
                      tenant: str | None = None) -> int:
        """Store events in one transaction; return how many were new.

        A retry (same id in the same tenant, same content) is skipped; the same id with other
        content is a :class:`~recsys.exceptions.ConflictError` and nothing of the batch is written.
        """
        with self._transaction() as cur:
            orgs = self._member_orgs(cur, [e.member for e in events], tenant) if tenants is None else {}
            tenants = event_tenants(events, orgs, tenants)
            new, lines = _new_in_batch(events, tenants)
            added, activity = self._write_events(cur, new, check=True, lines=lines)
            if activity is not None:
                cur.execute("UPDATE counters SET value = %s WHERE name = 'activity_seq'", (activity,))
        return added

    def _member_orgs(self, cur: psycopg.Cursor, ids: Iterable[str], tenant: str | None = None) -> dict[str, str]:
        """The organisation of each of the members ``ids`` the store holds (in ``tenant``, if
        given), their rows locked until the transaction ends (``FOR KEY SHARE``: a removal, which
        locks the row ``FOR UPDATE``, lands wholly before a write naming the member, which then
        finds it gone, or waits until that write is committed and removes what it wrote; an
        update of the member's record does not wait, nor deadlock with it).

        Raises:
            AmbiguousIdError: A member id is held by several tenants (give the tenants).
        """
        members = list(dict.fromkeys(ids))
        if not members:
            return {}
        rows = self._keyed(cur, "members", ("org",), members, tenant, lock="ORDER BY tenant, id FOR KEY SHARE")
        return {id_: org for id_, (_, org) in self._one_each("member", rows).items()}

    @staticmethod
    def _write_events(cur: psycopg.Cursor, events: Sequence[tuple[Event, str]], *,
                      check: bool, lines: Sequence[int] | None = None) -> tuple[int, int | None]:
        """Append the events (with their tenants) whose id their tenant does not hold yet, with
        COPY straight into the table.

        Returns how many were stored and the sequence number of the last one other than an
        impression (None if none). With ``check``, a stored id with other content is a conflict,
        named by its place in the caller's batch (``lines``, one per event) when given.
        """
        if not events:
            return 0, None
        # The lock that keeps sequence numbers gapless: event writers take turns from here on, so
        # the ids found stored now are all there will be until this transaction ends, and the new
        # events can be numbered here. The unique constraint on (tenant, id) stays the guarantee
        # that an id is stored once whatever happens to the lock.
        base = cur.execute("SELECT value FROM counters WHERE name = 'seq' FOR UPDATE").fetchone()[0]
        ids: dict[str, list[str]] = {}  # by tenant: a batch is mostly one tenant's
        for e, tenant in events:
            if e.id is not None:
                ids.setdefault(tenant, []).append(e.id)
        stored = {}
        for tenant, keys in ids.items():
            # One index scan per tenant over (tenant, id), the ids as an array (a join with an
            # unnest of pairs was planned as a scan of the whole table).
            for row in cur.execute("SELECT id, member, item, kind, value, ts FROM events"
                                   " WHERE tenant = %s AND id = ANY(%s)", (tenant, keys)):
                stored[tenant, row[0]] = row[1:]
        new = []
        for k, (e, tenant) in enumerate(events):
            if e.id is not None and (tenant, e.id) in stored:
                if check and stored[tenant, e.id] != event_content(e):
                    raise conflict(e.id, None if lines is None else lines[k])
                continue  # a retry: stored already
            new.append((e, tenant))
        if not new:
            return 0, None
        with cur.copy(f"COPY events (seq, {_EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "text", "text", "text", "float8", "text", "float8", "text"])
            for seq, (e, tenant) in enumerate(new, start=base + 1):
                copy.write_row((seq, *event_row(e), tenant))
        last = base + len(new)
        cur.execute("UPDATE counters SET value = %s WHERE name = 'seq'", (last,))
        activity = next((base + 1 + k for k in range(len(new) - 1, -1, -1) if new[k][0].kind != "impression"), None)
        return len(new), activity

    @_guarded
    def events(
        self,
        member: str | None = None,
        *,
        until: dt.datetime | None = None,
        kinds: Iterable[str] | None = None,
        tenant: str | None = None,
    ) -> list[Event]:
        scope, args = _scope(tenant)
        sql = f"SELECT id, member, item, kind, value, at FROM events WHERE {scope}"
        if member is not None:
            sql += " AND member = %s"
            args.append(member)
        if until is not None:
            sql += " AND ts <= %s"
            args.append(until.timestamp())
        if kinds is not None:
            sql += " AND kind = ANY(%s)"
            args.append(list(kinds))
        with self._transaction() as cur:
            return [event_from_row(row) for row in cur.execute(sql + " ORDER BY ts, seq", args)]

    @_guarded
    def history(self, member: str, *, tenant: str | None = None) -> History:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(
                f"SELECT seq, id, member, item, kind, value, at FROM events WHERE member = %s AND {scope}"
                " ORDER BY ts, seq", (member, *args),
            ).fetchall()
        # Impressions are left out of the state: serving a list must not make it stale.
        state = member_state(row[0] for row in rows if row[4] != "impression")
        return History(events=[event_from_row(row[1:]) for row in rows], state=state)

    @_guarded
    def histories(self, members: Sequence[str], *, tenant: str | None = None) -> dict[str, History]:
        found: dict[str, list] = {m: [] for m in members}
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(
                f"SELECT seq, id, member, item, kind, value, at FROM events WHERE member = ANY(%s) AND {scope}"
                " ORDER BY member, ts, seq",
                (list(found), *args),
            ).fetchall()
        for row in rows:
            found[row[2]].append(row)
        return {
            m: History(events=[event_from_row(row[1:]) for row in history],
                       state=member_state(row[0] for row in history if row[4] != "impression"))
            for m, history in found.items()
        }

    @_guarded
    def history_columns(self, members: Sequence[str], *, tenant: str | None = None) -> EventColumns:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            cur.execute(f"SELECT member, item, kind, ts, seq FROM events WHERE member = ANY(%s) AND {scope}",
                        (list(dict.fromkeys(members)), *args))
            return EventColumns.from_rows(members, cur)

    @_guarded
    def member_state(self, member: str, *, tenant: str | None = None) -> str:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            count, last = cur.execute(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events WHERE member = %s AND kind <> 'impression'"
                f" AND {scope}", (member, *args),
            ).fetchone()
        return state_token(count, last)

    @_guarded
    def count_events(self, *, tenant: str | None = None) -> int:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            return cur.execute(f"SELECT COUNT(*) FROM events WHERE {scope}", args).fetchone()[0]

    @_guarded
    def recorded_events(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT seq, id, member, item, kind, value, at FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, limit),
            ).fetchall()
        return [(row[0], event_from_row(row[1:])) for row in rows]

    @_guarded
    def recorded_tenants(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str]]:
        with self._transaction() as cur:
            return cur.execute("SELECT seq, tenant FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
                               (after, limit)).fetchall()

    @_guarded
    def interactions(self, until_seq: int, kinds: Iterable[str], *,
                     tenant: str | None = None) -> list[tuple[str, str, str, float | None]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            return cur.execute(
                f"SELECT member, item, kind, value FROM events WHERE seq <= %s AND kind = ANY(%s) AND {scope}"
                " ORDER BY seq", (until_seq, list(kinds), *args),
            ).fetchall()

    @_guarded
    def enrolments(self, items: Sequence[str], *, tenant: str | None = None) -> dict[str, int]:
        # A shared activity's seats are taken by every tenant's members, a tenant's own by its own.
        scope, args = "true", []
        if tenant is not None:
            scope, args = "(tenant = %s OR item IN (SELECT id FROM items WHERE tenant = ''))", [tenant]
        with self._transaction() as cur:
            return dict(cur.execute(
                # A member's latest enroll event decides: value 0 is a withdrawal.
                "SELECT item, COUNT(*) FROM (SELECT DISTINCT ON (item, tenant, member) item, value FROM events"
                # A removed member's history kept under a pseudonym holds no seat.
                f" WHERE kind = 'enroll' AND item = ANY(%s) AND member NOT LIKE '{PSEUDONYM_PREFIX}%%' AND {scope}"
                " ORDER BY item, tenant, member, ts DESC, seq DESC) latest"
                " WHERE value IS NULL OR value <> 0 GROUP BY item",
                (list(items), *args),
            ).fetchall())

    @_guarded
    def branch_completions(self, org: str, since: dt.datetime, until: dt.datetime) -> tuple[dict[str, int], int]:
        with self._transaction() as cur:
            per_item = dict(cur.execute(
                "SELECT item, COUNT(DISTINCT member) FROM events"
                " WHERE member IN (SELECT id FROM members WHERE org = %(org)s) AND tenant = %(tenant)s"
                " AND kind IN ('complete', 'attend') AND ts >= %(since)s AND ts < %(until)s GROUP BY item",
                {"org": org, "tenant": tenant_of(org), "since": since.timestamp(), "until": until.timestamp()},
            ).fetchall())
            members = cur.execute(
                "SELECT COUNT(DISTINCT member) FROM events"
                " WHERE member IN (SELECT id FROM members WHERE org = %(org)s) AND tenant = %(tenant)s"
                " AND kind IN ('complete', 'attend') AND ts >= %(since)s AND ts < %(until)s",
                {"org": org, "tenant": tenant_of(org), "since": since.timestamp(), "until": until.timestamp()},
            ).fetchone()[0]
        return per_item, members

    @_guarded
    def completions_after(self, after: int, since: dt.datetime, *,
                          tenant: str | None = None) -> list[tuple[int, str, str, str, float]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            return cur.execute(
                "SELECT seq, tenant, member, item, ts FROM events WHERE seq > %s AND kind IN ('complete', 'attend')"
                f" AND ts >= %s AND {scope} ORDER BY seq", (after, since.timestamp(), *args),
            ).fetchall()

    # -- served lists --------------------------------------------------------------------

    @_guarded
    def get_served(self, member: str, day: dt.date, request: str, *, tenant: str | None = None) -> ServedList | None:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT member, tenant, state, payload, created FROM served WHERE member = %s AND day = %s"
                f" AND request = %s AND {scope}", (member, day, request, *args),
            ).fetchall()
        found = one_per_id("member", ((row[0], row[1], row[2:]) for row in rows)).get(member)
        if found is None:
            return None
        state, payload, created = found
        return ServedList(member, day, request, state, json.loads(payload), created)

    @_guarded
    def served_for(self, members: Sequence[str], day: dt.date, *, tenant: str | None = None) -> list[ServedList]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT member, request, state, payload, created FROM served WHERE day = %s AND member = ANY(%s)"
                f" AND {scope}", (day, list(dict.fromkeys(members)), *args),
            ).fetchall()
        return [ServedList(member, day, request, state, json.loads(payload), created)
                for member, request, state, payload, created in rows]

    @_guarded
    def put_served(self, lists: Sequence[ServedList], impressions: Sequence[Event] = (), *,
                   tenant: str | None = None, copy: bool = False) -> None:
        """Keep served lists (the last of each member, day and request wins) and record their
        impressions, all by COPY in one transaction, committed without waiting for the disk. An
        impression already recorded is skipped. Without ``tenant``, each takes its member's."""
        check_impressions(impressions)
        with self._transaction() as cur:
            # As on SQLite, the commit does not wait for the disk: a served list is made again
            # the same if lost with the server, and the WAL keeps commits in order.
            cur.execute("SET LOCAL synchronous_commit TO off")
            # Which members are held, read in this transaction with their rows locked (see
            # _member_orgs): a member removed while the list was planned gets none back.
            members = [*(s.member for s in lists), *(e.member for e in impressions)]
            held = held_by(members, tenant, copy, lambda: {m: tenant_of(org) for m, org in
                                                           self._member_orgs(cur, members, tenant).items()})
            lists, impressions = of_members_held(lists, held), of_members_held(impressions, held)
            if lists:
                with cur.copy("COPY new_served (ord, tenant, member, day, request, state, payload, created)"
                              " FROM STDIN") as copy:
                    for ord_, s in enumerate(lists):
                        copy.write_row((ord_, held[s.member], s.member, s.day, s.request, s.state, dumps(s.payload),
                                        s.created))
                cur.execute(
                    "INSERT INTO served (tenant, member, day, request, state, payload, created)"
                    " SELECT DISTINCT ON (tenant, member, day, request) tenant, member, day, request, state, payload,"
                    " created FROM new_served ORDER BY tenant, member, day, request, ord DESC"
                    " ON CONFLICT (tenant, member, day, request) DO UPDATE SET state = excluded.state,"
                    " payload = excluded.payload, created = excluded.created"
                )
            self._write_events(cur, first_of_each_id(impressions, [held[e.member] for e in impressions]), check=False)

    @_guarded
    def served_between(
        self, first: dt.date, last: dt.date, *, upcoming: bool = False, tenant: str | None = None
    ) -> list[tuple[str, dt.date, list[str]]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            rows = cur.execute(
                f"SELECT member, day, payload FROM served WHERE day BETWEEN %s AND %s AND {scope}"
                " ORDER BY day, member, request, tenant", (first, last, *args),
            ).fetchall()
        return [(member, day, served_item_ids(json.loads(payload), upcoming=upcoming)) for member, day, payload in rows]

    @_guarded
    def served_on(self, day: dt.date, *, tenant: str | None = None) -> set[tuple[str, str]]:
        scope, args = _scope(tenant)
        with self._transaction() as cur:
            return {(m, r) for m, r in cur.execute(f"SELECT member, request FROM served WHERE day = %s AND {scope}",
                                                   (day, *args))}

    # -- trained models ------------------------------------------------------------------

    @_guarded
    def put_artefact(self, name: str, data: bytes, activity: int) -> None:
        check_artefact(name, data, activity)
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO artefacts VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "data = excluded.data, activity = excluded.activity, created = excluded.created",
                (name, bytes(data), activity, time.time()))
            self._bump(cur, "models_rev")

    @_guarded
    def remove_artefact(self, name: str) -> bool:
        with self._transaction() as cur:
            if not cur.execute("DELETE FROM artefacts WHERE name = %s", (name,)).rowcount:
                return False
            self._bump(cur, "models_rev")
            return True

    @_guarded
    def artefact_names(self) -> list[str]:
        with self._transaction() as cur:
            return [row[0] for row in cur.execute("SELECT name FROM artefacts ORDER BY name COLLATE \"C\"").fetchall()]

    @_guarded
    def get_artefact(self, name: str) -> Artefact | None:
        with self._transaction() as cur:
            row = cur.execute("SELECT data, activity, created FROM artefacts WHERE name = %s", (name,)).fetchone()
        return None if row is None else Artefact(name, bytes(row[0]), int(row[1]), float(row[2]))

    # -- caches --------------------------------------------------------------------------

    # -- integrity ----------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """None reported here: PostgreSQL checks its own pages (data checksums, WAL); use
        ``amcheck`` or ``pg_dump`` to read every page."""
        return []

    @_guarded
    def damaged_rows(self, dim: int | None) -> list[DamagedRow]:
        """Every row that does not parse, each table read through a server-side cursor."""
        return damaged_rows({table: self._stream(sql) for table, sql in scan_sql().items()}, dim, self.url)

    def repair_indexes(self) -> None:
        """Nothing done: rebuilding PostgreSQL's indexes (``REINDEX``) needs the tables' owner;
        run it as that role if ``amcheck`` reports a damaged index."""

    def embedding_cache(self) -> PostgresEmbeddingCache:
        """The store's embedding cache, a table of the same database (one object per store)."""
        if self._cache is None:
            self._cache = PostgresEmbeddingCache(self)
        return self._cache


class PostgresEmbeddingCache:
    """The embedding cache in the store's database: every process sharing the store shares it.

    Args:
        store: The store whose connections it uses.
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors of those ``keys`` that are cached."""
        with _pg_errors(self._store.url, self._store.wait_timeout), self._store._transaction() as cur:
            rows = cur.execute("SELECT key, vector FROM embeddings WHERE model = %s AND key = ANY(%s)",
                               (model, [bytes(k) for k in keys])).fetchall()
        return {bytes(key): np.frombuffer(blob, dtype=np.float32) for key, blob in rows}

    def put_many(self, model: str, entries: Mapping[bytes, np.ndarray]) -> None:
        """Cache vectors, replacing any under the same keys."""
        with _pg_errors(self._store.url, self._store.wait_timeout), self._store._transaction() as cur:
            cur.executemany(
                "INSERT INTO embeddings (model, key, vector) VALUES (%s, %s, %s)"
                " ON CONFLICT (model, key) DO UPDATE SET vector = excluded.vector",
                [(model, bytes(k), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in entries.items()],
            )

    def entries(self, page: int = 1000) -> Iterator[tuple[str, bytes, np.ndarray]]:
        """Every cached ``(model, key, vector)``, in key order, read a page at a time (what
        ``recsys migrate`` copies)."""
        def fetch(after: tuple[str, bytes] | None, limit: int) -> list:
            where, args = ("", ()) if after is None else ("WHERE (model, key) > (%s, %s)", after)
            with _pg_errors(self._store.url, self._store.wait_timeout), self._store._transaction() as cur:
                return cur.execute(f"SELECT model, key, vector FROM embeddings {where}"
                                   " ORDER BY model, key LIMIT %s", (*args, limit)).fetchall()

        yield from paged_entries(fetch, page)

    def close(self) -> None:
        """Nothing to release: the store owns the connections."""


def _scope(tenant: str | None, *, shared: bool = False) -> tuple[str, list[str]]:
    """A condition (with its arguments) keeping the rows of ``tenant`` (and shared ones)."""
    if tenant is None:
        return "true", []
    return ("tenant IN (%s, '')" if shared else "tenant = %s"), [tenant]


def _configure(conn: psycopg.Connection) -> None:
    """Set up a new pooled connection: its staging table for COPY."""
    conn.execute(_STAGING)
    conn.commit()


def _new_in_batch(events: Sequence[Event], tenants: Sequence[str]) -> tuple[list[tuple[Event, str]], list[int]]:
    """The batch with its tenants, without repeats of an id in a tenant (the first stays), and
    the 1-based line of each in the batch; a repeat with other content is a conflict, found
    before anything is written."""
    seen: dict[tuple[str, str], Event] = {}
    new, lines = [], []
    for line, (e, tenant) in enumerate(zip(events, tenants), start=1):
        if e.id is not None:
            first = seen.get((tenant, e.id))
            if first is not None:
                if event_content(first) != event_content(e):
                    raise conflict(e.id, line)
                continue
            seen[tenant, e.id] = e
        new.append((e, tenant))
        lines.append(line)
    return new, lines
