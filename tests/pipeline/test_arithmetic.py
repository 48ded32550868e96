"""The pipeline's shortcuts for numpy's statistics, held to numpy's own floats; a block's
knapsacks held to each member's own."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys import Item
from recsys.catalogue import Catalogue
import recsys.pipeline.budget as budget
from recsys.pipeline.context import BranchCounts
from recsys.pipeline.diversity import _greedy, _median
from recsys.pipeline.profile import _average
from recsys.pipeline.scoring import _quantile


@given(
    arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e3, 1e3, allow_nan=False)),
    st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
)
def test_quantile_is_numpys_to_the_float(values, q):
    assert _quantile(values, q) == np.quantile(values, q)


def test_quantile_of_ties_and_of_one_value():
    assert _quantile(np.array([2.0, 2.0, 2.0]), 0.9) == 2.0
    assert _quantile(np.array([5.0]), 0.9) == 5.0
    assert _quantile(np.arange(11, dtype=float), 0.9) == 9.0


@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 40)),
              elements=st.floats(-1, 1, allow_nan=False, width=32)))
def test_median_is_numpys_to_the_float(values):
    assert _median(values) == float(np.median(values))


def _textbook_mmr(sims, rel, topics, steps, lambda_, per_topic):
    """Maximal marginal relevance as written down: at each step every candidate not yet chosen
    is valued afresh against all those chosen."""
    chosen, redundancy = [], []
    for _ in range(steps):
        best = None
        for j in range(len(rel)):
            if j in chosen:
                continue
            near = max((sims[j][c] for c in chosen), default=0.0)
            crowded = sum(topics[c] == topics[j] for c in chosen) >= per_topic
            value = lambda_ * rel[j] - (1 - lambda_) * near - crowded
            if best is None or value > best[1]:
                best = (j, value, near + crowded)
        chosen.append(best[0])
        redundancy.append(best[2])
    return chosen, redundancy


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    arrays(np.float64, (n, n), elements=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]) | st.floats(0, 1)),
    arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1)),
    arrays(np.int64, n, elements=st.integers(-1, 3)),
    st.integers(1, n))),
    st.sampled_from([0.7, 0.5, 1.0, 0.0]), st.integers(0, 4))
def test_mmr_chooses_as_the_textbook_rule_to_the_float(problem, lambda_, per_topic):
    """The greedy step kept as a running penalty and the redundancies read after the loop choose
    what valuing every candidate afresh at every step chooses (ties to the better-ranked), with
    the same redundancies."""
    x, rel, topics, steps = problem
    sims = (x + x.T) / 2  # similarities are symmetric
    chosen, redundancy = _greedy(sims, rel, topics, steps, lambda_, per_topic)
    expected, expected_redundancy = _textbook_mmr(sims.tolist(), rel.tolist(), topics.tolist(), steps, lambda_, per_topic)
    assert chosen.tolist() == expected
    assert redundancy.tolist() == expected_redundancy


@given(arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 20)),
              elements=st.floats(-1, 1, allow_nan=False, width=32)), st.data())
def test_average_is_numpys_to_the_float(x, data):
    weights = data.draw(arrays(np.float64, len(x), elements=st.floats(0.01, 5)))
    assert np.array_equal(_average(x, weights), np.average(x, axis=0, weights=weights))


@given(st.dictionaries(st.sampled_from([f"i{n}" for n in range(12)]), st.integers(1, 5), max_size=12),
       st.integers(0, 14))
def test_branch_counts_read_by_row_as_the_counts_say(counts, n):
    """A branch's counts looked up once per catalogue read as the mapping itself: the most
    completed in Counter.most_common's order (ids outside the catalogue left out after the cut),
    and each catalogue row's count."""
    catalogue = Catalogue.build({f"i{k}": Item(f"i{k}", f"第{k}课", "学习", "article", 10, dt.date(2026, 1, 1)) for k in range(0, 12, 2)})
    cols = catalogue.columns
    branch = BranchCounts(counts)
    expected = [cols.row[i] for i, _ in Counter(counts).most_common(n) if i in cols.row]
    assert branch.most_completed(cols, n).tolist() == expected
    assert branch.column(cols).tolist() == [float(counts.get(i, 0)) for i in cols.ids]
    assert dict(branch) == counts
    assert branch.most_completed(cols, n).tolist() == expected  # read again from what was kept


_problems = st.lists(
    st.integers(0, 90).flatmap(lambda capacity: st.tuples(
        st.lists(st.tuples(st.sampled_from([0.05, 0.5, 1.0, 1.2, 3.0]) | st.floats(0, 10), st.integers(0, 100)),
                 max_size=25),
        st.just(capacity))),
    min_size=1, max_size=12)


@given(_problems, st.sampled_from([1 << 24, 500, 1]))
def test_a_blocks_knapsacks_choose_what_each_alone_would(problems, cells):
    # Ties (equal values, equal minutes) decide as alone; items longer than the day, members with
    # nothing to pack and a table too small for two members at once (cells) change nothing.
    old, budget._MAX_CELLS = budget._MAX_CELLS, cells
    try:
        together = budget._knapsacks([(np.array([v for v, _ in items], dtype=np.float64),
                                       np.array([w for _, w in items], dtype=np.int64), capacity)
                                      for items, capacity in problems])
    finally:
        budget._MAX_CELLS = old
    for (items, capacity), chosen in zip(problems, together):
        alone = budget._knapsack([v for v, _ in items], [w for _, w in items], capacity)
        assert chosen.tolist() == alone
        if items:  # a group of one is packed by the plain programme: the table would choose alike
            table = budget._knapsack_block([(np.array([v for v, _ in items], dtype=np.float64),
                                             np.array([w for _, w in items], dtype=np.int64), capacity)])
            assert table[0].tolist() == alone
        assert sum(items[i][1] for i in alone) <= capacity


def test_a_knapsack_fills_the_day_rather_than_taking_the_best_item():
    values, minutes = np.array([3.0, 2.0, 2.0]), np.array([25, 10, 20])
    assert [c.tolist() for c in budget._knapsacks([(values, minutes, 30), (values, minutes, 25)])] == [[1, 2], [0]]
