"""Synthetic stores at scale for the benchmarks (``recsys bench``).

The catalogue is synthetic but shaped like the real one: each item copies a sample-corpus item
(its kind, minutes, topics, level, roles, schedule shifted over the coming months) and its
vector is that item's e5 vector plus Gaussian noise, so the vectors cluster as real ones do and
have e5's dimension. Embedding 100k texts with e5 on this machine would take hours and measure
the encoder, not the engine; texts that are not catalogue items (topics, role descriptions) are
embedded by the real model. Members and events are drawn at random with fixed seeds. A store is
built once per size (``…-pristine``) and copied before each run, so every run starts from the
same state.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from corpus import load_items, load_members
from recsys import Engine, Member
from recsys.records import TZ, Schedule

WORK = Path(__file__).parent / "out"
DAY = dt.date(2026, 12, 1)


class SyntheticCatalogueEncoder:
    """Known vectors for the synthetic items' texts; the real e5 model for anything else."""

    def __init__(self, base, known: dict[str, np.ndarray]) -> None:
        self.base = base
        self.known = known
        self.name = base.name  # same vector space as the base: queries and items are comparable
        self.dim = base.dim

    def encode(self, texts, *, query: bool = False) -> np.ndarray:
        texts = list(texts)
        missing = [t for t in texts if query or t not in self.known]
        fresh = dict(zip(missing, self.base.encode(missing, query=query))) if missing else {}
        return np.stack([fresh[t] if (query or t not in self.known) else self.known[t] for t in texts]) \
            if texts else np.zeros((0, self.dim), np.float32)


def synthetic_items(n: int, rng: np.random.Generator, e5) -> tuple[list, dict[str, np.ndarray]]:
    templates = [t for t in load_items() if not t.requires]
    vectors = e5.encode([t.text for t in templates])
    items, known = [], {}
    for k in range(n):
        j = int(rng.integers(len(templates)))
        t = templates[j]
        fields = dict(
            id=f"syn-{k:06d}", title=f"{t.title}（{k}）", requires=(), org=None,
            published=DAY - dt.timedelta(days=int(rng.integers(0, 720))), expires=None,
        )
        if t.schedule is not None:
            shift = dt.timedelta(days=int(rng.integers(-30, 180)))
            fields["schedule"] = Schedule(t.schedule.starts + shift, t.schedule.ends + shift,
                                          t.schedule.location, t.schedule.capacity)
            fields["published"] = min(fields["published"], (t.schedule.starts + shift).date())
        item = replace(t, **fields)
        v = vectors[j] + rng.normal(0, 0.04, vectors.shape[1]).astype(np.float32)
        known[item.text] = v / np.linalg.norm(v)
        items.append(item)
    return items, known


def synthetic_members(n: int, rng: np.random.Generator) -> list[Member]:
    templates = load_members()
    branches = [f"bench.dw{b // 20:02d}.zb{b:03d}" for b in range(200)]
    out = []
    for k in range(n):
        t = templates[int(rng.integers(len(templates)))]
        out.append(replace(t, id=f"u{k:06d}", org=branches[int(rng.integers(len(branches)))]))
    return out


def synthetic_events(members: list[Member], items: list, n: int, rng: np.random.Generator) -> list[dict]:
    online = [i.id for i in items if i.mode == "online"]
    kinds = ["impression", "impression", "start", "complete", "complete", "rate", "skip"]
    out = []
    start = dt.datetime.combine(DAY - dt.timedelta(days=120), dt.time(8), TZ)
    for k in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        out.append({
            "member": members[int(rng.integers(len(members)))].id,
            "item": online[int(rng.integers(len(online)))],
            "kind": kind,
            "value": float(rng.integers(1, 6)) if kind == "rate" else None,
            "at": (start + dt.timedelta(minutes=int(rng.integers(0, 120 * 24 * 60)))).isoformat(),
        })
    return out


def build_store(path: Path, n_items: int, n_members: int, n_events: int, e5) -> Engine:
    """Open a copy of the store built for these sizes (building it the first time), so every run
    starts from the same state: no lists served yet, no impressions from an earlier run."""
    rng = np.random.default_rng(n_items)
    items, known = synthetic_items(n_items, rng, e5)
    encoder = SyntheticCatalogueEncoder(e5, known)
    pristine = path.with_name(path.name + "-pristine")
    if not (pristine / "complete").exists():
        _build(pristine, items, encoder, n_members, n_events, rng)
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    return Engine.open(path, encoder=encoder)


def _build(path: Path, items: list, encoder, n_members: int, n_events: int, rng) -> None:
    done = path / "complete"
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    engine = Engine.open(path, encoder=encoder)
    engine.add_items(items)
    members = synthetic_members(n_members, rng)
    engine.upsert_members(members)
    events = synthetic_events(members, items, n_events, rng)
    for b in range(0, len(events), 100_000):
        engine.record(events[b:b + 100_000])
    engine.index().search(np.zeros((1, engine.dim), np.float32), 1)  # build the search structure
    engine.close()
    done.write_text(f"built in {time.perf_counter() - started:.0f} s\n")
    print(f"store {path.name}: built in {time.perf_counter() - started:.0f} s")
