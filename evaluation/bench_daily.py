"""Daily-list latency at scale, next to the floor of a bare faiss top-k search.

Run ``python -m evaluation.bench_daily`` (``make bench``). For each catalogue size (default 10k
and 100k items) it builds an embedded store with 100k members and 1M events, then times:

- ``daily()`` as a portal calls it: profile, candidates, filters, scoring, MMR, knapsack, and
  storing the served list with its impressions (an fsync'd SQLite write);
- the same list computed without storing it (``Engine.recommender`` over a fresh context);
- a bare faiss top-k search (flat inner product, k = 150, one query) over the same vectors: the
  retrieval floor. The ratio says what everything beyond retrieval costs.

The catalogue is synthetic but shaped like the real one: each item copies a sample-corpus item
(its kind, minutes, topics, level, roles, schedule shifted over the coming months) and its
vector is that item's e5 vector plus Gaussian noise, so the vectors cluster as real ones do and
have e5's dimension. Embedding 100k texts with e5 on this machine would take hours and measure
the encoder, not the engine; texts that are not catalogue items (topics, role descriptions) are
embedded by the real e5 model. Results go to ``evaluation/results/daily.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from corpus import load_items, load_members
from evaluation.machine import describe, describe_markdown, write_results
from recsys import Engine, Member
from recsys.encoders import e5_small
from recsys.records import TZ, Schedule

OUT = Path(__file__).parent / "results"
WORK = Path(__file__).parent / "out"
DAY = dt.date(2026, 12, 1)


class SyntheticCatalogueEncoder:
    """Known vectors for the synthetic items' texts; the real e5 model for anything else."""

    def __init__(self, base, known: dict[str, np.ndarray]) -> None:
        self.base = base
        self.known = known
        self.name = base.name  # same vector space as the base: queries and items are comparable
        self.dim = base.dim

    def encode(self, texts, *, query: bool = False) -> np.ndarray:
        texts = list(texts)
        missing = [t for t in texts if query or t not in self.known]
        fresh = dict(zip(missing, self.base.encode(missing, query=query))) if missing else {}
        return np.stack([fresh[t] if (query or t not in self.known) else self.known[t] for t in texts]) \
            if texts else np.zeros((0, self.dim), np.float32)


def synthetic_items(n: int, rng: np.random.Generator, e5) -> tuple[list, dict[str, np.ndarray]]:
    templates = [t for t in load_items() if not t.requires]
    vectors = e5.encode([t.text for t in templates])
    items, known = [], {}
    for k in range(n):
        j = int(rng.integers(len(templates)))
        t = templates[j]
        fields = dict(
            id=f"syn-{k:06d}", title=f"{t.title}（{k}）", requires=(), org=None,
            published=DAY - dt.timedelta(days=int(rng.integers(0, 720))), expires=None,
        )
        if t.schedule is not None:
            shift = dt.timedelta(days=int(rng.integers(-30, 180)))
            fields["schedule"] = Schedule(t.schedule.starts + shift, t.schedule.ends + shift,
                                          t.schedule.location, t.schedule.capacity)
            fields["published"] = min(fields["published"], (t.schedule.starts + shift).date())
        item = replace(t, **fields)
        v = vectors[j] + rng.normal(0, 0.04, vectors.shape[1]).astype(np.float32)
        known[item.text] = v / np.linalg.norm(v)
        items.append(item)
    return items, known


def synthetic_members(n: int, rng: np.random.Generator) -> list[Member]:
    templates = load_members()
    branches = [f"bench.dw{b // 20:02d}.zb{b:03d}" for b in range(200)]
    out = []
    for k in range(n):
        t = templates[int(rng.integers(len(templates)))]
        out.append(replace(t, id=f"u{k:06d}", org=branches[int(rng.integers(len(branches)))]))
    return out


def synthetic_events(members: list[Member], items: list, n: int, rng: np.random.Generator) -> list[dict]:
    online = [i.id for i in items if i.mode == "online"]
    kinds = ["impression", "impression", "start", "complete", "complete", "rate", "skip"]
    out = []
    start = dt.datetime.combine(DAY - dt.timedelta(days=120), dt.time(8), TZ)
    for k in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        out.append({
            "member": members[int(rng.integers(len(members)))].id,
            "item": online[int(rng.integers(len(online)))],
            "kind": kind,
            "value": float(rng.integers(1, 6)) if kind == "rate" else None,
            "at": (start + dt.timedelta(minutes=int(rng.integers(0, 120 * 24 * 60)))).isoformat(),
        })
    return out


