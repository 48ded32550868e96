"""``recsys demo``: load the sample corpus and show what the engine does, in Chinese.

Re-running is cheap: unchanged items are not embedded again and events are idempotent on id.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

from corpus import load_events, load_items, load_members
from recsys import Engine, StudyList
from recsys.records import TZ
from recsys.text import format_list

__all__ = ["run_demo", "print_list"]

#: Members shown: a secretary, a frontline worker, an infirm retiree, a mobile member, a probationer.
SHOWN = ("m001", "m003", "m018", "m006", "m005")
QUERIES = ("有限空间作业安全", "遵义会议的历史意义", "违反中央八项规定精神的典型案例", "如何开好组织生活会")


def print_list(lst: StudyList, *, indent: str = "  ") -> None:
    """Print a study list with minutes and reasons."""
    print(format_list(lst, indent=indent))


_SITUATION = {"regular": "", "mobile": "（流动党员）", "infirm": "（年老体弱）"}


def run_demo(store: str | Path, *, encoder: str | None = None, day: dt.date | None = None) -> None:
    """Load the sample corpus into ``store`` and print search, similar items, lists and a path."""
    day = day or dt.datetime.now(TZ).date()
    started = time.perf_counter()
    with Engine.open(store, encoder=encoder) as engine:
        items = load_items()
        engine.add_items(items, progress=sys.stderr.isatty())
        engine.upsert_members(load_members())
        added = engine.record(load_events())
        stats = engine.stats()
        print(f"样例库：{stats['items']} 条内容，{stats['members']} 名党员，{stats['events']} 条学习记录"
              f"（本次新增 {added} 条）；编码器 {stats['encoder']}；用时 {time.perf_counter() - started:.1f} 秒\n")

        print("== 搜索 ==")
        for q in QUERIES:
            print(f"「{q}」")
            for h in engine.search(q, k=3):
                print(f"  {h.score:.3f} 《{h.item.title}》 [{h.item.id}]")
        print()

        print("== 相似内容 ==")
        for item_id in ("bus-008", "his-007", "dsc-007"):
            base = engine.item(item_id)
            print(f"与《{base.title}》相似：")
            for h in engine.similar(item_id, k=3):
                print(f"  {h.score:.3f} 《{h.item.title}》 [{h.item.id}]")
        print()

        print(f"== 每日学习清单（{day}）==")
        for member_id in SHOWN:
            m = engine.member(member_id)
            roles = "、".join(engine.curriculum.role_name(r) for r in m.roles)
            print(f"{m.name}{_SITUATION[m.situation]} · {roles} · 每天 {m.daily_minutes} 分钟")
            print_list(engine.daily(member_id, day=day))
        print()

        member = engine.member(SHOWN[0])
        print(f"== {member.name}的 7 天学习路径（每天 60 分钟）==")
        path = engine.path(member.id, start=day, days=7, minutes=60)
        for lst in path.days:
            print_list(lst)
        print()

        print("== 内容覆盖概况 ==")
        supply: Counter = Counter()
        for it in engine.items():
            for topic in it.topics[:1]:
                supply[(topic, it.mode)] += it.minutes
        topics = sorted({t for t, _ in supply})
        for topic in topics:
            on, off = supply[(topic, "online")] / 60, supply[(topic, "offline")] / 60
            print(f"  {topic:<8} 线上 {on:5.1f} 学时 · 线下 {off:5.1f} 学时")
        print(f"\n共用时 {time.perf_counter() - started:.1f} 秒")
