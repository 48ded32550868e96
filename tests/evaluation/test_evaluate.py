"""`recsys evaluate --quick`: the report is written and the documented floors hold."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import corpus
from evaluation.quality import check_floors, confidence_interval
from recsys import Engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "recsys", "evaluate", "--quick", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=290)
    return proc, out


def test_quick_evaluation_meets_every_floor(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results" / "quality.json").read_text(encoding="utf-8"))
    assert results["ok"] and all(f["ok"] for f in results["floors"])
    for name in ("engine", "engine, mastery_feedback=True"):
        season = results["season"][name]
        assert season["lists"] > 0
        assert season["repeat_violations"] == season["feasibility_violations"] == season["over_budget"] == 0
    methods = set(results["offline"]["temporal"])
    assert {"engine", "random", "popular", "newest", "curriculum", "tfidf-content",
            "implicit-als", "lenskit-pop", "lenskit-item-knn"} <= methods
    # Every peer also ran the season as a portal held to the engine's guarantees, and kept them.
    peers = {name.removesuffix(" + guarantees") for name in results["season"] if name.endswith(" + guarantees")}
    ceilings = {"ceiling: hidden tastes", "ceiling: records only"}
    assert peers == methods - {"engine", "engine, untrained"} - ceilings  # neither the engine's rows nor ceilings
    for protocol, table in results["offline"].items():  # reading the hidden tastes beats chance everywhere
        assert ceilings <= set(table) and table["ceiling: hidden tastes"]["ndcg"][0] > table["random"]["ndcg"][0]
    assert "ceiling:" not in "".join(results["by_situation"]["temporal"]["mobile"])  # groups compare methods only
    for name in peers:
        season = results["season"][f"{name} + guarantees"]
        assert season["lists"] > 0 and season["fill"][0] > 0.5
        assert season["repeat_violations"] == season["feasibility_violations"] == season["over_budget"] == 0
    assert {"regular", "mobile", "infirm"} <= set(results["season"]["engine"]["by_situation"])
    assert "engine, records as regular" in results["by_situation"]["temporal"]["mobile"]
    assert results["seconds"] < 240


def test_quick_evaluation_writes_the_report_and_plots(quick_run):
    _, out = quick_run
    text = (out / "RESULTS.md").read_text(encoding="utf-8")
    for heading in ("## Headline", "### Temporal split", "### Leave-last-3-out", "### Cold start",
                    "## By situation", "## By role", "## No one left behind", "## Season",
                    "## Season: the engine against every peer + guarantees", "## Floors"):
        assert heading in text
    for png in ("quality-ndcg.png", "quality-situations.png", "quality-season.png", "quality-peers.png"):
        data = (out / "results" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def _results(**season):
    base = {"repeat_violations": 0, "feasibility_violations": 0, "over_budget": 0,
            "fill": [0.95, 0.01], "required_progress": [0.6, 0.1]}
    table = {"ndcg": [0.1, 0.01]}
    return {
        "season": {"engine": {**base, **season}, "engine, mastery_feedback=True": dict(base),
                   "random portal": {**base, "required_progress": [0.4, 0.1]}},
        "offline": {"cold-start": {"engine": table, "random": {"ndcg": [0.05, 0.01]}, "newest": {"ndcg": [0.05, 0.01]}}},
    }


def test_floors_catch_a_violation_and_a_loss():
    assert all(f["ok"] for f in check_floors(_results()))
    broken = check_floors(_results(repeat_violations=1))
    assert [f["ok"] for f in broken].count(False) == 1
    lost = copy.deepcopy(_results())
    lost["offline"]["cold-start"]["random"]["ndcg"] = [0.2, 0.01]
    assert not next(f for f in check_floors(lost) if "above random" in f["floor"])["ok"]


def test_confidence_interval_known_answer():
    mean, half = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302652729749462 * 1.0 / 3 ** 0.5)  # t(0.975, 2) * sd / sqrt(n)
    assert confidence_interval([5.0])[0] == 5.0


def test_bad_seed_count_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "recsys", "evaluate", "--quick", "--seeds", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--seeds must be at least 1" in proc.stderr


def test_engine_rank_is_the_daily_pipeline_before_packing(tmp_path):
    engine = Engine.open(tmp_path / "store", encoder="tfidf")
    engine.add_items(corpus.load_items())
    engine.upsert_members(corpus.load_members())
    engine.record(corpus.load_events())
    day = dt.date(2026, 11, 21)
    before = len(engine.events())
    for member in ("m001", "m010", "m030"):
        ranked = engine.rank(member, day, k=40)
        assert len(engine.events()) == before  # ranking records nothing
        ids = [h.item.id for h in ranked]
        assert 5 < len(ids) == len(set(ids)) <= 40
        budget = engine.member(member).daily_minutes
        assert all(h.item.minutes <= budget for h in ranked)  # as the budget fitter's first rule
        done = {e.item for e in engine.events(member) if e.kind == "complete"}
        # The one sanctioned repeat: a quiz scored below the review threshold, due again.
        missed = {e.item for e in engine.events(member) if e.kind == "quiz" and e.value < 0.8}
        assert set(ids) & done <= missed
        assert len(engine.rank(member, day, k=5)) == 5
        daily = engine.daily(member, day)
        before = len(engine.events())
        assert {e.item.id for e in daily.entries} <= set(ids)
    engine.close()
