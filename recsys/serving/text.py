"""Plain-text and markdown renderings of study lists and paths, in Chinese: for the terminal and
for portals that push a day's list to a WeChat, QQ or 企业微信 group.

Messages pushed to a group have a byte limit (企业微信 group bots refuse text over 2,048 bytes
and markdown over 4,096): :func:`fit_sections` keeps a message within one by leaving out whole
entries, never cutting one, and says how many it left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from recsys.pipeline.explain import book_title
from recsys.records import Item
from recsys.results import StudyList, StudyPath

__all__ = ["format_list", "format_path", "linked_title", "markdown_text", "fit_sections", "KIND_NAMES"]

KIND_NAMES = {
    "lecture": "讲座", "video": "视频", "article": "文章", "case": "案例", "quiz": "答题",
    "discussion": "讨论", "activity": "线下活动",
}

# What markdown reads as markup in a title or a place: brackets would end a link early, ``**`` make
# bold, ``<font color="warning">`` colour, ``_`` and backquotes italics and code. Full-width ones
# read the same in Chinese, and the group sees the title as the editor typed it.
_MARKDOWN_TITLE = str.maketrans({"[": "［", "]": "］", "*": "＊", "<": "＜", ">": "＞", "_": "＿", "`": "｀"})


def markdown_text(text: str) -> str:
    """``text`` to show as it is in a markdown message (see :data:`_MARKDOWN_TITLE`)."""
    return text.translate(_MARKDOWN_TITLE)
# A bracket in a link would end it early; percent-encoding keeps the address the same page.
_MARKDOWN_URL = str.maketrans({"(": "%28", ")": "%29", "<": "%3C", ">": "%3E"})


def linked_title(item: Item, *, markdown: bool = False) -> str:
    """The item's title as a message shows it, linked to its page when it has one: ``[标题](url)``
    in markdown; in text ``《标题》`` followed by the address (chat clients make it a link)."""
    if markdown:
        title = markdown_text(item.title)
        return f"[{title}]({item.url.translate(_MARKDOWN_URL)})" if item.url else book_title(title)
    return f"{book_title(item.title)} {item.url}" if item.url else book_title(item.title)


def fit_sections(head: Sequence[str], sections: Sequence[tuple[str | None, Sequence[str]]],
                 max_bytes: int | None, *, separate: bool = True) -> str:
    """Lines of a message within ``max_bytes`` UTF-8 bytes, leaving out whole blocks.

    Args:
        head: Lines always kept.
        sections: ``(heading, blocks)``: a heading (or None) and its blocks, each one or more
            lines that are kept or left out together, most important first.
        max_bytes: The limit, or None for none.
        separate: Put a blank line before each section.

    Returns:
        The message. The longest section is shortened first, from its end, one block at a time;
        a line saying how many blocks were left out takes their place. If the head alone is over
        the limit, every block is left out and the head is returned as it is.
    """
    def text(kept: list[int]) -> str:
        lines = list(head)
        for (heading, blocks), k in zip(sections, kept):
            if not blocks:
                continue
            lines += ([""] if separate else []) + ([heading] if heading else []) + list(blocks[:k])
            if k < len(blocks):
                lines.append(f"……另有 {len(blocks) - k} 项")
        return "\n".join(lines)

    kept = [len(blocks) for _, blocks in sections]
    while max_bytes is not None and len(text(kept).encode("utf-8")) > max_bytes and any(kept):
        longest = max(range(len(kept)), key=lambda n: kept[n])
        kept[longest] -= 1
    return text(kept)


def format_list(lst: StudyList, *, title: str | None = None, indent: str = "", markdown: bool = False,
                max_bytes: int | None = None) -> str:
    """A study list as a message: each entry with its minutes, kind, place, link and reasons.

    Args:
        title: The first line (default: the day).
        indent: Put before every line (for a path's days).
        markdown: 企业微信 markdown: a bold first line and titles as ``[标题](url)`` links.
        max_bytes: Keep the message within this many UTF-8 bytes by leaving out whole entries
            from the end (a line says how many); an entry is never cut.
    """
    head = f"{title or lst.day.isoformat()} · 共 {lst.minutes}/{lst.budget} 分钟"
    entries = []
    for n, e in enumerate(lst.entries, start=1):
        it = e.item
        where = f" · {it.schedule.location}" if it.schedule else ""
        entries.append("\n".join([
            f"{indent}{n}. {linked_title(it, markdown=markdown)} {it.minutes}分钟 · {KIND_NAMES.get(it.kind, it.kind)}{where}",
            *(f"{indent}   - {r}" for r in e.reasons),
        ]))
    upcoming = [f"{indent}◇ 近期活动：{linked_title(e.item, markdown=markdown)} — {e.reasons[0]}" for e in lst.upcoming]
    notes = [f"{indent}※ {note}" for note in lst.notes]
    return fit_sections([f"{indent}**{head}**" if markdown else f"{indent}{head}"],
                        [(None, entries), (None, upcoming), (None, notes)], max_bytes, separate=False)


def format_path(path: StudyPath, *, indent: str = "") -> str:
    """A study path, one block a day."""
    return "\n".join(format_list(day, indent=indent) for day in path.days)
