"""``recsys demo``: load the sample corpus and show what the engine does, in Chinese.

Re-running is cheap: unchanged items are not embedded again and events are idempotent on id.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

from corpus import QUIZ_BANK, load_events, load_items, load_members, load_org_names
from recsys import Engine, StudyList
from recsys.reports.coverage import format_coverage
from recsys.reports.progress import format_member_progress, format_org_progress
from recsys.ingest.quizbank import quiz_items, read_question_bank
from recsys.records import TZ
from recsys.serving.text import format_list

__all__ = ["run_demo", "print_list"]

#: Members shown: a secretary, a frontline worker, an infirm retiree, a mobile member, a probationer.
SHOWN = ("m001", "m003", "m018", "m006", "m005")
QUERIES = ("有限空间作业安全", "遵义会议的历史意义", "违反中央八项规定精神的典型案例", "如何开好组织生活会")


def print_list(lst: StudyList, *, indent: str = "  ") -> None:
    """Print a study list with minutes and reasons."""
    print(format_list(lst, indent=indent))


_SITUATION = {"regular": "", "mobile": "（流动党员）", "infirm": "（年老体弱）"}


def quiz_bank_path() -> Path | None:
    """The party-history question bank: ``$RECSYS_QUIZ_BANK``, else the shared copy beside the
    project (``../shared/external/dangshi_quiz/questions.json``); None if neither exists."""
    env = os.environ.get("RECSYS_QUIZ_BANK")
    path = Path(env) if env else QUIZ_BANK
    return path if path.is_file() else None


def run_demo(store: str | Path, *, encoder: str | None = None, day: dt.date | None = None) -> None:
    """Load the sample corpus into ``store`` and print search, similar items, lists and a path."""
    day = day or dt.datetime.now(TZ).date()
    started = time.perf_counter()
    with Engine.open(store, encoder=encoder) as engine:
        items = load_items()
        bank = quiz_bank_path()
        if bank is not None:
            # Quizzes from the real question bank, read where it lies (never copied in).
            items = list(items) + quiz_items(read_question_bank(bank), published=dt.date(2026, 1, 1), prefix="dsq")
        engine.add_items(items, progress=sys.stderr.isatty())
        engine.upsert_members(load_members())
        engine.set_org_names(load_org_names())
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

        print("== 学习档案：学时、积分与掌握度（recsys progress MEMBER | --org ORG）==")
        if bank is not None:
            quizzes = sum(1 for it in items if it.id.startswith("dsq-"))
            print(f"题库答题：{quizzes} 组，来自 {bank.name}（按知识点分组，按错误率定难度）")
        print(format_member_progress(engine.progress(member.id, day=day), engine.catalogue(), engine.org_names()))
        org = member.org.split(".")[0]
        print(format_org_progress(engine.org_progress(org, day=day)))
        alerts = engine.alerts(org, day=day)
        counts = {k: sum(a.kind == k for a in alerts) for k in ("behind_pace", "inactive", "mobile_no_contact", "no_themed_day")}
        print(f"提醒：学时落后 {counts['behind_pace']} 人，30 天未学习 {counts['inactive']} 人，"
              f"流动党员 6 个月未联系 {counts['mobile_no_contact']} 人，本月未开展主题党日的支部 {counts['no_themed_day']} 个")
        flags = engine.content_feedback(org)
        print(f"内容反馈：{len(flags)} 条（完成率低、跳过率高或评分低，按岗位）")
        print()

        print("== 内容覆盖概况（完整报告：recsys coverage --html report.html）==")
        print(format_coverage(engine.coverage(day=day), limit=3))
        print(f"\n共用时 {time.perf_counter() - started:.1f} 秒")
