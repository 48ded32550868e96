"""The library's errors cross a process boundary whole: a batch's worker raises one, and the
process that started it must see the same error, not a broken pool."""

from __future__ import annotations

import pickle

import pytest

from recsys.exceptions import (AmbiguousIdError, ConflictError, MissingExtraError, ModelError, NotFoundError,
                               RecsysError, SetupError, StoreError, TokenError, ValidationError)

ERRORS = [
    NotFoundError("member", "m001"),
    AmbiguousIdError("member", "0001", ["zj", "hx"]),
    MissingExtraError("the batch on a Ray cluster", "cluster"),
    ValidationError("must be positive", source="members.csv", line=7, record="m7", field="daily_minutes",
                    problems=[ValidationError("empty", field="name")]),
    ConflictError("event e1 was recorded with other data", record="e1", line=3),
    StoreError("cannot read the store"), ModelError("no model"), SetupError("no font"), TokenError("expired"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_pickles_with_its_message_and_attributes(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and isinstance(again, RecsysError)
    assert str(again) == str(error) and again.args == error.args
    assert {k: v for k, v in vars(again).items() if k != "problems"} == \
        {k: v for k, v in vars(error).items() if k != "problems"}
    if isinstance(error, ValidationError):
        assert [str(p) for p in again.problems] == [str(p) for p in error.problems]


def test_a_not_found_error_is_still_a_key_error_after_the_trip():
    again = pickle.loads(pickle.dumps(NotFoundError("item", "his-007")))
    with pytest.raises(KeyError):
        raise again
    assert (again.kind, again.id, str(again)) == ("item", "his-007", "no item with id 'his-007'")
