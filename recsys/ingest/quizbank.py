"""Quiz questions: reading a question bank into structured :class:`Question` records.

Quiz items (:func:`quiz_items`) group a bank's questions by knowledge point, easy questions
first, into short quizzes whose level follows the questions' recorded error rates, on the topic
family the point belongs to (:func:`topic_of_point`).

A bank is a JSON list of questions in the shape of the public party-history bank (中共党史题库):
``origId``, ``type`` (single|multiple|judge|blank), ``question``, ``options`` (``[{key, text}]``,
absent for blanks), ``answer`` and ``points`` (knowledge-point labels). Errors name the file, the
question and the field, and a bank is validated whole before anything is returned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


from recsys.exceptions import ValidationError
from recsys.records import QUESTION_KINDS, Item, Question

__all__ = [
    "QUESTION_KINDS", "POINT_TOPICS", "Question", "questions_by_point", "read_question_bank", "quiz_items",
    "topic_of_point",
]


def read_question_bank(path: str | os.PathLike[str]) -> list[Question]:
    """Read a JSON question bank.

    Raises:
        ValidationError: naming the file, the question (by position and id) and the field of every
            problem, including repeated ids.
    """
    source = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"{source}: no such file", source=source) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{source}: not a JSON question bank ({exc})", source=source) from None
    if not isinstance(data, list):
        raise ValidationError(f"{source}: a question bank is a JSON list of questions", source=source)
    questions: list[Question] = []
    problems: list[ValidationError] = []
    seen: set[str] = set()
    for n, record in enumerate(data, start=1):
        if not isinstance(record, Mapping):
            problems.append(ValidationError(f"question {n}: not an object", line=n))
            continue
        rid = record.get("origId", record.get("id"))
        label = f"question {n}" + (f" (id {rid})" if rid is not None else "")
        if rid is not None and str(rid) in seen:
            problems.append(ValidationError(
                f"{label}: id: {str(rid)!r} repeats an earlier question", line=n, record=str(rid), field="id"
            ))
            continue
        seen.add(str(rid))
        try:
            questions.append(Question.from_dict(record))
        except ValueError as exc:
            problems.append(ValidationError(f"{label}: {exc}", line=n, record=None if rid is None else str(rid)))
    if problems:
        shown = "; ".join(p.reason for p in problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValidationError(shown, source=source, problems=[p.located(source=source) for p in problems])
    return questions


def questions_by_point(questions: Sequence[Question]) -> dict[str, list[Question]]:
    """Questions grouped by knowledge point (a question with several points is in each group)."""
    groups: dict[str, list[Question]] = {}
    for question in questions:
        for point in question.points:
            groups.setdefault(point, []).append(question)
    return groups


#: Words of a knowledge point and the topic family they put it in, the first match winning
#: (theory before history: "毛泽东思想" is theory though it names a historical figure).
POINT_TOPICS = (
    (("思想", "理论", "习近平", "新时代", "十九大", "二十大", "中国梦", "马克思", "科学发展观", "三个代表",
      "两个一百年", "基本方略", "全会", "初级阶段", "基本纲领", "基本路线", "最高理想"), "党的创新理论"),
    (("党章", "纪律", "组织", "义务", "权利", "民主集中制", "党员标准", "入党", "预备党员", "发展党员", "发展对象",
      "积极分子", "作风", "党规"), "党章党规党纪"),
    (("宗旨", "群众路线", "性质"), "党的宗旨"),
)

#: Mean error rates from which a quiz is level 2 and level 3. On the party-history bank, a third
#: of the questions are missed by under 2 % of people and a third by over 8.75 %.
LEVEL_ERROR_RATES = (0.03, 0.10)


def topic_of_point(point: str, default: str = "党史") -> str:
    """The topic family of a knowledge point (:data:`POINT_TOPICS`), else ``default``."""
    for words, topic in POINT_TOPICS:
        if any(w in point for w in words):
            return topic
    return default


def quiz_items(
    questions: Sequence[Question],
    *,
    published: dt.date,
    per_item: int = 5,
    min_questions: int = 5,
    prefix: str = "quiz",
    default_topic: str = "党史",
) -> list[Item]:
    """Quiz items built from a question bank: one short quiz per group of a knowledge point.

    Each question goes to its first knowledge point; repeated question texts are kept once;
    within a point, questions are ordered by error rate (easiest first, unknown rates last) and
    cut into quizzes of ``per_item``. A quiz's level comes from its questions' mean error rate
    (:data:`LEVEL_ERROR_RATES`), so a point with many questions gets quizzes of rising level.

    Args:
        questions: The bank (see :func:`read_question_bank`).
        published: Publication date of the items.
        per_item: Questions per quiz (a quiz takes a minute a question).
        min_questions: Knowledge points with fewer distinct questions are left out.
        prefix: Item ids are ``{prefix}-{n:03d}``, numbered by point, then quiz.
        default_topic: The topic of points that :func:`topic_of_point` does not place.

    Returns:
        The quiz items, ordered by id.

    Raises:
        ValueError: if ``per_item`` or ``min_questions`` is below 1.
    """

    if per_item < 1 or min_questions < 1:
        raise ValueError("per_item and min_questions must be at least 1")
    groups: dict[str, list[Question]] = {}
    seen: set[str] = set()
    for q in questions:
        if not q.points or q.text in seen:
            continue
        seen.add(q.text)
        groups.setdefault(q.points[0], []).append(q)
    items = []
    names = {1: "基础", 2: "进阶", 3: "提高"}
    for point in sorted(groups):
        group = groups[point]
        if len(group) < min_questions:
            continue
        group = sorted(group, key=lambda q: (q.error_rate is None, q.error_rate or 0.0, q.id))
        chunks = [group[i:i + per_item] for i in range(0, len(group), per_item)]
        if len(chunks) > 1 and len(chunks[-1]) < min(min_questions, per_item):
            chunks[-2].extend(chunks.pop())  # a short remainder joins the quiz before it
        for n, chunk in enumerate(chunks, start=1):
            rates = [q.error_rate for q in chunk if q.error_rate is not None]
            mean = sum(rates) / len(rates) if rates else LEVEL_ERROR_RATES[0]
            level = 1 + sum(mean >= cut for cut in LEVEL_ERROR_RATES)
            items.append(Item(
                id=f"{prefix}-{len(items) + 1:03d}",
                title=f"答题：{point}（{names[level]}·第{n}组）",
                body="\n".join(q.prompt for q in chunk),
                kind="quiz", minutes=len(chunk), published=published,
                topics=(topic_of_point(point, default_topic),), level=level, questions=tuple(chunk),
            ))
    return items
