"""A quiz item answered: the member's responses scored against its questions.

The page and the API send what the member chose; the score is worked out here, from the
questions stored with the item, so a member's page never needs (and never gets) the answers
before answering. The score becomes a ``quiz`` event, which completes the item and feeds the
mastery estimate (:mod:`recsys.learning.mastery`).
"""

from __future__ import annotations

from collections.abc import Mapping

from recsys.exceptions import ValidationError
from recsys.records import Item

__all__ = ["score_answers", "MAX_RESPONSE"]

#: The longest response to one question, in characters (a blank's text is a few words).
MAX_RESPONSE = 200


def score_answers(item: Item, responses: Mapping[str, str]) -> tuple[float, tuple[bool, ...]]:
    """The share of ``item``'s questions answered right, and per question whether it was.

    Args:
        item: A quiz item with questions.
        responses: Question id to the response (an option's key or keys, an option's text, or a
            blank's text; see :meth:`recsys.records.Question.is_correct`). A question left out,
            or answered with an empty response, counts as answered wrong.

    Raises:
        ValidationError: the item is not a quiz with questions, a response names a question the
            item does not have, or a response is not text or is too long (each problem named by
            its field, ``answers.<question id>``).
    """
    if item.kind != "quiz" or not item.questions:
        raise ValidationError(f"item {item.id!r} is not a quiz with questions to answer", record=item.id,
                              field="item")
    known = {q.id for q in item.questions}
    problems = []
    for qid, response in responses.items():
        if qid not in known:
            problems.append(ValidationError(f"quiz {item.id!r} has no question {qid!r}", record=item.id,
                                            field=f"answers.{qid}"))
        elif not isinstance(response, str) or len(response) > MAX_RESPONSE:
            problems.append(ValidationError(f"must be text of at most {MAX_RESPONSE} characters, got {response!r:.60}",
                                            record=item.id, field=f"answers.{qid}"))
    if problems:
        raise problems[0] if len(problems) == 1 else ValidationError(
            f"{len(problems)} problems in the answers to quiz {item.id!r}", problems=problems)
    correct = tuple(bool(responses.get(q.id, "").strip()) and q.is_correct(responses[q.id]) for q in item.questions)
    return sum(correct) / len(correct), correct
