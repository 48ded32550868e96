"""The nightly batch on a local Ray cluster with one worker and with two, on one synthetic store.

Usage::

    python -m evaluation.ray_batch [--items 10000] [--members 5000] [--events 150000] [--serve 1000]

Each run starts from a fresh copy of the same store and serves the same members' lists for one
day; Ray gets as many logical CPUs as workers, so one worker means one shard at a time. The
single-process batch (``Engine.batch`` without a cluster) runs on a third copy as the reference,
and the lists of all three are checked equal.
"""

from __future__ import annotations

import json
import shutil
import time

from evaluation.machine import store_parser
from evaluation.synthetic import DAY, WORK, build_store

__all__ = ["measure", "main"]


def _served(path, ids) -> dict:
    from recsys import Engine

    with Engine.open(path) as engine:
        return {s.member: s.payload for s in engine.store.served_for(ids, DAY)}


def measure(items: int, members: int, events: int, serve: int) -> dict:
    import ray

    from recsys import Engine, get_encoder
    from recsys.storage import open_store

    base = WORK / f"list-costs-{items}-{members}-{events}"
    build_store(base, items, members, events, get_encoder("tfidf")).close()
    ids = [f"u{n:06d}" for n in range(0, members, max(1, members // serve))][:serve]
    out: dict = {"store": {"items": items, "members": members, "events": events}, "served": len(ids)}
    lists = {}
    for run in ("single", 1, 2):
        path = WORK / f"ray-batch-{run}"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(base, path)
        store = open_store(path)  # the synthetic builder passes an encoder object: name its spec,
        store.set_meta({"encoder_spec": "tfidf"})  # so workers opening the store by URL find it
        store.close()
        with Engine.open(path) as engine:
            engine.daily(ids[0], DAY.replace(day=2))  # the index and models built, as a nightly job's are
            if run != "single":
                ray.init(num_cpus=run, include_dashboard=False, log_to_driver=False, configure_logging=False)
            try:
                started = time.perf_counter()
                report = engine.batch(DAY, members=ids, cluster=None if run == "single" else "local")
                seconds = time.perf_counter() - started
            finally:
                if run != "single":
                    ray.shutdown()
        lists[run] = _served(path, ids)
        out[f"workers_{run}" if run != "single" else "single_process"] = {
            "seconds": round(seconds, 2), "lists_per_s": round(report.served / seconds, 1),
            "floor_seconds": round(report.floor_seconds, 3)}
        print(run, out[f"workers_{run}" if run != "single" else "single_process"], flush=True)
    out["lists_equal"] = lists["single"] == lists[1] == lists[2]
    out["speedup_2_over_1"] = round(out["workers_1"]["seconds"] / out["workers_2"]["seconds"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = store_parser("ray_batch", __doc__, items=10_000, members=5_000, events=150_000)
    parser.add_argument("--serve", type=int, default=1_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.items, args.members, args.events, args.serve), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
