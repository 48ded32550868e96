"""Event ingest into PostgreSQL beside SQLite, in the same run: events/s through ``Store.record_events``.

Run against a PostgreSQL server whose user may create databases (a scratch database is created
and dropped; the URL names any database to connect to first)::

    python -m evaluation.store_ingest --url postgresql://recsys@127.0.0.1:5432/postgres

Each backend gets a fresh store per batch size and records the same synthetic events (ids set,
as portals send them: 10,000 members, 2,000 items, a year of study) in batches, then the same
batches again (every event a retry, which is skipped). The machine is shared: compare the
ratios of a run, not absolute figures across runs. Writes ``evaluation/results/store_ingest.md``
and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from evaluation.machine import describe, describe_markdown, write_results

RESULTS = Path(__file__).parent / "results"
KINDS = np.array(["impression", "start", "progress", "complete", "rate", "quiz"])
_VALUES = {"progress": 0.5, "rate": 4.0, "quiz": 0.8}  # the kinds that carry a value


def synthetic_events(n: int, seed: int = 0) -> list:
    """``n`` events with ids, of 10,000 members over 2,000 items across 2026."""
    from recsys import Event
    from recsys.records import TZ

    rng = np.random.default_rng(seed)
    members, items = rng.integers(0, 10_000, n), rng.integers(0, 2_000, n)
    kinds, seconds = rng.integers(0, len(KINDS), n), np.sort(rng.integers(0, 365 * 86_400, n))
    start = dt.datetime(2026, 1, 1, tzinfo=TZ)
    return [
        Event(id=f"ev-{k}", member=f"m{members[k]:05d}", item=f"it{items[k]:04d}", kind=str(KINDS[kinds[k]]),
              value=_VALUES.get(str(KINDS[kinds[k]])), at=start + dt.timedelta(seconds=int(seconds[k])))
        for k in range(n)
    ]


def _members_of(events: list) -> list:
    from recsys import Member

    return [Member(id=m, name=f"党员{m}", org="hxny.zb") for m in sorted({e.member for e in events})]


def _timed(store, events: list, batch: int) -> float:
    """Seconds to record ``events`` in batches of ``batch``, checked to store each exactly once."""
    began = time.perf_counter()
    added = sum(store.record_events(events[start:start + batch]) for start in range(0, len(events), batch))
    seconds = time.perf_counter() - began
    if store.count_events() != len(events) or added not in (0, len(events)):
        raise SystemExit(f"{store.url}: {added} events added of {len(events)}, {store.count_events()} stored")
    return seconds


def run(url: str, n: int, batches: list[int]) -> dict:
    import psycopg

    from recsys.storage import open_store

    events = synthetic_events(n)
    scratch = f"recsys_ingest_{uuid.uuid4().hex[:8]}"
    rows = []
    with psycopg.connect(url, autocommit=True) as admin, tempfile.TemporaryDirectory() as tmp:
        base = url.rsplit("/", 1)[0]
        for batch in batches:
            admin.execute(f'CREATE DATABASE "{scratch}"')
            try:
                for backend, target in (("sqlite", Path(tmp) / f"s{batch}"), ("postgresql", f"{base}/{scratch}")):
                    store = open_store(target)
                    try:
                        # A store records events of the members it holds (ten thousand, in one write).
                        store.upsert_members(_members_of(events))
                        first, again = _timed(store, events, batch), _timed(store, events, batch)
                    finally:
                        store.close()
                    rows.append({"backend": backend, "batch": batch, "events": n,
                                 "new_per_s": n / first, "retries_per_s": n / again})
                    print(f"{backend:>10} batch {batch:>6}: {n / first:>9,.0f} new events/s, "
                          f"{n / again:>9,.0f} retried events/s")
            finally:
                admin.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')
        server = admin.execute("SHOW server_version").fetchone()[0]
        durability = {k: admin.execute(f"SHOW {k}").fetchone()[0] for k in ("fsync", "synchronous_commit")}
    return {"machine": describe(), "postgresql": server, "durability": durability, "rows": rows}


def report(results: dict) -> list[str]:
    rows = results["rows"]
    by = {(r["backend"], r["batch"]): r for r in rows}
    lines = [
        "# Event ingest: PostgreSQL beside SQLite",
        "",
        describe_markdown(),
        f"PostgreSQL {results['postgresql']} (fsync {results['durability']['fsync']}, synchronous_commit "
        f"{results['durability']['synchronous_commit']}); SQLite in WAL mode with synchronous=FULL.",
        "",
        "`python -m evaluation.store_ingest` — `Store.record_events` in batches, a fresh store per batch size; "
        "then the same batches again (every event a retry). Same run, same events: compare the ratios.",
        "",
        "| batch | SQLite new events/s | PostgreSQL new events/s | PG / SQLite | SQLite retries/s | PostgreSQL retries/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for batch in sorted({r["batch"] for r in rows}):
        s, p = by["sqlite", batch], by["postgresql", batch]
        lines.append(f"| {batch:,} | {s['new_per_s']:,.0f} | {p['new_per_s']:,.0f} | "
                     f"{p['new_per_s'] / s['new_per_s']:.2f} | {s['retries_per_s']:,.0f} | {p['retries_per_s']:,.0f} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL server (user allowed to create databases)")
    parser.add_argument("--events", type=int, default=200_000, help="events per store (default: 200,000)")
    parser.add_argument("--batches", default="1000,10000,50000", help="batch sizes, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: evaluation/results)")
    args = parser.parse_args()
    results = run(args.url, args.events, [int(b) for b in args.batches.split(",")])
    write_results(args.out, "store_ingest", results, report(results))


if __name__ == "__main__":
    main()
