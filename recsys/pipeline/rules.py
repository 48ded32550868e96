"""The hard rules of a list (guarantees 1 and 3), in one readable place: :func:`infeasibility`."""

from __future__ import annotations

import datetime as dt

from recsys.curriculum import Curriculum
from recsys.learning.mastery import ReviewDue
from recsys.orgs import within
from recsys.pipeline.context import PlanContext
from recsys.records import TZ, Item, Member, city_key

__all__ = ["infeasibility", "unavailable", "enrolment_refusal", "due_review"]




def due_review(item: Item, ctx: PlanContext) -> ReviewDue | None:
    """The review of a completed quiz item that is due on ``ctx.day``, if any.

    The one sanctioned repeat of a completed item: a quiz scored below the review threshold,
    once its spaced interval has passed, not already placed earlier in the path, and only while
    the curriculum's ``mastery_feedback`` is on.
    """
    if not ctx.curriculum.mastery_feedback or item.id in ctx.planned:
        return None
    review = ctx.profile.reviews.get(item.id)
    return review if review is not None and review.due <= ctx.day else None


def unavailable(item: Item, member: Member, day: dt.date, curriculum: Curriculum) -> str | None:
    """Why no list may offer ``item`` to ``member`` on ``day`` whatever their history, or None:
    not yet published (``unpublished``), ``expired``, for roles they do not hold (``role``),
    owned by an organisation they are not in (``org``), or for situations they are not in
    (``situation``). Part of :func:`infeasibility`; also what a quiz answered, or an activity
    enrolled in, outside a list is held to."""
    if item.published > day:
        return "unpublished"
    if item.expires is not None and item.expires < day:
        return "expired"
    if item.roles and not set(item.roles) & set(member.roles):
        return "role"
    if item.org is not None and not within(member.org, item.org):
        return "org"
    situations = curriculum.item_situations(item)
    if situations and member.situation not in situations:
        return "situation"
    return None


def enrolment_refusal(item: Item, member: Member, at: dt.datetime, curriculum: Curriculum) -> str | None:
    """Why ``member`` may not take a seat in ``item`` at ``at``, seats aside, or None: ``online``
    (no activity), ``over``, ``begun`` (held on several days, after its first), ``offline`` (they
    do not attend offline activities), ``location``
    (another city), or a reason of :func:`unavailable` on that day, as lists hold it. What
    :meth:`recsys.Engine.enroll` refuses and an import of enrolments warns of."""
    s = item.schedule
    if s is None:
        return "online"
    if s.ends <= at:
        return "over"
    if at.astimezone(TZ).date() > s.days[0]:
        return "begun"  # a course of several days is joined on its first day, as lists offer it
    if not member.offline:
        return "offline"
    if member.location and s.city and city_key(member.location) != city_key(s.city):
        return "location"
    return unavailable(item, member, at.astimezone(TZ).date(), curriculum)


def infeasibility(item: Item, ctx: PlanContext, *, for_day: bool = True) -> str | None:
    """Why ``item`` cannot be in the member's list for ``ctx.day``, or None if it can.

    This is the one place the hard rules of a list live (guarantees 1 and 3); ``for_day=False``
    checks everything but the offline date (for search results and upcoming activities). A
    completed item is allowed back only as a review that is due (see :func:`due_review`).
    """
    m = ctx.profile.member
    h = ctx.profile.history
    day = ctx.day
    review = due_review(item, ctx) if item.id in h.completed else None
    if item.id in ctx.planned or item.id in ctx.held_back or (item.id in h.completed and review is None):
        return "completed"
    if item.id in h.disliked:
        return "disliked"
    cooldown = dt.timedelta(days=ctx.curriculum.cooldown_days)
    # A review is cooled down only by impressions and skips after the member last did the item.
    since = review.since if review is not None else None
    shown = h.shown.get(item.id)
    if shown is not None and (since is None or shown > since) and item.id not in h.started and day - shown < cooldown:
        return "cooldown"
    skipped = h.skipped.get(item.id)
    if skipped is not None and (since is None or skipped > since) and day - skipped < cooldown:
        return "cooldown"
    if (reason := unavailable(item, m, day, ctx.curriculum)) is not None:
        return reason
    done = ctx.done
    if any(r not in done for r in item.requires):
        return "prerequisite"
    if ctx.curriculum.is_birthday_item(item.title) and not ctx.curriculum.in_birthday_week(m, day):
        return "birthday"
    if item.mode == "offline":
        if not m.offline:
            return "offline"
        s = item.schedule
        if m.location and s.city and city_key(m.location) != city_key(s.city):
            return "location"
        if s.ends <= dt.datetime.combine(day, dt.time(), TZ):
            return "past"
        if for_day:
            first, last = s.days
            if not first <= day <= last:
                return "date"
            # A course of several days is joined on its first: after it, only those enrolled go on.
            if first < day and item.id not in h.enrolled:
                return "begun"
        if (
            s.capacity is not None
            and item.id not in h.enrolled
            and ctx.seats_taken.get(item.id, 0) >= s.capacity
        ):
            return "full"
    return None
