"""Mastery from quizzes and its feedback into the lists: easier items for a weak topic, the next
level for a mastered one, and spaced review of missed quizzes (the only sanctioned repeat)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from recsys import Engine, Event, Item, Member
from recsys.learning.mastery import estimate_mastery, expected_score, review_schedule
from recsys.ingest.quizbank import quiz_items, read_question_bank
from recsys.records import TZ
from recsys.learning.rules import MasteryRules

START = dt.date(2026, 6, 1)


def at(day: dt.date, hour: int = 20) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def item(id_, title, topic, level, kind="article", minutes=10):
    return Item(id=id_, title=title, body=title, kind=kind, minutes=minutes, level=level,
                published=dt.date(2026, 1, 1), topics=(topic,))


CATALOGUE = [
    item("h1", "党史入门：中共一大的召开", "党史", 1),
    item("h1b", "党史入门：南昌起义", "党史", 1),
    item("h2", "党史进阶：遵义会议的历史意义", "党史", 2),
    item("h3", "党史提高：历史决议的比较研究", "党史", 3),
    item("h3b", "党史提高：党的自我革命历程专题", "党史", 3),
    item("hq1", "党史小测：建党与大革命", "党史", 2, kind="quiz", minutes=5),
    item("hq2", "党史小测：土地革命与长征", "党史", 2, kind="quiz", minutes=5),
    item("hq3", "党史小测：抗日战争", "党史", 2, kind="quiz", minutes=5),
    item("s1", "保密常识：涉密文件管理", "保密", 1),
    item("s2", "保密常识：涉密计算机使用", "保密", 2),
]


def test_elo_estimate_known_answers():
    items = {i.id: i for i in CATALOGUE}
    rules = MasteryRules(k=1.0)
    one = estimate_mastery([Event("m", "hq1", "quiz", at(START), value=1.0)], items, rules)["党史"]
    # From 0 on a level-2 quiz (expected 0.5), a full score adds k · 0.5.
    assert one.rating == pytest.approx(0.5) and one.quizzes == 1
    assert expected_score(0.0, 2) == pytest.approx(0.5) and expected_score(0.0, 1) == pytest.approx(0.7310586)
    seq = [Event("m", "hq1", "quiz", at(START), value=0.0), Event("m", "hq2", "quiz", at(START), value=0.0)]
    weak = estimate_mastery(seq, items, rules)["党史"]
    # 0 - 0.5 = -0.5, then -0.5 - σ(-0.5) = -0.8775: level 1 expected σ(0.1225) = 0.53 < 0.65.
    assert weak.rating == pytest.approx(-0.5 - expected_score(-0.5, 2)) and weak.weak and weak.level == 1
    strong = estimate_mastery([Event("m", i, "quiz", at(START), value=1.0) for i in ("hq1", "hq2", "hq3")] * 2,
                              items, rules)["党史"]
    assert not strong.weak and strong.level == 3


def _engine(tmp_path, feedback=True):
    eng = Engine.open(tmp_path / ("on" if feedback else "off"), encoder="tfidf")
    eng.curriculum = dataclasses.replace(eng.curriculum, mastery_feedback=feedback)
    eng.add_items(CATALOGUE)
    eng.upsert_members([Member(id="m1", name="张伟", org="hx.b1", roles=("member",), interests=("党史",),
                               daily_minutes=20)])
    return eng


def _history(scores):
    return [Event("m1", q, "quiz", at(START + dt.timedelta(days=n)), value=s)
            for n, (q, s) in enumerate(zip(("hq1", "hq2", "hq3"), scores))]


def _party_history_levels(lst):
    return sorted(e.item.level for e in lst.entries if "党史" in e.item.topics and e.item.kind != "quiz")


def test_scores_dropping_in_a_topic_bring_its_easier_items(tmp_path):
    day = START + dt.timedelta(days=20)  # after every review interval of the quizzes' first attempt
    with _engine(tmp_path) as eng:
        eng.record(_history([1.0, 1.0, 1.0]))
        good = eng.daily("m1", day=day)
        # Three full scores on level-2 quizzes: level 2 is the level to study, and comes first.
        assert eng.progress("m1", day=day).mastery["党史"].level == 2
        first = next(e for e in good.entries if "党史" in e.item.topics and e.item.kind != "quiz")
        assert first.item.level == 2
        assert any("答题表现良好" in r for e in good.entries for r in e.reasons)
    with _engine(tmp_path / "2") as eng:
        eng.record(_history([1.0, 0.2, 0.0]))
        weak = eng.daily("m1", day=day)
        assert _party_history_levels(weak) and set(_party_history_levels(weak)) == {1}
        assert any(r.startswith("巩固薄弱主题：党史") for e in weak.entries for r in e.reasons)
        assert eng.progress("m1", day=day).mastery["党史"].weak


def test_without_mastery_feedback_the_lists_ignore_the_estimate(tmp_path):
    day = START + dt.timedelta(days=20)
    with _engine(tmp_path, feedback=False) as eng:
        eng.record(_history([1.0, 0.2, 0.0]))
        lst = eng.daily("m1", day=day)
        assert not any("薄弱" in r or "复习" in r for e in lst.entries for r in e.reasons)
        assert not any(e.review for e in lst.entries)
        assert eng.progress("m1", day=day).mastery["党史"].weak  # still estimated and reported


def _review_days(eng, first, last):
    out = {}
    for n in range((last - first).days + 1):
        day = first + dt.timedelta(days=n)
        lst = eng.daily("m1", day=day, minutes=60)
        for e in lst.entries:
            if e.item.id == "hq1":
                out[day] = e
    return out


def test_a_missed_quiz_comes_back_on_schedule_and_only_then(tmp_path):
    with _engine(tmp_path) as eng:
        eng.record([Event("m1", "hq1", "quiz", at(START), value=0.4, id="try1")])
        shown = _review_days(eng, START, START + dt.timedelta(days=2))
        # Missed on day 0: back after 1 day, labelled as a review, then not again that cycle.
        assert list(shown) == [START + dt.timedelta(days=1)]
        entry = shown[START + dt.timedelta(days=1)]
        assert entry.review and entry.reasons[0].startswith("复习：《党史小测：建党与大革命》上次答题得分 40%")
        # Missed again on day 2: the second interval is 3 days.
        eng.record([Event("m1", "hq1", "quiz", at(START + dt.timedelta(days=2)), value=0.5, id="try2")])
        shown = _review_days(eng, START + dt.timedelta(days=3), START + dt.timedelta(days=5))
        assert list(shown) == [START + dt.timedelta(days=5)]
        # Passed on day 5: it never comes back.
        eng.record([Event("m1", "hq1", "quiz", at(START + dt.timedelta(days=5)), value=0.9, id="try3")])
        assert _review_days(eng, START + dt.timedelta(days=6), START + dt.timedelta(days=40)) == {}
        assert eng.progress("m1", day=START + dt.timedelta(days=6)).reviews == ()


def test_reviews_appear_once_in_a_path_and_not_without_feedback(tmp_path):
    with _engine(tmp_path) as eng:
        eng.record([Event("m1", "hq1", "quiz", at(START), value=0.0)])
        path = eng.path("m1", start=START, days=10, minutes=60)
        days = [d.day for d in path.days for e in d.entries if e.item.id == "hq1"]
        assert days == [START + dt.timedelta(days=1)]
    with _engine(tmp_path, feedback=False) as eng:
        eng.record([Event("m1", "hq1", "quiz", at(START), value=0.0)])
        path = eng.path("m1", start=START, days=10, minutes=60)
        assert not any(e.item.id == "hq1" or e.review for d in path.days for e in d.entries)


def test_review_schedule_waits_from_the_last_time_the_item_was_done():
    items = {i.id: i for i in CATALOGUE}
    rules = MasteryRules(review_days=(2, 5))
    events = [Event("m", "hq1", "quiz", at(START), value=0.1),
              Event("m", "hq1", "complete", at(START + dt.timedelta(days=2)))]  # studied, no new quiz
    due = review_schedule(events, items, rules)["hq1"]
    assert due.due == START + dt.timedelta(days=4) and due.attempts == 1 and due.since == START + dt.timedelta(days=2)


def test_quiz_items_from_the_real_bank(quiz_bank):
    questions = read_question_bank(quiz_bank)
    items = quiz_items(questions, published=dt.date(2026, 1, 1))
    assert items and all(i.kind == "quiz" and 5 <= len(i.questions) <= 9 for i in items)
    assert len({i.id for i in items}) == len(items)
    # Every question is in at most one quiz, and a point's quizzes rise in level.
    ids = [q.id for i in items for q in i.questions]
    assert len(ids) == len(set(ids))
    charter = [i for i in items if "（" in i.title and i.title.startswith("答题：党章知识")]
    assert [i.level for i in charter] == sorted(i.level for i in charter) and {1, 3} <= {i.level for i in charter}
    assert {i.topics[0] for i in charter} == {"党章党规党纪"}
    assert Item.from_dict(items[0].to_dict()) == items[0]


def test_questions_only_on_quiz_items_and_validated():
    from recsys.exceptions import ValidationError

    q = {"id": "1", "type": "single", "question": "一大在哪里召开？", "options": [{"key": "A", "text": "上海"}],
         "answer": "A"}
    base = {"id": "q", "title": "小测", "kind": "quiz", "minutes": 5, "published": "2026-01-01"}
    assert Item.from_dict({**base, "questions": [q]}).questions[0].answer == "A"
    with pytest.raises(ValidationError, match="only for quiz items"):
        Item.from_dict({**base, "kind": "article", "questions": [q]})
    with pytest.raises(ValidationError, match=r"questions\[0\]"):
        Item.from_dict({**base, "questions": [{**q, "answer": "Z"}]})
    with pytest.raises(ValidationError, match="repeat a question id"):
        Item.from_dict({**base, "questions": [q, q]})
