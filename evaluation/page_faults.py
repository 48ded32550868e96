"""What keeping freed memory saves a batch: page faults and time a list, with glibc's own malloc
thresholds and with :func:`recsys.serving.allocator.reuse_freed_memory`.

Usage::

    python -m evaluation.page_faults [--rounds 4] [--members 1000] [--out FILE]

Each round runs two fresh processes one after the other, one per setting (the setting is a
process's, for good), on the list-costs store (:mod:`evaluation.list_costs`'s defaults: 10,000
items, 5,000 members, 150,000 events, model-free vectors). Each process plans 200 first requests
of the day (``daily()``) and then ``daily_many()`` for ``--members`` other members in branch order,
as ``recsys batch`` takes them, and reports the kernel's count of minor page faults (a page of
memory touched for the first time since the system gave it) and the wall time of each. The
machine is shared and noisy: the settings alternate, so a slow spell hits both alike.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from evaluation.machine import describe, print_figures

__all__ = ["measure", "main", "one_process"]

ITEMS, MEMBERS, EVENTS = 10_000, 5_000, 150_000


def one_process(setting: str, seed: int, members: int) -> dict:
    """One process's figures (run inside the process measured)."""
    import datetime as dt
    import random
    import resource
    import time

    from recsys import get_encoder

    if setting == "reuse":
        from recsys.serving.allocator import reuse_freed_memory

        if not reuse_freed_memory():
            raise SystemExit("this C library is not glibc: nothing to compare")
    from evaluation.synthetic import DAY, WORK, build_store

    engine = build_store(WORK / f"list-costs-{ITEMS}-{MEMBERS}-{EVENTS}", ITEMS, MEMBERS, EVENTS,
                         get_encoder("tfidf"))
    rng = random.Random(seed)
    sample = [f"u{n:06d}" for n in rng.sample(range(MEMBERS), 201 + members)]
    engine.daily(sample[0], DAY)  # the first request of a process builds the index and models

    def faults() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    times, counts = [], []
    for member in sample[1:201]:
        before, started = faults(), time.perf_counter()
        engine.daily(member, DAY)
        times.append(time.perf_counter() - started)
        counts.append(faults() - before)
    branch = {m: org for org, m in engine.store.member_orgs()}
    group = sorted(sample[201:], key=branch.__getitem__)
    before, started = faults(), time.perf_counter()
    engine.daily_many(group, DAY + dt.timedelta(days=1))
    seconds, batch_faults = time.perf_counter() - started, faults() - before
    engine.close()
    return {"setting": setting, "daily_p50_ms": round(float(np.median(times)) * 1e3, 2),
            "daily_faults_per_request": round(float(np.mean(counts)), 1),
            "batch_ms_per_list": round(seconds / len(group) * 1e3, 2),
            "batch_faults_per_list": round(batch_faults / len(group), 1)}


def measure(*, rounds: int = 4, members: int = 1000) -> dict:
    runs = []
    for seed in range(1, rounds + 1):
        for setting in ("default", "reuse"):
            done = subprocess.run([sys.executable, "-m", "evaluation.page_faults", "--one", setting,
                                   "--seed", str(seed), "--members", str(members)],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(runs[-1], file=sys.stderr)

    def median(setting: str, key: str) -> float:
        return round(float(np.median([r[key] for r in runs if r["setting"] == setting])), 2)

    keys = ("daily_p50_ms", "daily_faults_per_request", "batch_ms_per_list", "batch_faults_per_list")
    return {"machine": describe(), "store": {"items": ITEMS, "members": MEMBERS, "events": EVENTS},
            "batch_members": members, "runs": runs,
            "median": {s: {k: median(s, k) for k in keys} for s in ("default", "reuse")}}


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(prog="python -m evaluation.page_faults", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--members", type=int, default=1000, help="members of the batch in each process")
    parser.add_argument("--one", choices=("default", "reuse"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_process(args.one, args.seed, args.members)))
        return None
    return print_figures(measure(rounds=args.rounds, members=args.members), args.out)


if __name__ == "__main__":
    main()
