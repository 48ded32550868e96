"""What in valid events is probably a mistake once the store is read: attendance dated before its
activity, and enrolments past an activity's seats.

A file of events is valid row by row (:mod:`recsys.ingest.loaders`); these need the catalogue
and what members did before, so the command line and the HTTP service ask them of the store
before writing, and give them as warnings (errors with ``--strict``/``strict=true``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recsys.ingest.loaders import InputWarning
from recsys.pipeline.explain import book_title
from recsys.records import TZ, Event, Item
from recsys.storage.base import Store

__all__ = ["event_warnings"]


def event_warnings(events: Sequence[Event], lines: Sequence[int], *, items: Mapping[str, Item], store: Store,
                   source: str | None = None) -> list[InputWarning]:
    """Warnings about ``events`` (at ``lines`` of ``source``) given the catalogue's ``items`` and
    the members' records in ``store``, in line order."""
    found = _early(events, lines, items, source) + _past_capacity(events, lines, items, store, source)
    return sorted(found, key=lambda w: w.line or 0)


def _early(events: Sequence[Event], lines: Sequence[int], items: Mapping[str, Item],
           source: str | None) -> list[InputWarning]:
    """An activity attended (or completed) on a day before it was held: a slip in the date of an
    export, which would credit its hours to the wrong month, or year."""
    found = []
    for e, line in zip(events, lines):
        it = items.get(e.item)
        if (e.kind in ("attend", "complete") and it is not None and it.schedule is not None
                and e.at.astimezone(TZ).date() < (starts := it.schedule.starts.astimezone(TZ)).date()):
            found.append(InputWarning(
                f"参加时间 {e.at.astimezone(TZ):%Y-%m-%d %H:%M} 早于活动开始时间 {starts:%Y-%m-%d %H:%M}，"
                "学时会记在这一天，请核对日期", source=source, line=line, field="at"))
    return found


def _past_capacity(events: Sequence[Event], lines: Sequence[int], items: Mapping[str, Item], store: Store,
                   source: str | None) -> list[InputWarning]:
    """Activities that would hold more enrolled members than their seats once ``events`` are
    written: an export of a sign-up sheet kept open past the limit, or an activity's capacity
    entered too low. Written, every one enrolled keeps the activity on the day's list (a seat
    taken is never taken back) and nobody else is offered it; said here, where the organiser can
    still choose. One warning per activity, at the file's first enrolment in it."""
    limited = {e.item for e in events if e.kind == "enroll" and (it := items.get(e.item)) is not None
               and it.schedule is not None and it.schedule.capacity is not None}
    if not limited:
        return []
    ours = [(e, line) for e, line in zip(events, lines) if e.kind == "enroll" and e.item in limited]
    members = sorted({e.member for e, _ in ours})
    stored: dict[tuple[str, str], list[Event]] = {}  # (member, activity) -> its enrolment events, as recorded
    for member, history in store.histories(members).items():
        for e in history.events:
            if e.kind == "enroll" and e.item in limited:
                stored.setdefault((member, e.item), []).append(e)
    taken = dict(store.enrolments(sorted(limited)))
    first_line: dict[str, int] = {}
    given: dict[tuple[str, str], list[Event]] = {}
    for e, line in ours:
        first_line.setdefault(e.item, line)
        given.setdefault((e.member, e.item), []).append(e)
    for key, new in given.items():
        before = stored.get(key, [])
        known = {e.id for e in before}
        after = before + [e for e in new if e.id not in known]  # a retried file changes nothing
        # The latest enrolment event decides, as the store counts seats; a file's event after the
        # stored ones at the same instant (it is recorded later).
        taken[key[1]] = taken.get(key[1], 0) - _holds(before) + _holds(after)
    found = []
    for item in sorted(limited, key=first_line.__getitem__):
        capacity = items[item].schedule.capacity
        if taken.get(item, 0) > capacity:
            found.append(InputWarning(
                f"活动{book_title(items[item].title)}（{item}）限 {capacity} 人，本次导入后报名 {taken[item]} 人，超出 {taken[item] - capacity} 人："
                "已报名的党员都会在活动当天的学习清单中看到它，请核对报名名单，或在内容库中调整名额",
                source=source, line=first_line[item], field="item"))
    return found


def _holds(events: list[Event]) -> int:
    """1 if the latest of a member's enrolment events in an activity holds a seat (not a
    withdrawal, value 0), else 0."""
    if not events:
        return 0
    latest = max(enumerate(events), key=lambda p: (p[1].at, p[0]))[1]
    return int(latest.value != 0)
