"""The sample corpus: original Chinese learning content, sample members and a small history.

Files live in ``corpus/data``: ``items-*.jsonl`` (online items by theme, offline activities),
``members.jsonl``, ``events.jsonl`` and ``orgs.jsonl`` (the organisations' display names). Every
record is written for this project.
"""

from __future__ import annotations

from pathlib import Path

from recsys import Event, Item, Member, read_events, read_items, read_members
from recsys.ingest.loaders import read_records
from recsys.orgs import OrgName

__all__ = ["DATA", "EXTERNAL", "QUIZ_BANK", "item_files", "load_items", "load_members", "load_events",
           "load_org_names"]

DATA = Path(__file__).parent / "data"
#: Third-party data beside the project folder (``../shared/external``): read where it lies,
#: never copied in. Tests, the evaluation and the demo find it here.
EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
#: The real party-history question bank (1,486 questions with knowledge-point labels).
QUIZ_BANK = EXTERNAL / "dangshi_quiz" / "questions.json"


def item_files() -> list[Path]:
    """The item files, in a fixed order."""
    return sorted(DATA.glob("items-*.jsonl"))


def load_items() -> list[Item]:
    """Every sample item."""
    return [item for path in item_files() for item in read_items(path)]


def load_members() -> list[Member]:
    """The sample members."""
    return read_members(DATA / "members.jsonl")


def load_org_names() -> list[OrgName]:
    """The display names of the sample members' organisations."""
    return read_records(DATA / "orgs.jsonl", OrgName)


def load_events() -> list[Event]:
    """The sample event history."""
    path = DATA / "events.jsonl"
    return read_events(path) if path.exists() else []
