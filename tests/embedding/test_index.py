"""Vector indexes: the faiss index agrees with the exact one (flat and HNSW), through changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys import ExactIndex, FaissIndex, VectorIndex


def unit(rng, n, dim=16):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ids(n, prefix="i"):
    return [f"{prefix}{j}" for j in range(n)]


@pytest.mark.parametrize("make", [lambda d: ExactIndex(d), lambda d: FaissIndex(d), lambda d: FaissIndex(d, hnsw_threshold=1)])
def test_contract(make, rng, tmp_path):
    index = make(16)
    assert isinstance(index, VectorIndex)
    x = unit(rng, 50)
    index.add(ids(50), x)
    assert len(index) == 50 and "i3" in index and "zz" not in index
    # Every vector finds itself first.
    found, scores = index.search(x, 1)
    assert [f[0] for f in found] == ids(50)
    assert np.allclose([s[0] for s in scores], 1.0, atol=1e-5)
    # Replace, then remove.
    index.add(["i0"], -x[0])
    assert np.allclose(index.vector("i0"), -x[0])
    assert index.search(x[:1], 1)[0][0][0] != "i0"
    index.remove(["i1", "missing"])
    assert "i1" not in index and len(index) == 49
    assert all("i1" not in f for f in index.search(x, 10)[0])
    # k larger than the catalogue returns everything.
    assert len(index.search(x[:1], 1000)[0][0]) == 49


def test_empty_index_returns_nothing():
    assert FaissIndex(8).search(np.ones((2, 8), dtype=np.float32), 5)[0] == [[], []]


def recall(truth, got):
    return np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got)])


@pytest.mark.parametrize("threshold", [10**9, 1], ids=["exact", "hnsw"])
def test_faiss_agrees_with_exact(threshold, rng):
    x = unit(rng, 3000, dim=32)
    q = unit(rng, 100, dim=32)
    exact, approx = ExactIndex(32), FaissIndex(32, hnsw_threshold=threshold)
    exact.add(ids(3000), x)
    approx.add(ids(3000), x)
    assert approx.kind == ("exact" if threshold > 1 else "hnsw")
    t_ids, t_scores = exact.search(q, 10)
    a_ids, a_scores = approx.search(q, 10)
    if threshold > 1:
        assert a_ids == t_ids
        assert np.allclose(np.stack(a_scores), np.stack(t_scores), atol=1e-5)
    else:
        assert recall(t_ids, a_ids) >= 0.95
    # After removing a third and replacing some, they still agree.
    gone = ids(3000)[::3]
    exact.remove(gone)
    approx.remove(gone)
    fresh = unit(rng, 200, dim=32)
    exact.add(ids(200, "n"), fresh)
    approx.add(ids(200, "n"), fresh)
    t_ids, _ = exact.search(q, 10)
    a_ids, _ = approx.search(q, 10)
    assert all(not set(a) & set(gone) for a in a_ids)
    assert recall(t_ids, a_ids) >= (1.0 if threshold > 1 else 0.95)


@pytest.mark.parametrize("threshold", [10**9, 1], ids=["exact", "hnsw"])
def test_save_and_load(threshold, rng, tmp_path):
    x = unit(rng, 500)
    index = FaissIndex(16, hnsw_threshold=threshold)
    index.add(ids(500), x)
    index.search(x[:1], 1)  # build the structure, so the graph is saved too
    index.save(tmp_path / "index.npz", rev=np.array(7))
    loaded = FaissIndex.load(tmp_path / "index.npz", hnsw_threshold=threshold)
    assert int(loaded.saved_extra_["rev"]) == 7
    assert loaded.search(x[:20], 5)[0] == index.search(x[:20], 5)[0]


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "remove"]), st.lists(st.integers(0, 30), min_size=1, max_size=8)),
        min_size=1, max_size=25,
    ),
    seed=st.integers(0, 2**16),
)
def test_any_sequence_of_changes_keeps_faiss_equal_to_exact(ops, seed):
    rng = np.random.default_rng(seed)
    exact, flat, hnsw = ExactIndex(8), FaissIndex(8), FaissIndex(8, hnsw_threshold=1, rebuild_fraction=0.3)
    for op, keys in ops:
        names = [f"k{k}" for k in keys]
        for index in (exact, flat, hnsw):
            if op == "add":
                index.add(names, unit(np.random.default_rng(seed + sum(keys)), len(names), 8))
            else:
                index.remove(names)
        seed += 1
        q = unit(rng, 3, 8)
        assert sorted(exact.ids_) == sorted(flat.exact.ids_) == sorted(hnsw.exact.ids_)
        truth = exact.search(q, 5)[0]
        assert flat.search(q, 5)[0] == truth
        got = hnsw.search(q, 5)[0]
        assert [len(g) for g in got] == [len(t) for t in truth]  # never short, never a removed id
        assert all(set(g) <= set(exact.ids_) for g in got)


@pytest.mark.parametrize("queries", [1, 2, 3, 5, 8, 9, 40, 300])
@pytest.mark.parametrize("dim", [16, 384, 1024])
def test_exact_search_equals_a_float64_scan_whatever_the_number_of_queries(queries, dim, rng):
    # One query, a member's few (scored a block of rows at a time) and a batch's many (one
    # product, in blocks of queries) take different arithmetic paths to the same answer.
    n = 2_500
    x = unit(rng, n, dim)
    q = unit(rng, queries, dim)
    index = ExactIndex(dim)
    index.add(ids(n), x)
    found, scores = index.search(q, 20)
    exact = q.astype(np.float64) @ x.astype(np.float64).T
    for row, (got, got_scores) in enumerate(zip(found, scores)):
        order = np.argsort(-exact[row], kind="stable")
        best = order[:20]
        assert np.allclose(got_scores, exact[row][best], atol=1e-5)
        # The same items (in float32, neighbours closer than its rounding may swap places).
        if exact[row][order[19]] - exact[row][order[20]] > 1e-5:
            assert set(got) == {f"i{j}" for j in best}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("queries", [1, 3, 12, 300])
def test_equal_scores_at_the_cut_go_to_the_first_ids_whatever_the_order_items_were_added(queries, seed):
    # Six copies of one item compete with it for the last places. Entries in eighths make every
    # product exact in float32, so the copies score exactly alike wherever their rows sit (of
    # real vectors, copies can differ in the last bit by where the product's blocks fall).
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 9, (40, 8)).astype(np.float32) / 8
    q = rng.integers(-8, 9, (queries, 8)).astype(np.float32) / 8
    scores = q.astype(np.float64) @ x.astype(np.float64).T
    names = ids(40)
    order = rng.permutation(40)
    index = ExactIndex(8)
    index.add([names[j] for j in order], x[order])
    fifth = np.argsort(-scores, axis=1, kind="stable")[:, 4]
    for row in rng.permutation(queries)[:5]:
        copies = [f"copy{c}-{row}" for c in rng.permutation(6)]
        index.add(copies, np.repeat(x[fifth[row]][None, :], 6, axis=0))
    found, got = index.search(q, 7)
    for row in range(queries):
        every = {**dict(zip(names, scores[row])),
                 **{i: float(q[row] @ index.vector(i)) for i in index.ids_ if i.startswith("copy")}}
        expected = sorted(every, key=lambda i: (-every[i], i))[:7]
        assert found[row] == expected and np.allclose(got[row], [every[i] for i in expected])


def test_many_equal_scores_are_cut_by_id_without_sorting_them_all():
    # A TF-IDF query sharing no word with the catalogue scores 0 against every item.
    index = ExactIndex(4)
    index.add([f"i{j:05d}" for j in range(5_000)][::-1], np.tile([1.0, 0.0, 0.0, 0.0], (5_000, 1)))
    found, scores = index.search(np.array([[0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]), 3)
    assert found == [["i00000", "i00001", "i00002"]] * 2
    assert np.allclose(scores, [[0.0] * 3, [0.5] * 3])


def test_a_query_that_is_not_a_number_still_gets_k_answers(rng):
    index = ExactIndex(8)
    index.add(ids(30), unit(rng, 30, 8))
    q = unit(rng, 2, 8)
    q[1, 3] = np.nan
    found, _ = index.search(q, 5)
    assert [len(f) for f in found] == [5, 5]
    # The other query's answer does not depend on the one with NaN beside it.
    assert found[0] == index.search(q[:1], 5)[0][0]
