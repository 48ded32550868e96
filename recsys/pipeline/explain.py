"""Reasons in plain Chinese, one function per kind of reason.

Kept apart from the ranking so the wording can be reviewed (and one day translated) in one place.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from recsys.records import TZ, Item

__all__ = [
    "required_topic", "related_to", "stated_interest", "branch_popular", "offline_upcoming",
    "offline_today", "fresh", "next_level", "birthday", "case_mix", "continue_started",
    "prepare_for", "role_start", "empty_budget", "empty_done", "empty_nothing", "cn_date", "enrolled",
    "review", "weak_topic", "mastered_next", "peers_also_studied", "role_popular", "book_title",
    "enrolled_today", "continuing", "hours_text",
]

#: Roles that say what a member is, not the post they hold: "您所在岗位（党员）" reads wrongly.
_STANDING = {"党员", "预备党员", "离退休党员", "青年党员"}


def cn_date(day: dt.date | dt.datetime) -> str:
    """``12月5日``."""
    return f"{day.month}月{day.day}日"


def hours_text(h: float) -> str:
    """Hours to one decimal, halves rounded up as people round them (四舍五入): 0.25 is 0.3 and
    12.25 is 12.3, where formatting the binary float gave 0.2 and 12.2 beside a 还差 worked
    out from the unrounded value."""
    text = str(Decimal(repr(float(h))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return "0.0" if text == "-0.0" else text


def number_text(v: float) -> str:
    """A number as a report writes it: no exponent, at most four decimals, no trailing zeros
    (1303830, 16.36, 0.9812), where ``:g`` wrote a subsidiary's yearly target as 1.30383e+06."""
    text = str(Decimal(repr(float(v))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _hours(h: float) -> str:
    return f"{h:.0f}" if h >= 9.5 or abs(h - round(h)) < 0.05 else hours_text(h)


def book_title(title: str) -> str:
    """A title in 书名号: 《…》, with a title inside it marked 〈…〉 as Chinese typesetting does
    (a title already wholly in 《》 is kept as it is)."""
    if title.startswith("《") and title.endswith("》") and title.count("《") == 1:
        return title
    return "《" + title.replace("《", "〈").replace("》", "〉") + "》"


def required_topic(role_name: str, topic: str, remaining: float) -> str:
    whose = f"作为{role_name}的必修主题" if role_name in _STANDING else f"您所在岗位（{role_name}）的必修主题"
    if remaining > 0.05:
        return f"{whose}：{topic}，本年度还差 {_hours(remaining)} 学时"
    return f"{whose}：{topic}"


def related_to(title: str, *, attended: bool = False) -> str:
    """"Related to what you studied lately"; an activity the member attended was taken part in,
    not studied."""
    return f"与您近期{'参加' if attended else '学习'}的{book_title(title)}相关"


def stated_interest(topic: str) -> str:
    return f"符合您关注的主题：{topic}"


def branch_popular() -> str:
    return "本支部党员近期完成较多"


def peers_also_studied(title: str | None) -> str:
    if title:
        return f"学过{book_title(title)}的同志也在学这一内容"
    return "与您学过的内容相关的同志也在学"


def role_popular(role_name: str) -> str:
    return f"同为{role_name}的同志常学的内容"


def _place(item: Item) -> str:
    return item.schedule.place if item.schedule else ""


def offline_upcoming(item: Item, seats_left: int | None) -> str:
    when = item.schedule.starts.astimezone(TZ)
    if seats_left == 0:  # filled since the list was made
        return f"{cn_date(when)}在{_place(item)}举行，名额已满"
    seats = f"（剩余 {seats_left} 个名额）" if seats_left is not None else ""
    return f"{cn_date(when)}在{_place(item)}举行，可报名{seats}"


def offline_today(item: Item) -> str:
    when = item.schedule.starts.astimezone(TZ)
    return f"今天 {when:%H:%M} 在{_place(item)}举行"


def enrolled_today(item: Item, day: dt.date | None = None) -> str:
    """An activity the member enrolled in, held on ``day`` (its first day by default)."""
    return f"您已报名，{_held(item, day)}在{_place(item)}举行（不计入今日学习时长）"


def continuing(item: Item, day: dt.date) -> str:
    """A later day of an activity of several days the member is at (a path planned it earlier)."""
    return f"{_held(item, day)}在{_place(item)}举行（不计入今日学习时长）"


def enrolled(item: Item, day: dt.date | None = None) -> str:
    """An activity the member enrolled in, in the list of ``day`` (a day it is held on) or ahead."""
    first, last = item.schedule.days
    if day is not None and first < day <= last:
        return f"您已报名，{_held(item, day)}在{_place(item)}举行"
    return f"您已报名，{cn_date(first)}参加"


def _held(item: Item, day: dt.date | None) -> str:
    """When an activity is held on ``day``: its start time on the first day, which of its days
    after (a course of three days is on its second day, not starting again at 08:30)."""
    first, last = item.schedule.days
    if day is None or day <= first:
        return f"今天 {item.schedule.starts.astimezone(TZ):%H:%M} "
    return f"今天是活动第 {(day - first).days + 1} 天（共 {(last - first).days + 1} 天），"


def fresh(item: Item) -> str:
    return f"最新{item.topics[0] if item.topics else ''}内容（{cn_date(item.published)}发布）"


def next_level(topic: str, level: int, *, planned: bool = False) -> str:
    """The next stage of a topic: after what the member studied, or in a path after what its
    earlier days plan (not yet studied, so not said to be)."""
    stages = {1: "入门", 2: "进阶", 3: "提高"}
    stage = stages.get(level, "进阶")
    if planned:
        return f"接着前几天安排的{topic}内容，这是{stage}内容"
    return f"您已学完{topic}的{stages.get(level - 1, '前一阶段')}内容，这是{stage}内容"


def birthday(joined: dt.date) -> str:
    return f"本周是您的入党纪念日（{cn_date(joined)}），过一次政治生日"


def case_mix(days: int) -> str:
    return f"近 {days} 天还没有学习案例，安排一个案例"


def continue_started() -> str:
    return "继续学习：您已开始但尚未完成"


def prepare_for(item: Item) -> str:
    return f"为{cn_date(item.schedule.starts.astimezone(TZ))}的{book_title(item.title)}做准备"


def role_start(role_name: str) -> str:
    return f"{role_name}的推荐学习内容"


def empty_budget(minutes: int, shortest: int) -> str:
    return f"今日可用时间（{minutes} 分钟）少于最短可学内容（{shortest} 分钟），如需调整每日学习时间，请联系党支部"


def empty_done() -> str:
    return "可学内容您已全部学完，新内容上线后会及时推荐"


def empty_nothing() -> str:
    return "今天暂时没有适合您的学习内容"


def review(title: str, score: float, days: int) -> str:
    return f"复习：{book_title(title)}上次答题得分 {score:.0%}，隔 {days} 天再练一次"


def weak_topic(topic: str) -> str:
    return f"巩固薄弱主题：{topic}（近期答题得分偏低，先学基础内容）"


def mastered_next(topic: str, level: int) -> str:
    names = {2: "进阶", 3: "提高"}
    return f"{topic}答题表现良好，进入{names.get(level, '进阶')}内容"
