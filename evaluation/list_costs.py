"""What a list costs against its floor, on one synthetic store: one request, a batch, coverage.

Usage::

    python -m evaluation.list_costs [--items 10000] [--members 5000] [--events 150000] [--out FILE]

The store is synthetic (see :mod:`evaluation.synthetic`) with the model-free encoder, so it builds
in seconds; every figure stands beside its floor measured in the same run on the same vectors:

- ``daily()`` first request, p50 and p99, against one bare top-150 scan of the item vectors;
- ``daily_many()`` for a block of members, against one matrix product members x items plus a
  top-150 per member; and the same block, branch by branch as ``recsys batch`` takes members,
  planned by one and by N fresh worker processes (``Engine.batch(workers=N)``, start-up included
  in both), the N against the same floor;
- ``coverage()`` per member in scope (the median of five timings, each given).

The process keeps freed memory for reuse, as the command line and the service do
(:mod:`recsys.serving.allocator`); ``--allocator default`` measures glibc's own behaviour.

Only the public API is used, so the same script measures an older version of the library too.
"""

from __future__ import annotations

import inspect
import datetime as dt
import platform
import random
import time
from pathlib import Path

import numpy as np

from evaluation.machine import print_figures, store_parser
from evaluation.synthetic import DAY, WORK, build_store

__all__ = ["measure", "main", "top_k"]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The floor's ranking step, for its cost: each row's ``k`` best found and put in order."""
    top = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
    return np.take_along_axis(scores, top, axis=-1).argsort(axis=-1)


def measure(items: int, members: int, events: int, *, requests: int = 60, block: int = 980,
            workers: int = 2) -> dict:
    """Build (or reuse) the store and measure; returns the figures with their floors."""
    from recsys import get_encoder

    path = WORK / f"list-costs-{items}-{members}-{events}"
    engine = build_store(path, items, members, events, get_encoder("tfidf"))
    ids = sorted(engine.catalogue())
    x = engine.index().vectors(ids).astype(np.float32)
    k = min(150, len(ids))
    rng = random.Random(7)
    sample = [f"u{n:06d}" for n in rng.sample(range(members), requests + block + 1)]

    engine.daily(sample[0], DAY)  # the first request of a process builds the index and models
    single, floor = [], []
    for m in sample[1:requests + 1]:
        started = time.perf_counter()
        engine.daily(m, DAY)
        single.append(time.perf_counter() - started)
        q = x[rng.randrange(len(x))][None, :]
        started = time.perf_counter()
        top_k(q @ x.T, k)
        floor.append(time.perf_counter() - started)

    group = sample[requests + 1:]
    started = time.perf_counter()
    engine.daily_many(group, DAY + dt.timedelta(days=1))
    batch = time.perf_counter() - started
    q = x[np.random.default_rng(0).integers(0, len(x), len(group))]
    started = time.perf_counter()
    top_k(q @ x.T, k)
    batch_floor = time.perf_counter() - started

    spread = None
    if workers > 1 and "workers" in inspect.signature(engine.batch).parameters:  # not in older versions
        from recsys.serving.distributed import serve_day_in_processes

        # The builder passed an encoder object: name its spec, so workers opening the store find it.
        engine.store.set_meta({"encoder_spec": "tfidf"})
        # Branch by branch, as `recsys batch` and Engine.batch take them (a drawn sample is in no
        # order of branch, and each block would read the activity of a branch per member).
        branch = {member: org for org, member in engine.store.member_orgs()}
        in_order = sorted(group, key=branch.__getitem__)
        spread = {}
        for n, count in enumerate((1, workers)):  # both from fresh processes: start-up counted alike
            started = time.perf_counter()
            served, *_ = serve_day_in_processes(str(path), in_order, DAY + dt.timedelta(days=2 + n), workers=count)
            spread[count] = time.perf_counter() - started
            assert served == len(group)

    engine.coverage(day=DAY)  # warm
    # Five times, the median: one timing moved by a third from run to run on this shared machine.
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        report = engine.coverage(day=DAY)
        timings.append(time.perf_counter() - started)
    coverage = float(np.median(timings))
    engine.close()

    def ms(values: list[float], p: float) -> float:
        return round(float(np.percentile(values, p)) * 1e3, 3)

    return {
        "store": {"items": items, "members": members, "events": events, "encoder": "tfidf"},
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "processor": platform.machine()},
        "daily_ms": {"p50": ms(single, 50), "p99": ms(single, 99)},
        "daily_floor_ms": {"p50": ms(floor, 50), "p99": ms(floor, 99)},
        "daily_ratio": {"p50": round(ms(single, 50) / ms(floor, 50), 1), "p99": round(ms(single, 99) / ms(floor, 99), 1)},
        "batch": {"members": len(group), "seconds": round(batch, 3), "lists_per_s": round(len(group) / batch, 1),
                  "floor_seconds": round(batch_floor, 4), "ratio": round(batch / batch_floor, 1),
                  "hours_100k": round(batch / len(group) * 100_000 / 3600, 2),
                  "hours_1m": round(batch / len(group) * 1_000_000 / 3600, 2)},
        "batch_workers": None if spread is None else {
            "members": len(group),
            "seconds": {str(k): round(v, 3) for k, v in spread.items()},
            "lists_per_s": {str(k): round(len(group) / v, 1) for k, v in spread.items()},
            "speedup": round(spread[1] / spread[workers], 2),
            "ratio": round(spread[workers] / batch_floor, 1)},
        "coverage": {"members": report.counts["members"], "seconds": round(coverage, 3),
                     "ms_per_member": round(coverage / max(report.counts["members"], 1) * 1e3, 3),
                     "ms_per_member_runs": [round(t / max(report.counts["members"], 1) * 1e3, 3) for t in timings]},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = store_parser("list_costs", __doc__, items=10_000, members=5_000, events=150_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--block", type=int, default=980)
    parser.add_argument("--workers", type=int, default=2, help="processes for the batch over workers (1: skip it)")
    parser.add_argument("--allocator", choices=("reuse", "default"), default="reuse",
                        help="reuse: freed memory kept for reuse, as the command line, the service and the batch's "
                             "workers run (recsys.serving.allocator); default: glibc's own thresholds")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    allocator = "default"
    if args.allocator == "reuse":
        try:
            from recsys.serving.allocator import reuse_freed_memory
        except ImportError:  # an older version of the library
            allocator = "default (this version cannot set it)"
        else:
            allocator = "reuse" if reuse_freed_memory() else "default (not glibc)"
    result = {"allocator": allocator} | measure(args.items, args.members, args.events, requests=args.requests,
                                                block=args.block, workers=args.workers)
    return print_figures(result, args.out)


if __name__ == "__main__":
    main()
