"""What reading a branch's recent completions costs: from the store per request, or from the
completions a process keeps (:class:`recsys.serving.branches.BranchLog`); and how many branches a
batch block reads with its members drawn at random or taken branch by branch.

Usage::

    python -m evaluation.branch_reads [--items 10000] [--members 100000] [--events 1000000]
        [--sample 2000] [--block 256] [--out FILE]

On the synthetic store of :mod:`evaluation.list_costs` (built there if missing), for the window
before :data:`evaluation.synthetic.DAY`: the completions in the window; reading them all into a
fresh log (three times, each a new log); one count per branch from the log and from the store's
query (every branch, three rounds); and, for ``--sample`` members drawn at random, the distinct
branches per block of ``--block`` in the drawn order and in branch order (what a block reads).
Then, through the public API on the store opened as the HTTP service opens it, what the first
requests cost after a member is written: a member's interests (a portal writes those all day),
then a member added (the roster moves: every branch's completions are read again and the
collaborative model is built again, both beside the requests); each of the five first requests
after the write, beside the median of thirty requests before and after.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from evaluation.machine import print_figures, store_parser
from evaluation.synthetic import DAY, WORK, build_store

__all__ = ["measure", "main"]


def measure(items: int, members: int, events: int, *, sample: int = 2000, block: int = 256) -> dict:
    from recsys import get_encoder
    from recsys.pipeline.profile import day_end
    from recsys.serving.batch import in_branch_order
    from recsys.serving.branches import BranchLog
    from recsys.serving.world import BRANCH_WINDOW

    engine = build_store(WORK / f"list-costs-{items}-{members}-{events}", items, members, events, get_encoder("tfidf"))
    store = engine.store
    end = day_end(DAY)
    since = end - BRANCH_WINDOW
    revisions = store.revisions()
    orgs = sorted({org for org, _ in store.member_orgs()})
    loads = []
    for _ in range(3):
        log = BranchLog(store)
        started = time.perf_counter()
        log.counts(orgs[0], since, end, revisions)
        loads.append(time.perf_counter() - started)
    from_log, from_store = [], []
    for _ in range(3):
        started = time.perf_counter()
        for org in orgs:
            log.counts(org, since, end, revisions)
        from_log.append((time.perf_counter() - started) / len(orgs))
        started = time.perf_counter()
        for org in orgs:
            store.branch_completions(org, since, end)
        from_store.append((time.perf_counter() - started) / len(orgs))
    completions = len(store.completions_after(0, since))
    drawn = [f"u{n:06d}" for n in random.Random(7).sample(range(members), sample)]
    branch = {member: org for org, member in store.member_orgs()}

    def branches_per_block(ids: list[str]) -> float:
        return float(np.mean([len({branch[m] for m in ids[i:i + block]}) for i in range(0, len(ids), block)]))

    per_block = {"drawn": branches_per_block(drawn), "branch_order": branches_per_block(in_branch_order(store, drawn))}
    engine.close()
    with _as_a_service(WORK / f"list-costs-{items}-{members}-{events}") as service:
        after_write = _requests_after_a_member_write(service, drawn)
    return {
        "store": {"items": items, "members": members, "events": events, "branches": len(orgs)},
        "completions_in_window": completions,
        "log_load_s": [round(t, 3) for t in loads],
        "count_ms": {"log": [round(t * 1e3, 3) for t in from_log], "store": [round(t * 1e3, 3) for t in from_store]},
        "branches_per_block": {"block": block, "sample": sample, **{k: round(v, 1) for k, v in per_block.items()}},
        "requests_after_a_member_write_ms": after_write,
    }


def _as_a_service(path: Path):
    """The store opened as the HTTP service opens it: the collaborative model built beside the
    requests (by an older version without the setting, in them)."""
    import inspect

    from recsys import Engine, get_encoder

    how = {"background_models": True} if "background_models" in inspect.signature(Engine.open).parameters else {}
    return Engine.open(path, encoder=get_encoder("tfidf"), **how)


def _requests_after_a_member_write(engine, members: list[str]) -> dict:
    """First requests of the day, warmed: thirty; then a member's interests written (as a portal
    does all day), the next five one by one, thirty more five seconds later (once any reading in
    the background is over); then a member added (the roster moves), the same again."""
    from dataclasses import replace

    from recsys import Member

    engine.warm(DAY)
    ids = iter(members)

    def timed(count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            engine.daily(next(ids), DAY)
            times.append((time.perf_counter() - started) * 1e3)
        return times

    def after(write) -> dict:
        write()
        first = timed(5)
        time.sleep(5)
        return {"first_five": [round(t, 2) for t in first], "then_p50": round(float(np.median(timed(30))), 2)}

    before = timed(30)
    someone = engine.member(members[-1])
    interests = after(lambda: engine.upsert_members([replace(someone, interests=("党史学习教育",))]))
    added = after(lambda: engine.upsert_members([Member(id="u-new", name="新党员", org=someone.org)]))
    return {"before_p50": round(float(np.median(before)), 2), "interests_written": interests, "member_added": added}


def main(argv: list[str] | None = None) -> dict:
    parser = store_parser("branch_reads", __doc__, items=10_000, members=100_000, events=1_000_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    return print_figures(measure(args.items, args.members, args.events, sample=args.sample, block=args.block),
                         args.out)


if __name__ == "__main__":
    main()
