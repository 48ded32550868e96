"""Daily lists, study paths and rankings for one member: each request reads what it needs once.

A day's first list on a warm engine reads the store's counters, the served list (none yet), the
member's history, the day's seats and the branch's activity, once each, and writes the list with
its impressions in one transaction. Asked again, it reads the served list, the member's state
token and the opening balances' revision, not the history (unless an activity the list offers has
filled since). A path reads the history once and plans every day from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

import recsys.pipeline.explain as explain
from recsys.credits import OpeningBalance
from recsys.pipeline import PlanContext, infeasibility
from recsys.records import IMPRESSION_PREFIX, TZ, Event, Item, Member
from recsys.results import SearchHit, StudyEntry, StudyList, StudyPath
from recsys.serving.world import (
    Snapshot,
    World,
    enrolled_ahead,
    enrolled_in,
    opening_of,
    plan_context,
    seats_for,
)
from recsys.storage import ServedList

__all__ = ["daily", "daily_from", "path", "rank", "planned_from", "reuse_served", "served_record", "impressions_of"]

#: The time of day impressions are recorded at: when the morning push reaches members.
_SHOWN_AT = dt.time(8)
#: The time of day a path's planned study counts as done, when planning the next day.
_DONE_AT = dt.time(21)


def request_key(budget: int) -> str:
    """What besides member and day tells one served list from another."""
    return f"minutes={budget}"


def planned_from(state: str, member: Member, opening: Sequence[OpeningBalance] = ()) -> str:
    """What a served list was planned from, as the token kept with it: the member's events (the
    store's state token, :func:`recsys.storage.member_state`), the member's record (roles,
    situation, branch: a change may change what the rules allow) and opening balances (hours
    the reasons count)."""
    record = json.dumps([member.to_dict(), *(b.to_dict() for b in opening)], sort_keys=True,
                        ensure_ascii=False).encode("utf-8")
    return f"{state}/{hashlib.sha256(record).hexdigest()[:16]}"


def reuse_served(served: ServedList | None, state: str, member: Member,
                 items: Callable[[Sequence[str]], Mapping[str, Item]],
                 seats: Callable[[Sequence[str]], Mapping[str, int]],
                 held: Callable[[], set[str]], opening: Sequence[OpeningBalance] = ()) -> StudyList | None:
    """The list already served, if it was planned from the member's events (``state``) and record
    as they are now, every item it shows is in the catalogue as it was then (``items`` gives
    the current items of some ids), and every activity it offers still has a seat for the member
    (``seats`` gives the seats taken in some activities, ``held`` those the member holds a seat
    in): an item since expired, retargeted, lengthened or withdrawn, a role the member no longer
    holds, an opening balance recorded, or an activity of the day others have filled since, has
    the day planned again. The activities ahead it shows say the seats left now (名额已满 once
    full): the page that lists them says so beside them."""
    if served is None or served.state != planned_from(state, member, opening):
        return None
    stored = StudyList.from_dict(served.payload)
    shown = {e.item.id: e.item for e in (*stored.entries, *stored.upcoming)}
    if dict(items(list(shown))) != shown:
        return None
    limited = {e.item.id for e in (*stored.entries, *stored.upcoming)
               if e.item.schedule is not None and e.item.schedule.capacity is not None}
    if not limited:
        return stored
    taken = seats(sorted(limited))
    mine: set[str] | None = None

    def holds(item_id: str) -> bool:  # the history is read only when a seat count moved
        nonlocal mine
        if mine is None:
            mine = held()
        return item_id in mine

    # An activity of the day filled since, not by the member: the day is planned again.
    if any(taken.get(e.item.id, 0) >= e.item.schedule.capacity and not holds(e.item.id)
           for e in stored.entries if e.item.id in limited):
        return None
    # An activity ahead says the seats left now (名额已满 once full), unless the seat is theirs.
    upcoming = []
    for e in stored.upcoming:
        if e.item.id in limited:
            now = explain.offline_upcoming(e.item, max(e.item.schedule.capacity - taken.get(e.item.id, 0), 0))
            if e.reasons != (now,) and not holds(e.item.id):
                e = dataclasses.replace(e, reasons=(now,))
        upcoming.append(e)
    return dataclasses.replace(stored, upcoming=tuple(upcoming))


def served_record(result: StudyList, state: str, member: Member, opening: Sequence[OpeningBalance] = ()) -> ServedList:
    return ServedList(result.member, result.day, request_key(result.budget), planned_from(state, member, opening),
                      result.to_dict(), time.time())


def impressions_of(result: StudyList) -> list[Event]:
    """The impressions a served list records (each starts its item's cool-down)."""
    shown_at = dt.datetime.combine(result.day, _SHOWN_AT, TZ)
    return [
        Event(id=f"{IMPRESSION_PREFIX}{result.member}:{result.day.isoformat()}:{e.item.id}", member=result.member,
              item=e.item.id, kind="impression", at=shown_at)
        for e in result.entries
    ]


def daily(world: World, member: Member, day: dt.date, budget: int, *, preview: bool = False) -> StudyList:
    """The member's list for ``day``: the one served already if still valid, else a new one,
    stored and recorded as impressions unless ``preview``. See :meth:`recsys.Engine.daily`.

    Only planning holds the engine's lock (it reads the index, which writes change in place):
    a list asked again is answered from the store without waiting for other members' planning,
    and neither the reads before planning nor the durable write after it hold up other requests.
    Two first requests of one member at once plan the same list from the same state, and the
    second write stores it again (impressions are kept once by their ids).
    """
    store = world.store
    served = store.get_served(member.id, day, request_key(budget))
    opening = opening_of(world.balances(), member)
    if served is not None:  # asked again: the state token alone says whether it still holds
        reused = reuse_served(served, store.member_state(member.id), member, store.get_items, store.enrolments,
                              lambda: enrolled_in(store.history(member.id).events), opening)
        if reused is not None:
            return reused
    history = store.history(member.id)
    result = _plan_day(world, member, day, budget, history.events, lambda snap, ctx: world.recommender(ctx), opening)
    if not preview:
        # The store keeps it only if the member is still held when it writes (a removal in any
        # process meanwhile gets no list back).
        store.put_served([served_record(result, history.state, member, opening)], impressions_of(result))
    return result


def _plan_day(world: World, member: Member, day: dt.date, budget: int, events: Sequence[Event],
              plan: Callable[[Snapshot, PlanContext], StudyList], opening: Sequence[OpeningBalance]) -> StudyList:
    """``plan`` of the member's day from ``events``: the day's seats and the branch's activity
    read before the engine's lock, the context built and planned under it."""
    store = world.store
    snap = world.snapshot()
    seats = seats_for(store, snap.catalogue, day, day)
    branch = world.branch_activity(snap, member.org, day)
    with world.lock:
        if not world.unmoved(snap):  # a write moved the index meanwhile: plan on the new one
            snap = world.snapshot()
        ctx = plan_context(world, snap, member, day, budget, events, seats, branch=branch,
                           prep_targets=enrolled_ahead(events, snap.catalogue, day), opening=opening)
        return plan(snap, ctx)


def daily_from(world: World, member: Member, day: dt.date, budget: int, scores: Mapping[str, float], *,
               preview: bool = False) -> StudyList:
    """The member's list for ``day`` from an outside ranking. See :meth:`recsys.Engine.daily_from`.

    As :func:`daily`, only planning holds the engine's lock."""
    store = world.store

    def ranked(snap: Snapshot, ctx: PlanContext) -> StudyList:
        row = snap.catalogue.columns.row
        known = [i for i in scores if i in row]
        rows = np.array([row[i] for i in known], dtype=np.int64)
        return world.recommender.from_ranking(ctx, rows, np.array([scores[i] for i in known], dtype=np.float64))

    result = _plan_day(world, member, day, budget, store.history(member.id).events, ranked,
                       opening_of(world.balances(), member))
    if not preview:
        # Impressions start the cool-down as for any list; the list itself is not kept as the
        # day's served list, which stays the engine's own.
        store.put_served([], impressions_of(result))
    return result


def path(world: World, member: Member, start: dt.date, days: int, budget: int) -> StudyPath:
    """A plan of ``days`` days from ``start``. See :meth:`recsys.Engine.path`."""
    store = world.store
    last = start + dt.timedelta(days=days - 1)
    with world.lock:  # planning reads the index throughout, and writes change it in place
        snap = world.snapshot()
        history = store.history(member.id)
        events = history.events
        seats = seats_for(store, snap.catalogue, start, last)
        # Days whose list the member was already given keep it (a path must not contradict the
        # day's push), and the days before leave its items to it (they count as done only from
        # their day on, as any day's plan does).
        opening = opening_of(world.balances(), member)
        served = _served_between(world, snap, member, start, days, budget, history.state, seats,
                                 lambda: enrolled_in(events), opening)
        # Offline activities within the path the member could attend: online items similar to
        # them are pulled forward as preparation.
        probe = plan_context(world, snap, member, start, budget, events, seats, rules_only=True)
        ahead = tuple(
            it for it in (snap.catalogue[i] for i in snap.catalogue.offline_between(start, last))
            if infeasibility(it, probe, for_day=False) is None
            and start <= it.schedule.starts.astimezone(TZ).date() and it.minutes <= budget
        ) + enrolled_ahead(events, snap.catalogue, start)
        planned: list[str] = []
        recent: frozenset[str] = frozenset()
        # The later days of an activity of several days planned on its first: the member is there.
        attending: dict[dt.date, list[Item]] = {}
        out = []
        for n in range(days):
            day = start + dt.timedelta(days=n)
            result = served.get(day)
            if result is not None and not set(planned).isdisjoint(e.item.id for e in result.entries):
                # Two days pushed on their own may give the same item (one started is offered
                # until finished); the path takes each day as studied, so such a later day is
                # planned afresh without what earlier days hold: no item twice in a path, and
                # the day's minutes filled.
                result = None
            if result is None:
                held_back = {e.item.id for d, given in served.items() if d > day for e in given.entries}
                there = attending.get(day, [])
                if there:  # one activity a day: no other on a day of the course
                    held_back.update(snap.catalogue.offline_between(day, day))
                ctx = plan_context(
                    world, snap, member, day, budget, events, seats,
                    branch=world.branch_activity(snap, member.org, day),
                    planned=frozenset(planned), recent_topics=recent, held_back=frozenset(held_back),
                    prep_targets=tuple(t for t in ahead if t.schedule.starts.astimezone(TZ).date() > day),
                    opening=opening,
                )
                result = world.recommender(ctx)
                if there:  # shown as an activity held today, as one longer than the day is
                    result = dataclasses.replace(result, upcoming=tuple(
                        StudyEntry(it, 0.0, (explain.continuing(it, day),)) for it in there) + result.upcoming)
            out.append(result)
            planned.extend(e.item.id for e in result.entries)
            for e in result.entries:
                if e.item.schedule is not None:
                    for later in range(1, (e.item.schedule.days[1] - day).days + 1):
                        attending.setdefault(day + dt.timedelta(days=later), []).append(e.item)
            # Plan the next day as if this one was studied: hours, levels and prerequisites move on.
            done_at = dt.datetime.combine(day, _DONE_AT, TZ)
            events = events + [Event(member=member.id, item=e.item.id, kind="complete", at=done_at)
                               for e in result.entries]
            recent = frozenset(t for e in result.entries for t in e.item.topics[:1])
    return StudyPath(member=member.id, start=start, days=tuple(out))


def _served_between(world: World, snap: Snapshot, member: Member, start: dt.date, days: int, budget: int,
                    state: str, seats: Mapping[str, int], held: Callable[[], set[str]],
                    opening: Sequence[OpeningBalance]) -> dict[dt.date, StudyList]:
    """The lists of ``member`` served for the days from ``start`` at ``budget`` minutes that still
    hold (the member's state unchanged since, every item still in the catalogue, a seat left in
    every activity offered or the member's own; ``seats``: those taken in the path's activities)."""
    out = {}
    for n in range(days):
        day = start + dt.timedelta(days=n)
        found = reuse_served(world.store.get_served(member.id, day, request_key(budget)), state, member,
                             snap.catalogue.items_of, lambda ids: seats, held, opening)
        if found is not None:
            out[day] = found
    return out


def rank(world: World, member: Member, day: dt.date, k: int) -> list[SearchHit]:
    """The member's feasible items for ``day``, best first, before packing. See :meth:`recsys.Engine.rank`."""
    store = world.store
    with world.lock:
        snap = world.snapshot()
        events = store.history(member.id).events
        ctx = plan_context(
            world, snap, member, day, member.daily_minutes, events, seats_for(store, snap.catalogue, day, day),
            branch=world.branch_activity(snap, member.org, day),
            prep_targets=enrolled_ahead(events, snap.catalogue, day), opening=opening_of(world.balances(), member),
        )
        best = world.recommender.rank(ctx, k)
        return [SearchHit(item, score) for item, score in zip(best.items(ctx), best.score.tolist())]
