"""What whole-store work costs at scale: building the collaborative model and a coverage report.

Run ``python -m evaluation.scale_checks`` after ``recsys bench`` has built its synthetic stores
(``evaluation/out/daily-*-pristine``). Each measurement opens a fresh copy of a store, so nothing
is cached from an earlier run:

- the collaborative model (co-completion and role popularity) built from every event of the
  10k-item, 100k-member, 1M-event store, and the lookup once built;
- ``Engine.coverage()`` on the 10k-item, 1k-member, 1M-event store (its members-not-reached
  section checks every member).

Writes ``evaluation/results/scale.md`` and ``.json``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.machine import describe, describe_markdown, write_results

OUT = Path(__file__).parent / "out"
RESULTS = Path(__file__).parent / "results"
DAY = dt.date(2026, 12, 1)


def _open_copy(items: int, members: int, events: int, tmp: Path):
    from evaluation.bench import _base_encoder
    from evaluation.synthetic import SyntheticCatalogueEncoder, synthetic_items
    from recsys import Engine

    source = OUT / f"daily-{items}-{members}-{events}-pristine"
    if not (source / "complete").exists():
        raise SystemExit(f"{source} is missing: run `recsys bench` first, which builds it")
    copy = tmp / source.name
    shutil.copytree(source, copy)
    base = _base_encoder("e5-small-f32", OUT)  # the vectors `recsys bench` built the stores with
    # The same item vectors the store was built with (seeded by the catalogue size).
    _, known = synthetic_items(items, np.random.default_rng(items), base)
    engine = Engine.open(copy, encoder=SyntheticCatalogueEncoder(base, known))
    engine.index()
    return engine


def main() -> dict:
    results: dict = {"machine": describe()}
    with tempfile.TemporaryDirectory() as tmp:
        engine = _open_copy(10_000, 100_000, 1_000_000, Path(tmp))
        start = time.perf_counter()
        engine.collaborative()
        build = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(100):
            engine.collaborative()
        results["collaborative"] = {"store": "10k items, 100k members, 1M events",
                                    "build_s": round(build, 2),
                                    "cached_ms": round((time.perf_counter() - start) * 10, 3)}
        engine.close()
        print("collaborative", results["collaborative"])

        engine = _open_copy(10_000, 1_000, 1_000_000, Path(tmp))
        start = time.perf_counter()
        report = engine.coverage(day=DAY)
        results["coverage"] = {"store": "10k items, 1k members, 1M events",
                               "seconds": round(time.perf_counter() - start, 1),
                               "members": len(engine.members()), "gaps": len(report.gaps)}
        engine.close()
        print("coverage", results["coverage"])

    c, v = results["collaborative"], results["coverage"]
    lines = [
        "# Whole-store work at scale",
        "",
        f"Command: `python -m evaluation.scale_checks`. {describe_markdown()}",
        "",
        "| what | store | time |",
        "|---|---|---:|",
        f"| collaborative model, built | {c['store']} | {c['build_s']} s |",
        f"| collaborative model, once built | {c['store']} | {c['cached_ms']} ms |",
        f"| `Engine.coverage()` | {v['store']} | {v['seconds']} s |",
        "",
    ]
    write_results(RESULTS, "scale", results, lines)
    return results


if __name__ == "__main__":
    main()
