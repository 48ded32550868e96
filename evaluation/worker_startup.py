"""What a process serving the store pays before its first list, with the collaborative model read
from the store against built from the events, and what that is worth to a batch on workers.

Usage::

    python -m evaluation.worker_startup [--items 10000] [--members 100000] [--events 1000000]
        [--trials 3] [--group 2000] [--out FILE]

On one synthetic store (see :mod:`evaluation.synthetic`, model-free encoder), alternating
``--trials`` times between the two ways, the kept model removed from the store before each
"built" run and put back before each "read" run:

- a fresh process's first list (and its next one), and how long the build took in it; with the
  model read, also in a process warmed first (``Engine.warm``, as the service does before it
  reports ready), and how long the warm-up took;
- a batch of ``--group`` members on two fresh worker processes (``serve_day_in_processes``),
  beside the floor of "one matrix product members x items plus a top-150 per member" measured
  in the same run.

Only the public API and :mod:`recsys.serving.distributed` are used.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from evaluation.list_costs import top_k
from evaluation.machine import print_figures, store_parser
from evaluation.synthetic import DAY, WORK, build_store

__all__ = ["measure", "main"]


def _first_list(path: Path, member: str, day: dt.date, warm: bool = False) -> dict:
    """In this (fresh) process: open the store (``warm``: and warm it, as a service does before it
    reports ready), serve ``member``'s list and the next member's."""
    from recsys import Engine

    with Engine.open(str(path)) as engine:
        engine.catalogue()  # loaded by a service's readiness check, warmed or not
        started = time.perf_counter()
        if warm:
            engine.warm(day)
        warm_s = time.perf_counter() - started
        started = time.perf_counter()
        engine.daily(member, day)
        first = time.perf_counter() - started
        started = time.perf_counter()
        engine.daily(f"u{int(member[1:]) + 1:06d}", day)
        return {"first_s": round(first, 3), "next_ms": round((time.perf_counter() - started) * 1e3, 2),
                "build_s": round(engine.collab_build_seconds, 3), "warm_s": round(warm_s, 3)}


def _in_fresh_process(path: Path, member: str, day: dt.date, warm: bool = False) -> dict:
    code = ("import json, sys, datetime as dt; from pathlib import Path; "
            "from evaluation.worker_startup import _first_list; "
            "print(json.dumps(_first_list(Path(sys.argv[1]), sys.argv[2], dt.date.fromisoformat(sys.argv[3]), "
            "sys.argv[4] == 'warm')))")
    out = subprocess.run([sys.executable, "-c", code, str(path), member, day.isoformat(), "warm" if warm else "cold"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(items: int, members: int, events: int, *, trials: int = 3, group: int = 2000) -> dict:
    from recsys import get_encoder
    from recsys.pipeline.collaborative import ARTEFACT
    from recsys.serving.distributed import serve_day_in_processes

    path = WORK / f"list-costs-{items}-{members}-{events}"
    engine = build_store(path, items, members, events, get_encoder("tfidf"))
    engine.store.set_meta({"encoder_spec": "tfidf"})  # named, so fresh processes open it alone
    engine.daily("u000000", DAY)  # builds the model and keeps it
    kept = engine.store.get_artefact(ARTEFACT)
    assert kept is not None
    rng = random.Random(5)
    chosen = [f"u{n:06d}" for n in rng.sample(range(members - 1), trials * 2 + group)]
    results: dict[str, dict[str, list]] = {"built": {"first": [], "batch_s": []}, "read": {"first": [], "batch_s": []},
                                           "read_warmed": {"first": []}}
    for trial in range(trials):
        for n, how in enumerate(("built", "read")):
            if how == "built":
                engine.store.remove_artefact(ARTEFACT)
            else:
                engine.store.put_artefact(ARTEFACT, kept.data, kept.activity)
            day = DAY + dt.timedelta(days=1 + 2 * trial + n)
            # Another day than the batch's: the two members served there are not skipped by it.
            results[how]["first"].append(_in_fresh_process(path, chosen[2 * trial + n], day + dt.timedelta(days=50)))
            if how == "read":  # and warmed first, as a service before it reports ready
                results["read_warmed"]["first"].append(
                    _in_fresh_process(path, chosen[2 * trial + n], day + dt.timedelta(days=60), warm=True))
            if how == "built":
                engine.store.remove_artefact(ARTEFACT)  # the first-list process kept it again
            started = time.perf_counter()
            served, *_ = serve_day_in_processes(str(path), chosen[trials * 2:], day, workers=2)
            results[how]["batch_s"].append(round(time.perf_counter() - started, 3))
            assert served == group
    engine.close()
    return {"store": {"items": items, "members": members, "events": events, "encoder": "tfidf",
                      "kept_model_bytes": len(kept.data)},
            "group": group, "results": results, "batch_floor_s": _batch_floor(path, group)}


def _batch_floor(path: Path, group: int) -> float:
    """One matrix product of ``group`` item vectors (as member queries) with every item vector,
    plus a top-150 per row: what the batch's floor is in :mod:`evaluation.list_costs`."""
    from recsys import Engine

    with Engine.open(str(path)) as engine:
        x = engine.index().vectors(sorted(engine.catalogue())).astype(np.float32)
    q = x[np.random.default_rng(0).integers(0, len(x), group)]
    started = time.perf_counter()
    top_k(q @ x.T, 150)
    return round(time.perf_counter() - started, 4)


def main(argv: list[str] | None = None) -> dict:
    parser = store_parser("worker_startup", __doc__, items=10_000, members=100_000, events=1_000_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--group", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    result = measure(args.items, args.members, args.events, trials=args.trials, group=args.group)
    return print_figures(result, args.out)


if __name__ == "__main__":
    main()
