"""What a member's own page shows, and enrolment in activities from it.

The page (``GET /m`` of the service, the portal widget, ``recsys page MEMBER --html``) shows one
document: the day's list as served (stored, impressions recorded, so the page and a pushed list
agree), the activities ahead with the seats left and whether the member holds one, the year's
hours against the target with the pace, points, and quizzes due for review.

Enrolling checks what recording an ``enroll`` event alone does not: the activity has seats left,
has not ended, and the member can attend offline activities. Withdrawing records an ``enroll``
event with value 0, which gives the seat back (see :meth:`recsys.storage.Store.enrolments`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from recsys.exceptions import ConflictError, NotFoundError, ValidationError
from recsys.pipeline.rules import enrolment_refusal
from recsys.records import TZ, Event, Item, Member
from recsys.reports.progress import MemberProgress
from recsys.results import StudyEntry, StudyList
from recsys.serving.world import World, enrolled_in

__all__ = ["member_page", "enroll", "withdraw"]

_KIND_NAMES = {"lecture": "讲座", "video": "视频课程", "article": "文章", "case": "案例", "quiz": "答题",
               "discussion": "线上讨论", "activity": "线下活动"}
_STATUS_NAMES = {"ahead": "进度超前", "on_pace": "进度正常", "behind": "进度落后", "no_target": "无学时要求"}


def _item(item: Item) -> dict[str, Any]:
    # The text too: an item without a link in the portal is read on the page itself.
    out = {"id": item.id, "title": item.title, "kind": item.kind, "kind_name": _KIND_NAMES.get(item.kind, item.kind),
           "mode": item.mode, "minutes": item.minutes, "topics": list(item.topics), "url": item.url,
           "body": item.body}
    if item.questions:
        # To answer on the page; the answers stay on the server (Engine.answer_quiz scores them).
        out["questions"] = [{"id": q.id, "type": q.kind, "question": q.text,
                             "options": [{"key": k, "text": t} for k, t in q.options]} for q in item.questions]
    if item.schedule is not None:
        s = item.schedule
        out["schedule"] = {"starts": s.starts.astimezone(TZ).isoformat(), "ends": s.ends.astimezone(TZ).isoformat(),
                           "location": s.location, "capacity": s.capacity}
    return out


def _entry(entry: StudyEntry) -> dict[str, Any]:
    return {"item": _item(entry.item), "reasons": list(entry.reasons), "review": entry.review}


def member_page(
    member: Member,
    today: StudyList,
    progress: MemberProgress,
    catalogue: Mapping[str, Item],
    seats_taken: Mapping[str, int],
    events: Sequence[Event],
    org_name: str | None = None,
) -> dict[str, Any]:
    """The page's document (JSON-ready).

    Args:
        member: The member.
        today: The day's list as served.
        progress: The member's progress on the same day.
        catalogue: Items by id (for the titles of reviews).
        seats_taken: Members holding a seat, by activity id.
        events: The member's events (for the activities they hold a seat in).
        org_name: The branch's display name, if known.

    Returns:
        ``member``, ``day``, ``budget``, ``minutes``, ``studied`` (minutes of the items completed
        or activities attended that day: the page says the day's study is done once they reach
        the budget, while the list still offers more), ``entries``, ``upcoming`` (each with
        ``seats_left`` and ``enrolled``), ``notes``, ``hours``, ``points``, ``reviews``.
    """
    holding = enrolled_in(events)
    upcoming = []
    for entry in today.upcoming:
        out = _entry(entry)
        capacity = entry.item.schedule.capacity if entry.item.schedule else None
        taken = seats_taken.get(entry.item.id, 0)
        out["seats_left"] = None if capacity is None else max(capacity - taken, 0)
        out["enrolled"] = entry.item.id in holding
        upcoming.append(out)
    hours = progress.hours
    reviews = [{"item": r.item, "title": catalogue[r.item].title if r.item in catalogue else r.item,
                "due": r.due.isoformat(), "due_now": r.due <= today.day}
               for r in progress.reviews]
    return {
        "member": {"id": member.id, "name": member.name, "org": member.org, "org_name": org_name or member.org},
        "day": today.day.isoformat(),
        "budget": today.budget,
        "minutes": today.minutes,
        "studied": studied_on(events, catalogue, today.day),
        "entries": [_entry(e) for e in today.entries],
        "upcoming": upcoming,
        "notes": list(today.notes),
        "hours": {"year": hours.day.year, "hours": round(hours.total, 1), "target": hours.target,
                  "expected": None if hours.expected is None else round(hours.expected, 1),
                  "pace": None if hours.pace is None else round(hours.pace, 1),
                  "status": hours.status, "status_name": _STATUS_NAMES.get(hours.status, hours.status)},
        "points": round(progress.points.total, 1),
        "reviews": reviews,
    }


def studied_on(events: Sequence[Event], catalogue: Mapping[str, Item], day: dt.date) -> int:
    """Minutes of the items the member completed, and the activities they attended, on ``day``
    (Beijing time), each item once."""
    done = {e.item for e in events if e.kind in ("complete", "attend") and e.at.astimezone(TZ).date() == day}
    return sum(catalogue[i].minutes for i in done if i in catalogue)


def _now() -> dt.datetime:
    return dt.datetime.now(TZ)


def enroll(world: World, member: Member, item: Item, at: dt.datetime | None = None) -> bool:
    """Take a seat in an offline activity for the member.

    Returns:
        True if a seat was taken now, False if the member already held one.

    Raises:
        ValidationError: the item is not an offline activity.
        NotFoundError: the activity is another unit's (below the member's) or not yet announced:
            not one the member's lists could show.
        ConflictError: the activity is full, over or expired, meant for roles or situations not
            the member's, or the member does not attend offline activities (the message says which).
    """
    at = at or _now()
    schedule = item.schedule
    if schedule is None:
        raise ValidationError(f"item {item.id!r} is not an offline activity with a schedule; only those take enrolments",
                              field="item")
    # Seats are counted and taken as one step (a removal meanwhile, in any process, makes the
    # store refuse the enrolment).
    with world.write_lock:
        _still_held(world, member)
        if item.id in enrolled_in(world.store.events(member.id)):
            return False
        # The rules lists keep (rules.enrolment_refusal): an activity for branch secretaries, in
        # another city, or for mobile members, is not offered to others; another unit's, or one
        # not yet announced, is not there for the member at all.
        reason = enrolment_refusal(item, member, at, world.curriculum)
        if reason in ("org", "unpublished"):
            raise NotFoundError("item", item.id)
        if reason is not None:
            raise ConflictError(_refused(reason, item, member, world))
        taken = world.store.enrolments([item.id]).get(item.id, 0)
        if schedule.capacity is not None and taken >= schedule.capacity:
            raise ConflictError(f"activity {item.id!r} is full: all {schedule.capacity} seats are taken")
        _enrolment(world, member, Event(id=None, member=member.id, item=item.id, kind="enroll", value=1.0, at=at))
    return True


def _refused(reason: str, item: Item, member: Member, world: World) -> str:
    """Why an enrolment is refused, for the caller (see :func:`enrolment_refusal`)."""
    s = item.schedule
    return {
        "over": lambda: f"activity {item.id!r} is over (it ended {s.ends.astimezone(TZ):%Y-%m-%d %H:%M})",
        "begun": lambda: f"activity {item.id!r} began on {s.days[0].isoformat()}: an activity of several days "
                         "is joined on its first day",
        "offline": lambda: f"member {member.id!r} does not attend offline activities (offline: false); "
                           "offer them online study instead",
        "location": lambda: f"activity {item.id!r} is held in {s.city}; member {member.id!r} is in {member.location} "
                            "(a member who moved: update their location first)",
        "role": lambda: f"activity {item.id!r} is for members holding {', '.join(item.roles)}; "
                        f"member {member.id!r} holds {', '.join(member.roles)}",
        "situation": lambda: f"activity {item.id!r} is meant for members whose situation is "
                             f"{'、'.join(sorted(world.curriculum.item_situations(item)))}; member {member.id!r} is "
                             f"{member.situation}",
        "expired": lambda: f"activity {item.id!r} is no longer offered (it expired on {item.expires.isoformat()})",
    }[reason]()


def _enrolment(world: World, member: Member, event: Event) -> None:
    """Record an enrolment or a withdrawal; the member removed meanwhile by another process is
    not found, as one removed before (the store checks in its writing transaction)."""
    try:
        world.store.record_events([event])
    except ValidationError as exc:
        if exc.field == "member":
            raise NotFoundError("member", member.id) from None
        raise


def _still_held(world: World, member: Member) -> None:
    """Raise NotFoundError if the member was removed since read."""
    if not world.store.member_ids([member.id]):
        raise NotFoundError("member", member.id)


def withdraw(world: World, member: Member, item: Item, at: dt.datetime | None = None) -> bool:
    """Give the member's seat in an activity back.

    Returns:
        True if a seat was given back, False if the member held none.
    """
    with world.write_lock:
        _still_held(world, member)
        if item.id not in enrolled_in(world.store.events(member.id)):
            return False
        _enrolment(world, member, Event(id=None, member=member.id, item=item.id, kind="enroll", value=0.0,
                                        at=at or _now()))
    return True
