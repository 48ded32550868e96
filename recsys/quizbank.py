"""Quiz questions: reading a question bank into structured :class:`Question` records.

A bank is a JSON list of questions in the shape of the public party-history bank (中共党史题库):
``origId``, ``type`` (single|multiple|judge|blank), ``question``, ``options`` (``[{key, text}]``,
absent for blanks), ``answer`` and ``points`` (knowledge-point labels). Errors name the file, the
question and the field, and a bank is validated whole before anything is returned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.exceptions import ValidationError

__all__ = ["QUESTION_KINDS", "Question", "questions_by_point", "read_question_bank"]

#: Question kinds: one answer of several, several answers, true/false, fill in the blank.
QUESTION_KINDS = ("single", "multiple", "judge", "blank")


@dataclass(frozen=True)
class Question:
    """One quiz question.

    Attributes:
        id: Identifier, unique in its bank.
        kind: One of :data:`QUESTION_KINDS`.
        text: The question.
        options: ``(key, text)`` pairs; empty for blanks.
        answer: The key or keys of the right options (``"ABC"`` for multiple), or the blank's text.
        points: Knowledge points the question tests.
        error_rate: Share of people who got it wrong where the bank records it (0–1), else None.
    """

    id: str
    kind: str
    text: str
    options: tuple[tuple[str, str], ...] = ()
    answer: str = ""
    points: tuple[str, ...] = ()
    error_rate: float | None = None

    @property
    def prompt(self) -> str:
        """The question with its options, as a member reads it (and as it is embedded)."""
        if not self.options:
            return self.text
        return self.text + " " + " ".join(f"{key}. {text}" for key, text in self.options)

    def is_correct(self, response: str) -> bool:
        """Whether ``response`` answers the question (option keys in any order, case-insensitive)."""
        if self.kind == "blank":
            return response.strip() == self.answer.strip()
        return sorted(response.strip().upper()) == sorted(self.answer.strip().upper())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """Build from one bank record; raises :class:`ValueError` naming the field."""
        problems: list[str] = []
        qid = data.get("id", data.get("origId"))
        if qid is None or str(qid).strip() == "":
            problems.append("origId: missing")
        kind = data.get("type", data.get("kind"))
        if kind not in QUESTION_KINDS:
            problems.append(f"type: {kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        text = data.get("question", data.get("text"))
        if not isinstance(text, str) or not text.strip():
            problems.append("question: missing or empty")
        raw_options = data.get("options") or []
        options: list[tuple[str, str]] = []
        if not isinstance(raw_options, list):
            problems.append("options: must be a list of {key, text}")
        else:
            for n, option in enumerate(raw_options):
                if not isinstance(option, Mapping) or not isinstance(option.get("key"), str) \
                        or not isinstance(option.get("text"), str):
                    problems.append(f"options[{n}]: must be {{key, text}} strings")
                else:
                    options.append((option["key"], option["text"]))
        answer = data.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            problems.append("answer: missing or empty")
        elif kind in ("single", "multiple", "judge"):
            keys = {key for key, _ in options}
            if not options:
                problems.append(f"options: a {kind} question needs options")
            elif not set(answer.strip().upper()) <= keys:
                problems.append(f"answer: {answer!r} is not among the option keys {''.join(sorted(keys))}")
        points = data.get("points") or []
        if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
            problems.append("points: must be a list of strings")
            points = []
        error_rate = _rate(data.get("errorRate", data.get("error_rate")), problems)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(
            id=str(qid), kind=kind, text=text.strip(), options=tuple(options), answer=answer.strip(),
            points=tuple(p.strip() for p in points if p.strip()), error_rate=error_rate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.kind, "question": self.text,
            "options": [{"key": k, "text": t} for k, t in self.options],
            "answer": self.answer, "points": list(self.points), "error_rate": self.error_rate,
        }


def _rate(value: Any, problems: list[str]) -> float | None:
    if value is None or value == "":
        return None
    try:
        rate = float(value[:-1]) / 100 if isinstance(value, str) and value.endswith("%") else float(value)
    except (TypeError, ValueError):
        problems.append(f"errorRate: {value!r} is not a percentage")
        return None
    if not 0 <= rate <= 1:
        problems.append(f"errorRate: {value!r} is outside 0–100 %")
        return None
    return rate


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
