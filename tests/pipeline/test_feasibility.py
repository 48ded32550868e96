"""The feasibility filter's limited form against its full form, and what it keeps out."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys import Event, Item, Member
from recsys.catalogue import Catalogue
from recsys.curriculum import Curriculum
from recsys.embedding.index import ExactIndex
from recsys.pipeline import FeasibilityFilter, rules_context
from recsys.pipeline.context import Pool
from recsys.records import TZ

DAY = dt.date(2026, 6, 15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 40), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_a_limit_keeps_what_the_full_filter_then_the_cut_keep(n, limit, seed):
    rng = np.random.default_rng(seed)
    # Few distinct directions, so that many items are near-duplicates of one another.
    directions = rng.standard_normal((3, 4))
    vectors = directions[rng.integers(0, 3, n)] + 0.05 * rng.standard_normal((n, 4))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"i{k:02d}" for k in range(n)]
    index = ExactIndex(4)
    index.add(ids, vectors)
    items = {i: Item(id=i, title=f"学习材料{i}", body="", kind="article", minutes=10, published=DAY - dt.timedelta(days=5))
             for i in ids}
    catalogue = Catalogue.build(items, index)
    done = rng.choice(ids, size=int(rng.integers(0, min(n, 5) + 1)), replace=False)
    at = dt.datetime.combine(DAY - dt.timedelta(days=2), dt.time(9), TZ)
    events = [Event(member="m1", item=str(i), kind="complete", at=at) for i in done]
    # Shown and not opened (cooling down), skipped, disliked: their copies wait with them.
    waiting = {kind: [str(i) for i in rng.choice(ids, size=int(rng.integers(0, 3)), replace=False) if i not in done]
               for kind in ("impression", "skip", "dislike")}
    events += [Event(member="m1", item=i, kind=kind, at=at) for kind, its in waiting.items() for i in its]
    member = Member(id="m1", name="张三", org="t", roles=("member",))
    ctx = rules_context(member, DAY, events, items=catalogue, index=index, curriculum=Curriculum(),
                        seats_taken={}, duplicate_threshold=0.97)
    rows = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    pool = Pool(rows.astype(np.int64), rng.integers(0, 5, len(rows)).astype(np.int64))

    every, dropped = FeasibilityFilter()(ctx, pool)
    limited, _ = FeasibilityFilter()(ctx, pool, limit=limit)
    best = np.lexsort((catalogue.columns.id_rank[every.rows], every.rank))[:limit]
    assert sorted(limited.rows.tolist()) == sorted(every.rows[best].tolist())
    assert len(limited) == min(limit, len(every))
    # Known answers: nothing completed, shown, skipped or disliked is kept, and nothing as close
    # as a duplicate to any of them.
    held = set(done) | {i for its in waiting.values() for i in its}
    held_rows = catalogue.columns.rows(held)
    for r in every.rows:
        assert catalogue.columns.ids[r] not in held
        if len(held_rows):
            assert (vectors[held_rows] @ vectors[r]).max() < 0.97
    assert dropped.get("completed", 0) == len(set(catalogue.columns.rows(done)) & set(rows.tolist()))
