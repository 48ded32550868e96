"""The question-bank reader, on the real party-history bank and on broken banks."""

import json

import pytest

from recsys.exceptions import ValidationError
from recsys.ingest.quizbank import Question, questions_by_point, read_question_bank



def test_reads_the_real_bank(quiz_bank):
    questions = read_question_bank(quiz_bank)
    assert len(questions) == 1486
    assert {q.kind for q in questions} == {"single", "multiple", "judge", "blank"}
    first = next(q for q in questions if q.id == "1")
    assert first.answer == "C" and first.is_correct("c") and not first.is_correct("A")
    assert "2001 年" in first.prompt and first.error_rate == pytest.approx(0.0473)
    assert len(questions_by_point(questions)["党章知识"]) == 227


def test_every_problem_named_by_question_and_field(tmp_path):
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps([
        {"origId": 1, "type": "single", "question": "甲", "options": [{"key": "A", "text": "x"}], "answer": "B"},
        {"origId": 2, "type": "essay", "question": "乙", "answer": "A"},
        {"origId": 1, "type": "blank", "question": "丙", "answer": "丁"},
    ], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        read_question_bank(bank)
    message = str(caught.value)
    assert "question 1 (id 1): answer" in message
    assert "question 2 (id 2): type" in message
    assert "question 3 (id 1): id" in message
    assert len(caught.value.problems) == 3


def test_multiple_answers_in_any_order():
    q = Question.from_dict({"origId": 7, "type": "multiple", "question": "选出",
                            "options": [{"key": k, "text": k} for k in "ABCD"], "answer": "ABD"})
    assert q.is_correct("dba") and not q.is_correct("AB")
