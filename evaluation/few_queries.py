"""What one member's search costs: a few queries against the catalogue, beside one query (the
floor of a daily list) and beside the same queries one at a time.

Usage::

    python -m evaluation.few_queries [--rounds 5] [--out FILE]

A request searches with up to three interest centroids of its own (role descriptions and topics
are searched once per catalogue and kept), so its search is a few queries over the whole item
matrix. ``ExactIndex.search_positions`` (the index below the HNSW threshold) is timed on random
unit vectors for 1 to 8 queries, k = 100, on one BLAS thread as planning runs, for a few catalogue
shapes; each figure is the median of ``--rounds`` timings, each the mean of many searches.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from evaluation.machine import describe, print_figures

__all__ = ["measure", "main"]

#: (items, dimensions): the list-costs store (model-free vectors), the default encoder's size at
#: the same and a larger catalogue, and a small one.
SHAPES = ((10_000, 1_024), (10_000, 384), (50_000, 384), (2_000, 384))


def _timed(search, repeat: int) -> float:
    search()
    started = time.perf_counter()
    for _ in range(repeat):
        search()
    return (time.perf_counter() - started) / repeat


def measure(*, rounds: int = 5, k: int = 100, shapes=SHAPES, most: int = 8) -> dict:
    """Each shape's search time for 1 to ``most`` queries, together and one at a time, and
    together as a multiple of one query's."""
    from threadpoolctl import threadpool_limits

    from recsys import ExactIndex

    rng = np.random.default_rng(0)
    out = []
    for items, dim in shapes:
        x = rng.standard_normal((items, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        index = ExactIndex(dim)
        index.add([f"i{n:06d}" for n in range(items)], x)
        repeat = max(5, int(2e8 // (items * dim)))
        with threadpool_limits(1, "blas"):
            for queries in range(1, most + 1):
                q = x[rng.integers(0, items, queries)] + 0.1 * rng.standard_normal((queries, dim)).astype(np.float32)
                together = [_timed(lambda: index.search_positions(q, k), repeat) for _ in range(rounds)]
                apart = [_timed(lambda: [index.search_positions(row[None, :], k) for row in q], repeat)
                         for _ in range(rounds)]
                out.append({"items": items, "dim": dim, "queries": queries,
                            "ms": round(float(np.median(together)) * 1e3, 3),
                            "one_at_a_time_ms": round(float(np.median(apart)) * 1e3, 3)})
        one = next(r["ms"] for r in out if (r["items"], r["dim"], r["queries"]) == (items, dim, 1))
        for r in out:
            if (r["items"], r["dim"]) == (items, dim):
                r["per_one_query"] = round(r["ms"] / one, 2)
    return {"machine": describe(), "k": k, "rounds": rounds, "searches": out}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evaluation.few_queries", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    return print_figures(measure(rounds=args.rounds), args.out)


if __name__ == "__main__":
    main()
