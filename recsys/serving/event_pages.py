"""A member's events one page at a time, in time order: what an audit reads.

A page is asked for by ``offset`` (simple, but it shifts if events are recorded meanwhile) or by
the ``cursor`` the page before handed back: it names the time of the last event returned and how
many events of that same time were returned, so later pages neither repeat nor skip events
recorded after the first page, as long as those happened later (which is how events arrive).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recsys.exceptions import ValidationError
from recsys.records import Event

__all__ = ["EventPage", "page_of_events", "MAX_EVENT_PAGE"]

#: Largest page served: an audit of a busy member pages through thousands of events.
MAX_EVENT_PAGE = 1000


@dataclass(frozen=True)
class EventPage:
    """A page of one member's events.

    Attributes:
        member: The member.
        events: The events of the page, in time order (ties in the order recorded).
        total: How many events the member has.
        offset: Position of the page's first event among them.
        next_cursor: What to pass for the next page, or None if this page is the last.
    """

    member: str
    events: list[Event]
    total: int
    offset: int
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "events": [e.to_dict() for e in self.events], "total": self.total,
                "offset": self.offset, "next_cursor": self.next_cursor}


def page_of_events(member: str, events: Sequence[Event], *, limit: int = 100, offset: int = 0,
                   cursor: str | None = None) -> EventPage:
    """The page of ``events`` (one member's, in time order) after ``cursor``, else from ``offset``.

    Raises:
        ValidationError: ``limit`` is outside 1-:data:`MAX_EVENT_PAGE`, ``offset`` is negative,
            both ``offset`` and ``cursor`` are given, or the cursor is not one this function made.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_EVENT_PAGE:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_EVENT_PAGE}, got {limit!r}", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be a whole number from 0, got {offset!r}", field="offset")
    if cursor is not None:
        if offset:
            raise ValidationError("give either offset or cursor, not both", field="cursor")
        offset = _after(events, *_read_cursor(cursor))
    page = list(events[offset:offset + limit])
    end = offset + len(page)
    return EventPage(member, page, len(events), offset, _cursor(events, end) if end < len(events) else None)


def _cursor(events: Sequence[Event], end: int) -> str:
    last = events[end - 1].at
    same = sum(1 for e in events[:end] if e.at == last)
    text = json.dumps([last.isoformat(), same], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        at, same = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None or isinstance(same, bool) or not isinstance(same, int) or same < 1:
            raise ValueError
        return when, same
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(f"cursor {cursor[:40]!r} is not one a page of events handed back; "
                              "start again without it", field="cursor") from None


def _after(events: Sequence[Event], last: dt.datetime, same: int) -> int:
    """Position of the first event after the ``same``-th event at ``last``."""
    for n, e in enumerate(events):
        if e.at > last:
            return n
        if e.at == last:
            same -= 1
            if same < 0:
                return n
    return len(events)
