"""The few-queries benchmark measures what it says, on a tiny catalogue."""

from evaluation import few_queries


def test_each_count_of_queries_is_timed_together_and_apart_against_one_query():
    result = few_queries.measure(rounds=1, shapes=((300, 16),), most=3)
    rows = result["searches"]
    assert [r["queries"] for r in rows] == [1, 2, 3]
    assert rows[0]["per_one_query"] == 1.0
    assert all(r["ms"] > 0 and r["one_at_a_time_ms"] > 0 for r in rows)
    assert all(abs(r["per_one_query"] - r["ms"] / rows[0]["ms"]) < 0.01 for r in rows)
