"""The wording of reasons, as a party-affairs worker would write them."""

from __future__ import annotations

import datetime as dt

from recsys.pipeline import explain


def test_titles_take_book_title_marks_once_and_nested_titles_the_inner_marks():
    assert explain.book_title("中共一大的召开") == "《中共一大的召开》"
    assert explain.book_title("《习近平谈治国理政》") == "《习近平谈治国理政》"
    assert explain.book_title("学习《中国共产党章程》心得") == "《学习〈中国共产党章程〉心得》"
    assert explain.book_title("《党章》与《准则》对照学习") == "《〈党章〉与〈准则〉对照学习》"
    assert explain.related_to("《习近平谈治国理政》") == "与您近期学习的《习近平谈治国理政》相关"
    assert "《《" not in explain.peers_also_studied("《红色家书》选读")


def test_an_activity_attended_was_taken_part_in_not_studied():
    assert explain.related_to("12月主题党日", attended=True) == "与您近期参加的《12月主题党日》相关"
    assert explain.related_to("12月主题党日") == "与您近期学习的《12月主题党日》相关"


def test_a_membership_standing_is_not_called_a_post():
    assert explain.required_topic("党员", "党史", 3.2) == "作为党员的必修主题：党史，本年度还差 3.2 学时"
    assert explain.required_topic("离退休党员", "形势政策", 0) == "作为离退休党员的必修主题：形势政策"
    assert explain.required_topic("支部书记", "廉洁从业", 4.6) == "您所在岗位（支部书记）的必修主题：廉洁从业，本年度还差 4.6 学时"


def test_the_member_is_addressed_as_您_throughout():
    # The member's page greets "某某同志，您好": reasons and notes keep that form of address
    # (older members read 你 from the party organisation as curt).
    said = [
        explain.required_topic("支部书记", "廉洁从业", 4.6), explain.related_to("党章"),
        explain.stated_interest("党史"), explain.peers_also_studied(None), explain.next_level("党史", 2),
        explain.birthday(dt.date(2001, 7, 1)), explain.continue_started(), explain.empty_done(),
        explain.empty_nothing(),
    ]
    assert all("您" in s and "你" not in s for s in said), said


def test_numbers_in_reports_are_written_out_never_with_an_exponent():
    from recsys.pipeline.explain import number_text

    # A subsidiary's yearly target was written 1.30383e+06 by ":g".
    assert [number_text(v) for v in (1303830.0, 16.36, 0.98125, 0.5, 2.0, -0.0, 90)] == [
        "1303830", "16.36", "0.9813", "0.5", "2", "0", "90"]
