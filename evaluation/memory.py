"""What serving one store holds in memory: the peak resident set of a fresh process that opens the
store and serves lists from it, step by step.

Usage::

    python -m evaluation.memory [--items 100000] [--members 100000] [--events 1000000] [--out FILE]

``recsys bench`` reports the peak of its own process, which has also loaded every encoder it
timed and every store of its sweeps; a service or a nightly batch holds one store and one encoder.
This opens a copy of the bench's synthetic store (built by ``recsys bench``, kept in
``evaluation/out``) in a child process with the encoder the store was built with, and reports the
child's peak resident set after each step:

1. the engine opened (nothing read yet);
2. the first list (catalogue, vector index and collaborative model loaded);
3. 150 first requests of the day;
4. a batch of 2,000 members (``Engine.batch``: blocks of histories read, lists written);
5. the coverage report of the whole store.

It does so twice on the same copy, in two processes one after the other: the first opens a store
no process has served from (its query texts not yet embedded), the second a store in use (the
first's lists stored and query vectors cached) and plans the next day, as a service worker or the
next night's batch does.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import resource
import shutil
from pathlib import Path

from evaluation.machine import print_figures, store_parser
from evaluation.synthetic import DAY, WORK

__all__ = ["measure", "main"]


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _serve(path: str, members: int, requests: int, batch: int, coverage: bool, out, day=DAY) -> None:
    """In the child: open, serve on ``day``, and send the peaks back."""
    from recsys import Engine

    peaks = {"started": _peak_mib()}
    engine = Engine.open(path, encoder="e5-small-f32")  # the bench's stores keep float32 e5 vectors
    peaks["opened"] = _peak_mib()
    rng = random.Random(3)
    sample = [f"u{n:06d}" for n in rng.sample(range(members), requests + batch + 1)]
    engine.daily(sample[0], day)
    peaks["first_list"] = _peak_mib()
    for m in sample[1:requests + 1]:
        engine.daily(m, day)
    peaks[f"{requests}_requests"] = _peak_mib()
    engine.batch(day, members=sample[requests + 1:])
    peaks[f"batch_{batch}"] = _peak_mib()
    if coverage:
        engine.coverage(day=day)
        peaks["coverage"] = _peak_mib()
    engine.close()
    out.send(peaks)


def measure(items: int, members: int, events: int, *, requests: int = 150, batch: int = 2_000,
            coverage: bool = True) -> dict:
    pristine = WORK / f"daily-{items}-{members}-{events}-pristine"
    if not (pristine / "complete").exists():
        raise SystemExit(f"no store at {pristine}: `recsys bench` builds it")
    path = WORK / f"memory-{items}-{members}-{events}"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this one counted
    runs = []
    for day in (DAY, DAY + dt.timedelta(days=1)):  # a new store, then the same store in use
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_serve, args=(str(path), members, requests, batch, coverage, send, day))
        child.start()
        runs.append(receive.recv())
        child.join()
    shutil.rmtree(path, ignore_errors=True)
    return {"store": {"items": items, "members": members, "events": events, "encoder": "e5-small-f32"},
            "peak_rss_mib": runs[0], "peak_rss_mib_store_in_use": runs[1]}


def main(argv: list[str] | None = None) -> dict:
    parser = store_parser("memory", __doc__, items=100_000, members=100_000, events=1_000_000)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--no-coverage", action="store_true")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    result = measure(args.items, args.members, args.events, requests=args.requests, batch=args.batch,
                     coverage=not args.no_coverage)
    return print_figures(result, args.out)


if __name__ == "__main__":
    main()
