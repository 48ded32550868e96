"""EASE^R on matrices where the right neighbour is obvious by construction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.exceptions import ValidationError
from recsys.models import EASE
from recsys.models.ease import _inverse_in_place


def matrix(rows: list[list[int]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


# Items 0 and 1 are always taken together, so are 2 and 3; item 4 goes with nothing.
PAIRS = matrix([
    [1, 1, 0, 0, 0],
    [1, 1, 0, 0, 0],
    [1, 1, 0, 0, 1],
    [0, 0, 1, 1, 0],
    [0, 0, 1, 1, 0],
    [0, 0, 1, 1, 0],
])


def test_each_item_predicts_its_partner_and_never_itself():
    b = EASE(l2=1.0).fit(PAIRS).weights_.toarray()
    assert np.all(np.diag(b) == 0)
    assert [int(b[i].argmax()) for i in range(4)] == [1, 0, 3, 2]
    # Nothing links the two groups: no positive weight across them.
    assert b[:2, 2:4].max() <= 0 and b[2:4, :2].max() <= 0


def test_matches_the_closed_form():
    x = PAIRS.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(5))
    want = -p / np.diag(p)[None, :]
    np.fill_diagonal(want, 0)
    got = EASE(l2=5.0, keep=5).fit(PAIRS).weights_.toarray()
    np.testing.assert_allclose(got, np.where(want > 0, want, 0), rtol=1e-5, atol=1e-7)


def test_a_member_history_scores_the_missing_partner_highest():
    b = EASE(l2=1.0).fit(PAIRS).weights_
    history = np.array([0, 0, 1, 0, 0], dtype=np.float32)  # took item 2 only
    scores = history @ b.toarray()
    assert int(scores.argmax()) == 3


def test_keep_and_max_items_bound_the_model():
    b = EASE(l2=1.0, keep=1).fit(PAIRS).weights_
    assert np.diff(b.indptr).max() <= 1
    # Over at most 2 items: the two most taken up (ties to the smaller index), the rest unweighted.
    capped = EASE(l2=1.0, max_items=2).fit(PAIRS)
    assert capped.items_.tolist() == [0, 1]
    assert capped.weights_[2:].nnz == 0 and capped.weights_[:, 2:].nnz == 0


def test_an_empty_matrix_gives_no_weights_and_bad_settings_are_refused():
    assert EASE().fit(sp.csr_matrix((3, 4), dtype=np.float32)).weights_.nnz == 0
    for bad in ({"l2": 0}, {"keep": 0}, {"max_items": 0}):
        with pytest.raises(ValidationError):
            EASE(**bad)


def test_a_history_of_items_without_weights_scores_nothing_and_ranks_nothing():
    from recsys.models import RankingModel
    from recsys.pipeline.collaborative import CollaborativeModel

    collab = CollaborativeModel().fit([("m1", "a", "complete", None), ("m2", "b", "complete", None)],
                                      {"m1": ["member"], "m2": ["member"]})
    empty = sp.csr_matrix((2, 2), dtype=np.float32)  # EASE learnt nothing (beyond its cap, say)
    model = RankingModel(collab, empty, None)
    ease, ials = model.scores_at({"a": 1.0}, np.array([0, 1, -1]))
    assert ease.tolist() == [0.0, 0.0, 0.0] and ials.tolist() == [0.0, 0.0, 0.0]
    assert model.top_at({"a": 1.0}, 5).tolist() == []


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_inverse_is_the_closed_forms_and_is_written_over_the_gram_matrix(order):
    # At 8,000 items each dense copy is 512 MiB: the inverse must take the Gram matrix's memory,
    # whichever order it comes in (a sparse product's toarray() gives column order).
    x = sp.random(600, 120, density=0.05, random_state=3, format="csr")
    gram = np.array((x.T @ x).toarray(), order=order)
    gram[np.diag_indices_from(gram)] += 5.0
    expected = np.linalg.inv(gram)
    memory = gram.__array_interface__["data"][0]
    found = _inverse_in_place(gram)
    np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-14)
    assert found.__array_interface__["data"][0] == memory and found.flags.c_contiguous
    assert np.array_equal(found, found.T)  # exactly symmetric: the triangle LAPACK left is mirrored
