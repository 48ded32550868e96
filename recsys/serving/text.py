"""Plain-text renderings of study lists and paths, in Chinese: for the terminal and for portals
that push a day's list to a WeChat or QQ group."""

from __future__ import annotations

from recsys.results import StudyList, StudyPath

__all__ = ["format_list", "format_path", "KIND_NAMES"]

KIND_NAMES = {
    "lecture": "讲座", "video": "视频", "article": "文章", "case": "案例", "quiz": "答题",
    "discussion": "讨论", "activity": "线下活动",
}


def format_list(lst: StudyList, *, title: str | None = None, indent: str = "") -> str:
    """A study list as lines of text: each entry with its minutes, kind, place and reasons."""
    lines = [f"{indent}{title or lst.day.isoformat()} · 共 {lst.minutes}/{lst.budget} 分钟"]
    for n, e in enumerate(lst.entries, start=1):
        it = e.item
        where = f" · {it.schedule.location}" if it.schedule else ""
        lines.append(f"{indent}{n}. 《{it.title}》 {it.minutes}分钟 · {KIND_NAMES.get(it.kind, it.kind)}{where}")
        lines.extend(f"{indent}   - {r}" for r in e.reasons)
    for e in lst.upcoming:
        lines.append(f"{indent}◇ 近期活动：《{e.item.title}》 — {e.reasons[0]}")
    lines.extend(f"{indent}※ {note}" for note in lst.notes)
    return "\n".join(lines)


def format_path(path: StudyPath, *, indent: str = "") -> str:
    """A study path, one block a day."""
    return "\n".join(format_list(day, indent=indent) for day in path.days)
