"""The pipeline's shortcuts for numpy's statistics, held to numpy's own floats."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys.pipeline.diversity import _median
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


@given(arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 20)),
              elements=st.floats(-1, 1, allow_nan=False, width=32)), st.data())
def test_average_is_numpys_to_the_float(x, data):
    weights = data.draw(arrays(np.float64, len(x), elements=st.floats(0.01, 5)))
    assert np.array_equal(_average(x, weights), np.average(x, axis=0, weights=weights))
