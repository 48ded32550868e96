"""Workloads for the encoding and search benchmarks (``recsys bench``).

- Passages: ~300-character Chinese passages (the sample corpus's bodies, cut or repeated), the
  input of the encoding-throughput benchmark.
- Catalogue vectors: the sample corpus's vectors, each copied with Gaussian noise, so the data
  has real clusters, as a catalogue does; queries are short Chinese search phrases.
"""

from __future__ import annotations

import time

import numpy as np

from corpus import load_items

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


class BareFaissFlat:
    """faiss's flat inner-product scan on its own, with no id mapping: the floor to compare with."""

    def __init__(self, x: np.ndarray) -> None:
        import faiss

        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)

    def search(self, q: np.ndarray, k: int):
        return self.index.search(np.ascontiguousarray(q, dtype=np.float32), k)
