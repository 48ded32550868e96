"""The sample corpus: original Chinese learning content, sample members and a small history.

Files live in ``corpus/data``: ``items-*.jsonl`` (online items by theme, offline activities),
``members.jsonl`` and ``events.jsonl``. Every record is written for this project.
"""

from __future__ import annotations

from pathlib import Path

from recsys import Event, Item, Member, read_events, read_items, read_members

__all__ = ["DATA", "item_files", "load_items", "load_members", "load_events"]

DATA = Path(__file__).parent / "data"


def item_files() -> list[Path]:
    """The item files, in a fixed order."""
    return sorted(DATA.glob("items-*.jsonl"))


def load_items() -> list[Item]:
    """Every sample item."""
    return [item for path in item_files() for item in read_items(path)]


def load_members() -> list[Member]:
    """The sample members."""
    return read_members(DATA / "members.jsonl")


def load_events() -> list[Event]:
    """The sample event history."""
    path = DATA / "events.jsonl"
    return read_events(path) if path.exists() else []
