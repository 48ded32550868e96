"""List messages for group chats: titles linked to the portal, whole entries within a byte limit."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from factories import make_item
from recsys import Item, ValidationError
from recsys.results import StudyEntry, StudyList
from recsys.serving.text import format_list

DAY = dt.date(2026, 12, 1)
URL = "https://dangjian.example.com/course/a1?from=wecom"


def study_list(*items: Item) -> StudyList:
    entries = tuple(StudyEntry(it, 1.0, ("您所在岗位的必修主题：廉洁从业",)) for it in items)
    return StudyList("m1", DAY, 120, entries)


def test_text_puts_the_link_after_the_title_and_markdown_makes_the_title_a_link():
    lst = study_list(make_item("a1", "廉洁从业[十不准]", url=URL), make_item("a2", "党史故事"))
    text = format_list(lst)
    assert f"1. 《廉洁从业[十不准]》 {URL} 10分钟 · 文章" in text.splitlines()
    assert "2. 《党史故事》 10分钟 · 文章" in text.splitlines()
    markdown = format_list(lst, title="张伟 2026-12-01", markdown=True)
    assert markdown.splitlines()[0] == "**张伟 2026-12-01 · 共 20/120 分钟**"
    # brackets in a title would end the link early: they become full-width
    assert f"1. [廉洁从业［十不准］]({URL}) 10分钟 · 文章" in markdown.splitlines()
    assert "2. 《党史故事》 10分钟 · 文章" in markdown.splitlines()


def test_a_parenthesis_in_a_link_does_not_end_the_markdown_link():
    lst = study_list(make_item("a1", "讲话精神", url="https://example.com/a_(1)"))
    assert "[讲话精神](https://example.com/a_%281%29)" in format_list(lst, markdown=True)


@pytest.mark.parametrize("markdown", [False, True])
def test_max_bytes_keeps_whole_entries_and_says_how_many_were_left_out(markdown):
    items = [make_item(f"x{n}", f"第{n}讲：党的创新理论专题学习", url=f"https://dangjian.example.com/c/{n}")
             for n in range(30)]
    lst = study_list(*items)
    full = format_list(lst, markdown=markdown)
    cut = format_list(lst, markdown=markdown, max_bytes=2048)
    assert len(full.encode()) > 2048 >= len(cut.encode())
    blocks = [line for line in cut.splitlines() if re.match(r"\d+\. ", line)]
    # every kept entry is whole (title with its link, then its reason), in order from the first
    for n, line in enumerate(blocks):
        assert line in full.splitlines() and line.startswith(f"{n + 1}. ")
        following = cut.splitlines()[cut.splitlines().index(line) + 1]
        assert following == "   - 您所在岗位的必修主题：廉洁从业"
    assert cut.splitlines()[-1] == f"……另有 {30 - len(blocks)} 项"


@pytest.mark.parametrize("url, why", [
    ("javascript:alert(1)", "must be an http:// or https:// link"),
    ("ftp://example.com/a", "must be an http:// or https:// link"),
    ("https://", "must be an http:// or https:// link with a host"),
    ("https://example.com/a b", "must not hold spaces"),
    ("https://example.com/" + "a" * 2100, "at most 2048 characters"),
    (42, "must be an http or https link as text"),
])
def test_a_bad_link_is_refused_naming_the_item_and_field(url, why):
    with pytest.raises(ValidationError, match=why) as err:
        Item.from_dict({"id": "a1", "title": "标题", "kind": "article", "minutes": 5, "published": "2026-12-01",
                        "url": url})
    assert (err.value.record, err.value.field) == ("a1", "url")


def test_the_link_round_trips_through_json():
    item = make_item("a1", "标题", url="HTTP://Example.com/x")
    assert Item.from_dict(item.to_dict()) == item and item.to_dict()["url"] == "HTTP://Example.com/x"
    assert make_item("a2", "标题").to_dict()["url"] is None
