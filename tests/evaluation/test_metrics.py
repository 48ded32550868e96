"""The evaluation metrics: Microsoft Recommenders' published values, and known answers."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import metrics as M
from recsys import Item, Member

@pytest.fixture(scope="module")
def toy(msrec_toy):
    expected = json.loads((msrec_toy / "expected_values.json").read_text(encoding="utf-8"))
    relevant: dict[str, set[str]] = {}
    with open(msrec_toy / "msrec_toy_rating_true.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            relevant.setdefault(row["userID"], set()).add(row["itemID"])
    preds: dict[str, list[tuple[float, str]]] = {}
    with open(msrec_toy / "msrec_toy_rating_pred.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            preds.setdefault(row["userID"], []).append((float(row["prediction"]), row["itemID"]))
    ranked = {u: [i for _, i in sorted(p, key=lambda x: -x[0])] for u, p in preds.items()}
    return ranked, relevant, expected["asserted_values_pytest_approx_rel_tol_1e-4"]


def test_reproduces_microsoft_recommenders_values(toy):
    ranked, relevant, want = toy
    assert M.precision_at_k(ranked, relevant, 10) == pytest.approx(want["precision_at_k"], rel=1e-4)
    assert M.recall_at_k(ranked, relevant, 10) == pytest.approx(want["recall_at_k"], rel=1e-4)
    assert M.ndcg_at_k(ranked, relevant, 10) == pytest.approx(want["ndcg_at_k"], rel=1e-4)
    assert M.mean_average_precision(ranked, relevant, 10) == pytest.approx(want["map"], rel=1e-4)
    assert M.map_at_k(ranked, relevant, 10) == pytest.approx(want["map_at_k"], rel=1e-4)


def test_truth_as_its_own_ranking_gives_published_precision(toy):
    _, relevant, _ = toy
    ranked = {u: sorted(items) for u, items in relevant.items()}
    # Users hold 3, 5 and 10 relevant items: (3 + 5 + 10) / 30.
    assert M.precision_at_k(ranked, relevant, 10) == pytest.approx(0.6, rel=1e-4)


# Known answers: one user, relevant {a, c}, ranking a b c d.
RANKED = {"u": ["a", "b", "c", "d"]}
RELEVANT = {"u": {"a", "c"}}


def test_ranking_metrics_known_answer():
    assert M.precision_at_k(RANKED, RELEVANT, 4) == 0.5
    assert M.recall_at_k(RANKED, RELEVANT, 2) == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert M.ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert M.mean_average_precision(RANKED, RELEVANT, 4) == pytest.approx((1 + 2 / 3) / 2)
    assert M.map_at_k(RANKED, RELEVANT, 1) == 1.0  # divided by min(2, 1)
    assert M.mean_average_precision(RANKED, RELEVANT, 1) == 0.5  # divided by 2
    assert M.mrr_at_k({"u": ["b", "c"]}, RELEVANT, 4) == 0.5
    assert M.mrr_at_k({"u": ["b", "d"]}, RELEVANT, 4) == 0.0
    assert M.hit_rate_at_k({"u": ["b", "c"], "v": ["x"]}, {"u": {"c"}, "v": {"y"}}, 2) == 0.5


def test_users_without_truth_are_not_averaged():
    scores = M.user_scores({"u": ["a"], "v": ["a"], "w": ["a"]}, {"u": {"a"}, "v": set()}, 1)
    assert set(scores) == {"u"}
    assert scores["u"]["ndcg"] == 1.0
    assert M.precision_at_k({}, {"u": {"a"}}, 3) == 0.0
    with pytest.raises(ValueError, match="k must be"):
        M.precision_at_k(RANKED, RELEVANT, 0)


@given(st.lists(st.integers(0, 30), unique=True, max_size=15), st.sets(st.integers(0, 30), min_size=1), st.integers(1, 12))
def test_ranking_metrics_stay_in_range_and_perfect_ranking_scores_one(ranked, relevant, k):
    recs, truth = {"u": ranked}, {"u": relevant}
    for name in M.RANKING_METRICS:
        value = M.user_scores(recs, truth, k)["u"][name]
        assert 0.0 <= value <= 1.0 + 1e-12, name
    perfect = {"u": sorted(relevant)}
    assert M.ndcg_at_k(perfect, truth, k) == pytest.approx(1.0)
    assert M.map_at_k(perfect, truth, k) == pytest.approx(1.0)


def test_coverage_entropy_gini_known_answers():
    catalogue = ["a", "b", "c", "d"]
    lists = [["a", "b"], ["a", "c"]]
    assert M.catalogue_coverage(lists, catalogue) == 0.75
    # Exposure a:2 b:1 c:1 -> entropy of (1/2, 1/4, 1/4) = 1.5 bits.
    assert M.distributional_coverage(lists) == pytest.approx(1.5)
    assert M.distributional_coverage([["a"], ["b"], ["c"], ["d"]]) == pytest.approx(2.0)
    assert M.exposure_gini([["a"], ["b"], ["c"], ["d"]], catalogue) == pytest.approx(0.0)
    # All exposure on one of four items: (n - 1) / n.
    assert M.exposure_gini([["a"], ["a"]], catalogue) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="empty"):
        M.catalogue_coverage(lists, [])


def test_intra_list_diversity_novelty_serendipity_known_answers():
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 2.0]), "c": np.array([3.0, 0.0])}
    assert M.intra_list_diversity([["a", "b"]], vectors) == pytest.approx(1.0)  # orthogonal
    assert M.intra_list_diversity([["a", "c"]], vectors) == pytest.approx(0.0)  # same direction
    assert M.intra_list_diversity([["a", "b"], ["a", "c"], ["a"]], vectors) == pytest.approx(0.5)
    # Three users: an item all consumed has novelty -log2(4/4) = 0; one nobody did log2(4) = 2.
    assert M.novelty([["x"]], {"x": 3}, 3) == pytest.approx(0.0)
    assert M.novelty([["y"]], {"x": 3}, 3) == pytest.approx(2.0)
    recs, truth = {"u": ["p", "q", "r", "s"]}, {"u": {"p", "q"}}
    assert M.serendipity_at_k(recs, truth, {"u": {"p"}}, 4) == 0.25  # q is relevant and unexpected
    assert M.serendipity_at_k(recs, truth, {}, 4) == 0.5


def _item(id_, **kw):
    base = dict(id=id_, title="t", body="b", kind="article", mode="online", minutes=10,
                topics=["党史"], level=1, published="2026-01-01")
    base.update(kw)
    return Item.from_dict(base)


def test_feasibility_violations_name_each_rule():
    day = dt.date(2026, 6, 10)
    member = Member.from_dict({"id": "m", "name": "n", "org": "ent.b1", "roles": ["member"],
                               "offline": False, "situation": "mobile"})
    offline = _item("off", mode="offline", kind="activity", schedule={
        "starts": "2026-06-10T09:00:00", "ends": "2026-06-10T11:00:00", "location": "太原", "capacity": 10})
    items = [
        _item("ok"), offline, _item("old", expires="2026-06-01"), _item("future", published="2026-07-01"),
        _item("cadre", roles=["cadre"]), _item("other", org="ent.b2"), _item("mine", org="ent"),
        _item("needs", requires=["ok"]),
    ]
    found = M.feasibility_violations(items, member, day)
    assert found == [("off", "offline"), ("old", "expired"), ("future", "unpublished"),
                     ("cadre", "role"), ("other", "org"), ("needs", "prerequisite")]
    assert M.feasibility_violations([items[-1]], member, day, completed={"ok"}) == []
    regular = Member.from_dict({"id": "r", "name": "n", "org": "ent.b1", "offline": True})
    assert M.feasibility_violations([offline], regular, day) == []
    assert M.feasibility_violations([offline], regular, day + dt.timedelta(days=1)) == [("off", "date")]
    # Content for a situation, by title words: only untargeted items, and only for others.
    words = {"mobile": ["流动党员"], "infirm": ["年老体弱"]}
    guide = _item("guide", title="流动党员线上组织生活指南")
    home = _item("home", title="年老体弱党员送学上门")
    managing = _item("managing", title="流动党员管理要点", roles=["member"])
    assert M.feasibility_violations([guide, home, managing], member, day, situation_words=words) == [("home", "situation")]
    assert M.feasibility_violations([guide, home], regular, day, situation_words=words) == [
        ("guide", "situation"), ("home", "situation")]
    assert M.feasibility_violations([guide], regular, day) == []  # without the words, no such rule


def test_own_metrics_known_answers():
    assert M.repeat_violations(["a", "b", "a", "c"], completed={"c"}) == 2
    assert M.repeat_violations(["a", "b"], completed=set()) == 0
    assert M.repeat_violations(["a", "q"], completed={"a", "q"}, reviews={"q"}) == 1
    day = dt.date(2026, 6, 15)
    last = {"a": dt.date(2026, 6, 10), "b": dt.date(2026, 6, 1), "c": dt.date(2026, 6, 14)}
    # a: 5 days ago, not started -> violation; b: 14 days ago -> allowed; c: started -> allowed.
    assert M.cooldown_violations(["a", "b", "c", "d"], day, last, started={"c"}) == 1
    assert M.budget_fill_ratio([10, 15], 30) == pytest.approx(25 / 30)
    with pytest.raises(ValueError, match="budget"):
        M.budget_fill_ratio([10], 0)
    assert M.required_topic_progress({"党史": 30, "安全生产": 5}, {"党史": 20, "安全生产": 10}) == 0.75
    assert M.required_topic_progress({}, {}) == 1.0


def test_season_reach_known_answers():
    from evaluation.season import SeasonResult

    # Two members over 14 days (two weeks): one studied in week 0 only (3 items), one never.
    r = SeasonResult("p", days=14, completions={"a": 3, "b": 0}, weeks_reached={"a": {0}})
    assert r.completions_per_member_day() == 3 / 28
    assert r.reached() == 0.5 and r.reached(["a"]) == 1.0
    assert r.weekly_reach() == 1 / 4 and r.weekly_reach(["a"]) == 1 / 2 and r.weekly_reach(["b"]) == 0.0
