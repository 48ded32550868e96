"""The benchmark driver runs end to end and writes sane results; the encoder-choice measures give
known answers on hand-built vectors and beat chance on the real quiz bank."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation import bench, encoders
from recsys_cli import main



@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``recsys bench --quick`` as a user runs it, with its stores in a temporary folder."""
    out = tmp_path_factory.mktemp("results")
    patch = pytest.MonkeyPatch()
    patch.setattr(bench, "WORK", tmp_path_factory.mktemp("work"))
    try:
        assert main(["bench", "--quick", "--out", str(out)]) == 0
    finally:
        patch.undo()
    return out, json.loads((out / "bench.json").read_text(encoding="utf-8"))


def test_quick_bench_writes_every_part(quick):
    out, results = quick
    assert results["quick"] and results["machine"]["cores"] >= 1
    assert set(results["encoding_passages_per_s"]) == set(bench.QUICK.throughput_encoders)
    assert [r["items"] for r in results["search"]] == list(bench.QUICK.search_sizes)
    sweeps = {(r["sweep"], r[r["sweep"]]) for r in results["daily"]}
    assert sweeps == ({("items", n) for n in bench.QUICK.items} | {("members", n) for n in bench.QUICK.members}
                      | {("events", n) for n in bench.QUICK.events})
    for name in results["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "bench.md").read_text(encoding="utf-8")
    assert "Batch daily lists" in text and "bench-daily.png" in text


def test_quick_bench_figures_are_sane(quick):
    _, results = quick
    assert all(v > 0 for v in results["encoding_passages_per_s"].values())
    for row in results["search"]:
        for lat in row["latency"].values():
            assert 0 < lat["p50_ms"] <= lat["p99_ms"]
        assert 0.5 <= row["hnsw_recall_at_10"] <= 1.0
    for row in results["daily"]:
        # A whole daily list cannot be cheaper than one top-150 search over the same vectors.
        assert row["daily"]["p50_ms"] > row["bare_faiss_top150"]["p50_ms"]
        assert row["daily"]["p50_ms"] <= row["daily"]["p99_ms"]
        assert row["daily_again"]["p50_ms"] < row["daily"]["p50_ms"]  # the stored list comes back
        assert row["peak_rss_mib"] > 0 and row["request_heap_mib"] > 0
    batch = results["batch"]
    assert batch["store_members"] == max(bench.QUICK.members)
    assert batch["dense_product_members_per_s"] > batch["daily_many_members_per_s"] > 0
    assert batch["ratio_dense_to_batch"] > 1


def test_markdown_section_reads_results(quick, tmp_path):
    out, _ = quick
    section = bench.markdown_section(out)
    assert "## Performance benchmarks" in section and "bench-search.png" in section
    committed = bench.markdown_section(tmp_path)  # nothing there: says so instead of failing
    assert "No results yet" in committed


def test_neighbour_precision_known_answer():
    # Two tight clusters, each one label, plus an unlabelled row that must be ignored.
    x = np.array([[1, 0], [0.99, 0.1], [0.98, 0.2], [0, 1], [0.1, 0.99], [0.2, 0.98], [0.7, 0.7]], np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = [frozenset({"a"})] * 3 + [frozenset({"b"})] * 3 + [frozenset()]
    got = encoders.neighbour_precision(x, labels, ks=(2, 3))
    assert got["p@2"] == 1.0  # both neighbours are from the own cluster
    assert got["p@3"] == pytest.approx(2 / 3, abs=1e-4)  # the third must come from the other
    assert got["chance"] == pytest.approx(2 / 5, abs=1e-4) and got["queries"] == 6


def test_duplicate_scores_known_answer():
    x = np.array([[1, 0, 0], [1, 0, 0], [0.96, 0.28, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    keys = ["q1", "q1", "q2", "q3", "q4"]  # one true pair (0, 1); (0, 2) and (1, 2) are close but distinct
    got = encoders.duplicate_scores(x, keys, [0.95])
    assert got["pairs"] == 10 and got["positives"] == 1
    assert got["best"]["f1"] == 1.0 and got["best"]["flagged"] == 1
    loose = got["at"]["0.95"]
    assert (loose["flagged"], loose["precision"], loose["recall"]) == (3, pytest.approx(1 / 3, abs=1e-4), 1.0)


def test_false_alarms_are_close_pairs_with_different_texts():
    x = np.array([[1, 0, 0], [1, 0, 0], [0.96, 0.28, 0], [0, 1, 0]], np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    texts = ["遵义会议。", "遵义会议", "遵义会议的意义", "古田会议"]
    got = encoders.false_alarms(x, texts, 0.95)
    assert [(f["a"], f["b"]) for f in got] == [("遵义会议。", "遵义会议的意义"), ("遵义会议", "遵义会议的意义")]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), groups=st.integers(1, 8),
       thresholds=st.lists(st.floats(-1, 1), min_size=1, max_size=4))
def test_best_threshold_is_at_least_as_good_as_any(seed, n, groups, thresholds):
    rng = np.random.default_rng(seed)
    keys = [f"k{g}" for g in rng.integers(0, groups, n)]
    x = rng.standard_normal((n, 4)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    got = encoders.duplicate_scores(x, keys, thresholds)
    assert got["pairs"] == n * (n - 1) // 2
    for scores in got["at"].values():
        assert got["best"]["f1"] >= scores["f1"] - 1e-4
        assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1


def test_paired_difference_known_answer():
    a = np.array([0.2, 0.4, 0.6, 0.8])
    same = encoders.paired_difference(a, a)
    assert same == {"mean": 0.0, "ci95": [0.0, 0.0]}
    shifted = encoders.paired_difference(a + 0.1, a)  # every query gains exactly 0.1
    assert shifted["mean"] == pytest.approx(0.1) and shifted["ci95"] == [pytest.approx(0.1)] * 2


def test_normalise_ignores_spacing_and_punctuation():
    from recsys.embedding.duplicates import normalise_text

    assert normalise_text("“七一” 作为（）纪念日。") == normalise_text("“七一”作为() 纪念日")
    assert normalise_text("A. 遵义会议") != normalise_text("B. 遵义会议")


def test_tfidf_neighbours_share_knowledge_points_far_above_chance(tmp_path, quiz_bank):
    results = encoders.run(("tfidf",), bank=quiz_bank, cache=tmp_path / "cache.sqlite", out=tmp_path)
    row = results["encoders"]["tfidf"]
    distinct = row["neighbours"]["distinct"]
    assert distinct["p@5"] >= distinct["p@10"] > 3 * distinct["chance"]
    assert row["duplicates"]["all"]["positives"] > 0
    assert row["duplicates"]["all"]["best"]["recall"] > 0.9
    assert (tmp_path / "encoders.md").is_file()


def test_each_part_reports_the_peak_of_its_own_process(quick):
    _, results = quick
    peaks = results["peak_rss_mib"]
    assert set(peaks) == {"encoding", "search", "stores", "reference_store", "batch"}
    assert peaks["stores"] == max(r["peak_rss_mib"] for r in results["daily"])
    base = next(r for r in results["daily"] if (r["items"], r["members"], r["events"]) == tuple(bench.QUICK.base))
    assert peaks["reference_store"] == base["peak_rss_mib"] and all(v > 0 for v in peaks.values())


def test_a_failing_part_is_reported_by_the_parent():
    with pytest.raises(RuntimeError, match="bench_encoding failed: .*"):
        bench._in_child(bench.bench_encoding, None)
