"""A quiz answered through the engine: scored on the server from the item's questions, recorded
as one ``quiz`` event that completes the item, once however often it is sent."""

from __future__ import annotations

import datetime as dt

import pytest

from recsys import Engine, Event, Item, Member, get_encoder
from recsys.exceptions import ConflictError, NotFoundError, ValidationError
from recsys.records import Question

QUESTIONS = (
    Question("1", "single", "中国共产党第一次全国代表大会在（）召开。", (("A", "上海"), ("B", "北京")), "A"),
    Question("2", "multiple", "以下关于党和国家的秘密说法正确的有（）。", (("A", "关系到安全和利益"), ("B", "可以随意公开"),
                                                       ("C", "只限一定范围内人员知晓")), "AC"),
    Question("3", "judge", "党员可以不按期交纳党费。", (("A", "正确"), ("B", "错误")), "B"),
    Question("4", "blank", "发展党员工作的总要求是控制总量、优化结构、（）、发挥作用。", (), "提高质量"),
)
DAY = dt.date(2026, 12, 1)


@pytest.fixture
def engine(tmp_path):
    eng = Engine.open(tmp_path / "store", encoder=get_encoder("tfidf"))
    eng.add_items([
        Item(id="quiz-1", title="答题：党的基本知识", body="\n".join(q.prompt for q in QUESTIONS), kind="quiz", minutes=4,
             published=dt.date(2026, 1, 1), topics=("党史",), questions=QUESTIONS),
        Item(id="art-1", title="党史学习文章", body="学习党史，坚定理想信念。", kind="article", minutes=10,
             published=dt.date(2026, 1, 1), topics=("党史",)),
    ])
    eng.upsert_members([Member(id="m1", name="张三", org="hx.zb1", roles=("member",), daily_minutes=30)])
    yield eng
    eng.close()


def test_answers_are_scored_as_a_member_types_them(engine):
    # Lower case, keys with a separator in another order, an option's text, a full stop on a blank.
    result = engine.answer_quiz("m1", "quiz-1", {"1": "a", "2": "c，a", "3": "错误", "4": "提高质量。"})
    assert result.score == 1.0 and result.correct == (True, True, True, True) and result.right == 4
    assert result.answers == ("A", "AC", "B", "提高质量") and result.recorded


def test_a_wrong_or_missing_answer_counts_against_the_score_and_the_right_one_comes_back(engine):
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    result = engine.answer_quiz("m1", "quiz-1", {"1": "B", "2": "A", "3": "Ｂ"}, at=at)
    assert result.correct == (False, False, True, False) and result.score == 0.25
    assert result.to_dict()["right"] == 1 and result.to_dict()["total"] == 4
    assert engine.events("m1") == [Event(member="m1", item="quiz-1", kind="quiz", value=0.25, at=at)]


def test_an_answered_quiz_is_done_and_leaves_the_list(engine):
    assert "quiz-1" in {e.item.id for e in engine.daily("m1", day=DAY, preview=True).entries}
    engine.answer_quiz("m1", "quiz-1", {"1": "A"}, at=dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.timezone.utc))
    assert "quiz-1" not in {e.item.id for e in engine.daily("m1", day=DAY, preview=True).entries}
    assert [e.item for e in engine.progress("m1", day=DAY).hours.entries] == ["quiz-1"]  # its hours count


def test_the_same_answers_sent_again_with_their_id_are_recorded_once(engine):
    first = engine.answer_quiz("m1", "quiz-1", {"1": "A", "4": "提高质量"}, event_id="w1")
    again = engine.answer_quiz("m1", "quiz-1", {"1": "A", "4": "提高质量"}, event_id="w1")
    assert first.recorded and not again.recorded and again.score == first.score == 0.5
    assert len(engine.events("m1")) == 1


def test_what_cannot_be_answered_is_refused_by_name(engine):
    with pytest.raises(ValidationError) as exc:
        engine.answer_quiz("m1", "art-1", {"1": "A"})
    assert exc.value.field == "item" and "not a quiz" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        engine.answer_quiz("m1", "quiz-1", {"1": "A", "9": "B"})
    assert exc.value.field == "answers.9" and exc.value.record == "quiz-1"
    with pytest.raises(ValidationError) as exc:
        engine.answer_quiz("m1", "quiz-1", {"1": "A" * 201})
    assert exc.value.field == "answers.1"
    with pytest.raises(NotFoundError):
        engine.answer_quiz("m1", "quiz-9", {})
    with pytest.raises(NotFoundError):
        engine.answer_quiz("m9", "quiz-1", {})
    assert engine.events("m1") == []  # nothing refused was recorded


def test_keys_a_bank_writes_as_symbols_are_told_apart():
    judge = Question("5", "judge", "党员应当按期交纳党费。", (("√", "正确"), ("×", "错误")), "√")
    assert judge.is_correct("√") and judge.is_correct("正确")
    assert not any(judge.is_correct(r) for r in ("×", "错误", "?", "-", "", "√×"))
    several = Question("6", "multiple", "以下正确的有", (("A", "甲"), ("B", "乙"), ("C", "丙")), "AC")
    assert several.is_correct("ca") and several.is_correct("Ａ、Ｃ") and several.is_correct("A, C")
    assert not any(several.is_correct(r) for r in ("A", "ABC", "AD", "甲", "A C X"))


def test_only_a_quiz_the_members_lists_could_offer_is_answered_and_once(engine):
    engine.add_items([
        Item(id="quiz-later", title="答题：明年的知识", body="…", kind="quiz", minutes=4, published=dt.date(2099, 1, 1),
             topics=("党史",), questions=QUESTIONS),
        Item(id="quiz-sec", title="答题：支部书记应知应会", body="…", kind="quiz", minutes=4,
             published=dt.date(2026, 1, 1), topics=("党史",), roles=("branch_secretary",), questions=QUESTIONS),
        Item(id="quiz-other", title="答题：他企之题", body="…", kind="quiz", minutes=4, published=dt.date(2026, 1, 1),
             topics=("党史",), org="zj", questions=QUESTIONS),
        # A unit below the member's branch: its own quiz, which the branch's lists do not offer.
        Item(id="quiz-below", title="答题：小组之题", body="…", kind="quiz", minutes=4, published=dt.date(2026, 1, 1),
             topics=("党史",), org="hx.zb1.xz1", questions=QUESTIONS),
        # Meant for mobile members by its title (the curriculum's situation keywords); m1 is not one.
        Item(id="quiz-mobile", title="答题：流动党员线上组织生活", body="…", kind="quiz", minutes=4,
             published=dt.date(2026, 1, 1), topics=("党史",), questions=QUESTIONS),
    ])
    for item in ("quiz-later", "quiz-sec", "quiz-other", "quiz-below", "quiz-mobile"):
        with pytest.raises(NotFoundError):
            engine.answer_quiz("m1", item, {"1": "A"})
    assert engine.events("m1") == []  # no answers given back, no hours counted
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    engine.answer_quiz("m1", "quiz-1", {"1": "A"}, at=at)  # 0.25: below the review threshold
    with pytest.raises(ConflictError, match="already answered on 2026-12-01"):
        engine.answer_quiz("m1", "quiz-1", {"1": "A", "2": "AC", "3": "B", "4": "提高质量"}, at=at + dt.timedelta(hours=1))
    # Once its review is due, the quiz is taken again.
    later = engine.answer_quiz("m1", "quiz-1", {"1": "A", "2": "AC", "3": "B", "4": "提高质量"},
                               at=at + dt.timedelta(days=30))
    assert later.score == 1.0 and later.recorded