def build_store(path: Path, n_items: int, n_members: int, n_events: int, e5) -> Engine:
    """Open a copy of the store built for these sizes (building it the first time), so every run
    starts from the same state: no lists served yet, no impressions from an earlier run."""
    rng = np.random.default_rng(n_items)
    items, known = synthetic_items(n_items, rng, e5)
    encoder = SyntheticCatalogueEncoder(e5, known)
    pristine = path.with_name(path.name + "-pristine")
    if not (pristine / "complete").exists():
        _build(pristine, items, encoder, n_members, n_events, rng)
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    return Engine.open(path, encoder=encoder)


def _build(path: Path, items: list, encoder, n_members: int, n_events: int, rng) -> None:
    done = path / "complete"
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    engine = Engine.open(path, encoder=encoder)
    engine.add_items(items)
    members = synthetic_members(n_members, rng)
    engine.upsert_members(members)
    events = synthetic_events(members, items, n_events, rng)
    for b in range(0, len(events), 100_000):
        engine.record(events[b:b + 100_000])
    engine.index().search(np.zeros((1, engine.dim), np.float32), 1)  # build the search structure
    engine.close()
    done.write_text(f"built in {time.perf_counter() - started:.0f} s\n")
    print(f"store {path.name}: built in {time.perf_counter() - started:.0f} s")


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "mean_ms": round(float(ms.mean()), 1)}


def bare_faiss(engine: Engine, queries: int, k: int = 150) -> list[float]:
    import faiss

    x = engine.index().exact.vectors_
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    rng = np.random.default_rng(1)
    q = x[rng.integers(0, len(x), queries)]
    times = []
    for row in q:
        start = time.perf_counter()
        index.search(row[None, :], k)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    e5 = e5_small(threads=2)
    results = {"machine": describe(), "members": args.members, "events": args.events, "rows": []}
    for n in (int(s) for s in args.sizes.split(",")):
        engine = build_store(WORK / f"daily-{n}-{args.members}-{args.events}", n, args.members, args.events, e5)
        rng = random.Random(n)
        ids = [f"u{rng.randrange(args.members):06d}" for _ in range(args.requests)]
        engine.daily(ids[0], day=DAY)  # warm caches: role and topic query vectors, the catalogue view
        served, again, computed = [], [], []
        for k, member_id in enumerate(ids):
            day = DAY + dt.timedelta(days=1 + k % 20)
            start = time.perf_counter()
            engine.daily(member_id, day=day)
            served.append(time.perf_counter() - start)
            start = time.perf_counter()
            engine.daily(member_id, day=day)  # asked again: the stored list
            again.append(time.perf_counter() - start)
            member = engine.member(member_id)
            start = time.perf_counter()
            engine.recommender(engine._context(member, day + dt.timedelta(days=1), member.daily_minutes))
            computed.append(time.perf_counter() - start)
        floor = bare_faiss(engine, args.requests)
        row = {"items": n, "index": engine.index().kind, "daily": percentiles(served),
               "daily_again": percentiles(again), "compute_only": percentiles(computed), "bare_faiss_top150": percentiles(floor)}
        row["ratio_p50"] = round(row["daily"]["p50_ms"] / max(row["bare_faiss_top150"]["p50_ms"], 1e-3), 1)
        results["rows"].append(row)
        print(row)
        engine.close()

    lines = [
        "# Daily-list latency",
        "",
        f"Command: `python -m evaluation.bench_daily`. {describe_markdown()}",
        "",
        f"Store: embedded (SQLite + index file) with {args.members:,} members and {args.events:,} events; "
        f"{args.requests} requests for random members, one at a time.",
        "",
        "| items | index | daily() p50 | daily() p99 | asked again p50 | compute only p50 | compute only p99 | bare faiss top-150 p50 | p99 | daily p50 / faiss p50 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['items']:,} | {r['index']} | {r['daily']['p50_ms']} ms | {r['daily']['p99_ms']} ms | "
          f"{r['daily_again']['p50_ms']} ms | "
          f"{r['compute_only']['p50_ms']} ms | {r['compute_only']['p99_ms']} ms | "
          f"{r['bare_faiss_top150']['p50_ms']} ms | {r['bare_faiss_top150']['p99_ms']} ms | {r['ratio_p50']}× |"
          for r in results["rows"]],
        "",
        "`daily()` is a member's first request of the day: the whole pipeline plus storing the served",
        "list and its impressions (SQLite, synchronous=FULL). Asked again, the stored list comes back.",
        "Compute only is the same pipeline for the next day, without the write.",
        "",
    ]
    write_results(OUT, "daily", results, lines)
    return results


if __name__ == "__main__":
    main()
