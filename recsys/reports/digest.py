"""A branch's daily digest for its group chat: what the branch is asked to study today, the
activities ahead with seats left, and how many members have a list.

A digest is read in a group, so it names no one and shows no one's hours: only items, counts of
members and activities. :func:`format_digest` renders it as text or as 企业微信 (WeCom) markdown
within a byte limit, dropping whole lines from the end of a section, never cutting one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.pipeline.explain import cn_date
from recsys.records import TZ, Item, Member
from recsys.serving.text import KIND_NAMES, fit_sections, linked_title, markdown_text

__all__ = ["Digest", "DigestItem", "DigestActivity", "build_digest", "format_digest", "wecom_message",
           "WECOM_MARKDOWN_BYTES", "WECOM_TEXT_BYTES"]

#: 企业微信 group bots refuse markdown content over 4,096 bytes (UTF-8), text over 2,048.
WECOM_MARKDOWN_BYTES = 4096
WECOM_TEXT_BYTES = 2048


@dataclass(frozen=True)
class DigestItem:
    """An item on the day's lists of the branch, and on how many."""

    item: Item
    members: int

    def to_dict(self) -> dict[str, Any]:
        it = self.item
        return {"id": it.id, "title": it.title, "kind": it.kind, "minutes": it.minutes, "members": self.members,
                "url": it.url}


@dataclass(frozen=True)
class DigestActivity:
    """An offline activity ahead that the branch's members may join.

    Attributes:
        audience: For whom it is, where not every member of the organisation may join
            (``支部书记、支委委员``); None where all may.
    """

    item: Item
    seats_left: int | None
    audience: str | None = None

    def to_dict(self) -> dict[str, Any]:
        it = self.item
        return {"id": it.id, "title": it.title, "starts": it.schedule.starts.isoformat(),
                "location": it.schedule.location, "seats_left": self.seats_left, "url": it.url,
                "audience": self.audience}


@dataclass(frozen=True)
class Digest:
    """One organisation's digest for a day.

    Attributes:
        org: The organisation (a branch, or any unit: then its branches together).
        day: The day.
        members: Members of the organisation.
        with_list: Of them, how many have a list for the day with something in it.
        empty: Of them, how many were given an empty list (nothing open fits their day).
        items: The items of the day's lists, most members first.
        activities: Offline activities of the coming days, soonest first.
        org_name: What the group calls the organisation (its display name), or None for its code.
    """

    org: str
    day: dt.date
    members: int
    with_list: int
    items: list[DigestItem]
    activities: list[DigestActivity]
    org_name: str | None = None
    empty: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "org_name": self.org_name or self.org, "day": self.day.isoformat(), "members": self.members,
                "with_list": self.with_list, "empty": self.empty,
                "items": [i.to_dict() for i in self.items], "activities": [a.to_dict() for a in self.activities]}


