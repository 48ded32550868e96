"""What requests cost while the collaborative model is built beside them.

Usage::

    python -m evaluation.builds_beside [--items 10000] [--members 100000] [--events 1000000]
        [--rounds 3] [--out FILE]

On the synthetic store of :mod:`evaluation.list_costs` (built there if missing), opened as the
HTTP service opens it (``background_models``) and warmed: thirty requests one after another (the
floor: no build running); then, each round, a member added (the roster moves, so the next model
is built beside the requests) and requests one after another until the engine logs the build as
done, then thirty more. Reports each round's requests during the build (how many, p50, p90 and
the slowest) beside the p50 of those before and after, and the build's own time as logged.

Only the public API is used (and the engine's log), so the same script measures an older
version of the library too (``PYTHONPATH`` set to its checkout).
"""

from __future__ import annotations

import logging
import random
import re
import time
from pathlib import Path

import numpy as np

from evaluation.machine import describe, print_figures, store_parser
from evaluation.synthetic import DAY, WORK, build_store

__all__ = ["measure", "main"]

_BUILT = re.compile(r"collaborative model built from events up to \d+ in ([0-9.]+) s, beside the requests")


class _Builds(logging.Handler):
    """Catches the engine's log line that a build beside the requests is done."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.done: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _BUILT.search(message):
            self.done.append((time.perf_counter(), message))


def measure(items: int, members: int, events: int, *, rounds: int = 3, patience: float = 60.0) -> dict:
    from recsys import Engine, Member, get_encoder

    path = WORK / f"list-costs-{items}-{members}-{events}"
    build_store(path, items, members, events, get_encoder("tfidf")).close()
    ids = iter(f"u{n:06d}" for n in random.Random(11).sample(range(members), min(members, 20_000)))
    builds = _Builds()
    logger = logging.getLogger("recsys.serving.world")
    logger.addHandler(builds)
    logger.setLevel(logging.INFO)

    def one(engine) -> float:
        started = time.perf_counter()
        engine.daily(next(ids), DAY)
        return (time.perf_counter() - started) * 1e3

    def summary(times: list[float]) -> dict:
        t = np.asarray(times)
        return {"requests": len(t), "p50": round(float(np.median(t)), 2), "p90": round(float(np.quantile(t, 0.9)), 2),
                "max": round(float(t.max()), 2)} if len(t) else {"requests": 0}

    out = []
    try:
        with Engine.open(path, encoder=get_encoder("tfidf"), background_models=True) as engine:
            engine.warm(DAY)
            before = [one(engine) for _ in range(30)]
            for n in range(rounds):
                seen = len(builds.done)
                someone = engine.member(next(ids))
                written = time.perf_counter()
                engine.upsert_members([Member(id=f"new-{n}-{written:.0f}", name="新党员", org=someone.org)])
                during = []
                while len(builds.done) == seen and time.perf_counter() - written < patience:
                    during.append(one(engine))
                if len(builds.done) == seen:
                    raise RuntimeError(f"no build was logged within {patience:.0f} s of a member added")
                ended, message = builds.done[-1]
                after = [one(engine) for _ in range(30)]
                out.append({"during_build": summary(during), "after_p50": summary(after)["p50"],
                            "build_s": float(_BUILT.search(message).group(1)),
                            "write_to_built_s": round(ended - written, 2),
                            "apart": "process of its own" in message})
    finally:
        logger.removeHandler(builds)
    return {"machine": describe(), "store": {"items": items, "members": members, "events": events},
            "before_p50": summary(before)["p50"], "rounds": out}


def main(argv: list[str] | None = None) -> dict:
    parser = store_parser("builds_beside", __doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    return print_figures(measure(args.items, args.members, args.events, rounds=args.rounds), args.out)


if __name__ == "__main__":
    main()