def build_digest(
    org: str,
    day: dt.date,
    members: Sequence[Member],
    served: Iterable[tuple[str, dt.date, list[str]]],
    items: Mapping[str, Item],
    seats_taken: Mapping[str, int],
    *,
    ahead_days: int = 14,
    org_name: str | None = None,
    now: dt.datetime | None = None,
    audiences: Mapping[str, str] | None = None,
) -> Digest:
    """The digest of ``org`` on ``day``.

    Args:
        members: The organisation's members.
        served: Lists served ``(member, day, item ids)``; those of other members or days are ignored.
        items: The items the organisation can see, by id.
        seats_taken: Enrolments per offline item.
        ahead_days: How far ahead activities are listed.
        org_name: The organisation's display name, if it has one.
        now: Activities over by then are left out (nobody can enrol in them any more).
        audiences: For whom an activity is, by id, where not every member may join it.
    """
    ids = {m.id for m in members}
    counts: Counter[str] = Counter()
    listed: set[str] = set()
    studying: set[str] = set()  # given something to study: an empty list is no list to the branch
    for member, served_day, item_ids in served:
        if member in ids and served_day == day and member not in listed:
            listed.add(member)  # a member asked twice (two budgets) counts once
            counts.update(i for i in dict.fromkeys(item_ids) if i in items)
        if member in ids and served_day == day and item_ids:
            studying.add(member)
    # An activity whose seats have all been taken since the lists were made is not recommended to
    # the group (those enrolled have it on their own lists).
    ranked = sorted(((i, n) for i, n in counts.items() if not _full(items[i], seats_taken)),
                    key=lambda kv: (-kv[1], kv[0]))
    last = day + dt.timedelta(days=ahead_days)
    # Days and times as the members live them: an activity entered in UTC is still on Beijing's day.
    ahead = sorted((it for it in items.values() if it.schedule is not None
                    and day <= it.schedule.starts.astimezone(TZ).date() <= last
                    and (now is None or it.schedule.ends > now)), key=lambda it: (it.schedule.starts, it.id))
    activities = [DigestActivity(it, None if it.schedule.capacity is None
                                 else max(it.schedule.capacity - seats_taken.get(it.id, 0), 0),
                                 (audiences or {}).get(it.id)) for it in ahead]
    return Digest(org, day, len(ids), len(studying), [DigestItem(items[i], n) for i, n in ranked],
                  [a for a in activities if a.seats_left != 0], org_name, empty=len(listed - studying))


def _full(item: Item, seats_taken: Mapping[str, int]) -> bool:
    s = item.schedule
    return s is not None and s.capacity is not None and seats_taken.get(item.id, 0) >= s.capacity


def format_digest(digest: Digest, *, name: str | None = None, markdown: bool = False,
                  max_bytes: int | None = None) -> str:
    """The digest as a message: text, or 企业微信 markdown.

    Args:
        name: How to call the organisation (default: its display name, else its code).
        markdown: 企业微信 group-bot markdown (bold headings, quoted activities).
        max_bytes: Keep the message within this many UTF-8 bytes by leaving out the last lines
            of each section (a line saying how many were left out takes their place).
    """
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: f"【{s}】")
    head = [bold(f"{name or digest.org_name or digest.org} · {digest.day.month}月{digest.day.day}日学习提示"),
            f"今日已为 {digest.with_list}/{digest.members} 名党员生成学习清单"
            + (f"，另有 {digest.empty} 名党员今日暂无可学内容。" if digest.empty else "。")]
    studies = [f"{n}. {linked_title(d.item, markdown=markdown)} {d.item.minutes}分钟 · {KIND_NAMES.get(d.item.kind, d.item.kind)}"
               f"（{d.members}人）" for n, d in enumerate(digest.items, start=1)]
    quote = "> " if markdown else "· "
    place = markdown_text if markdown else str
    events = [f"{quote}{cn_date(starts)} {starts:%H:%M} {place(a.item.schedule.location)}{linked_title(a.item, markdown=markdown)}"
              + ("" if a.audience is None else f"（面向{a.audience}）")
              + ("" if a.seats_left is None else f"，剩余 {a.seats_left} 个名额")
              for a in digest.activities for starts in [a.item.schedule.starts.astimezone(TZ)]]
    sections = [(bold("今日推荐学习"), studies or ["今日暂无已生成的学习清单。"]),
                (bold("近期活动（可报名）"), events or ["近两周暂无可报名的线下活动。"])]
    return fit_sections(head, sections, max_bytes)


def wecom_message(digest: Digest, *, name: str | None = None, max_bytes: int = WECOM_MARKDOWN_BYTES) -> dict[str, Any]:
    """The digest as a 企业微信 group-bot message (``msgtype`` markdown), within the bot's limit."""
    return {"msgtype": "markdown", "markdown": {"content": format_digest(digest, name=name, markdown=True,
                                                                          max_bytes=max_bytes)}}

