"""Daily lists for many members at once, with the work that depends only on the day shared.

:func:`daily_many` returns, for each member, exactly the list :meth:`Engine.daily` would return
(stored the same way, its entries recorded as impressions), but looks up once per round of
members what ``daily()`` looks up per request: the offline activities of the coming weeks and
their seats taken, and each branch's recent completions (once per branch, not per member). The
impressions of a round are written in one transaction. A nightly job that prepares
every member's list before the portal opens is the use it is made for.

Why the lists cannot differ: one member's list depends on the member's own events, the
catalogue, enrolments and the branch's completions, and on the store-wide collaborative model
(which impressions do not move: see :meth:`Engine.collaborative`). Serving a list writes only that member's
served list and impressions, which none of the others' inputs read, so computing the batch
with enrolments and branch activity read once per round and the impressions written at the
end of it gives what one ``daily()`` call after another gives (when nothing else writes
meanwhile). ``tests/test_batch.py`` checks this against ``daily()`` as the oracle.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from recsys.exceptions import ValidationError
from recsys.pipeline import PlanContext
from recsys.pipeline.profile import build_profile, day_end
from recsys.records import TZ, Event
from recsys.results import StudyList

if TYPE_CHECKING:  # the engine imports this module's function lazily
    from recsys.engine import Engine

__all__ = ["daily_many"]


def daily_many(
    engine: Engine,
    member_ids: Iterable[str],
    day: dt.date | str | None = None,
    minutes: int | None = None,
    *,
    chunk: int = 256,
) -> list[StudyList]:
    """The study lists of ``member_ids`` for one day, in the order given.

    Args:
        engine: The engine whose store serves the lists.
        member_ids: Members (an id may repeat; it gets the same list again).
        day: The day; default: today (Asia/Shanghai).
        minutes: The time available to everyone; default: each member's ``daily_minutes``.
        chunk: Members per round: enrolments and branch activity are read, and the round's
            impressions written (one transaction), once per round.

    Returns:
        One :class:`StudyList` per id, equal to what ``engine.daily(id, day, minutes)`` returns.

    Raises:
        NotFoundError: for an unknown member (nothing is served then).
        ValidationError: for a malformed day, minutes or chunk.
    """
    from recsys.engine import _BRANCH_WINDOW  # one window for both paths

    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValidationError(f"chunk must be a whole number of at least 1, got {chunk!r}", field="chunk")
    ids = list(member_ids)
    day = engine._day(day)
    members = [engine.member(m) for m in ids]  # every id checked before anything is written
    budgets = [engine._budget(m, minutes) for m in members]
    store = engine.store
    end = day_end(day)
    shown_at = dt.datetime.combine(day, dt.time(8), TZ)
    results: list[StudyList] = []
    for first in range(0, len(members), chunk):
        # Seats and branch activity are read once per chunk, so a long batch sees other writers'
        # enrolments and completions no later than a chunk after they happen.
        shared: tuple | None = None
        branches: dict[str, tuple[dict[str, int], int]] = {}
        impressions: list[Event] = []
        for member, budget in zip(members[first:first + chunk], budgets[first:first + chunk]):
            # The lock is taken per member, as daily() does, so a batch never holds up requests.
            with engine._lock:
                index, items = engine.index(), engine.catalogue()
                if shared is None or shared[0] is not items:  # the catalogue changed: look again
                    near = items.offline_between(day, day + dt.timedelta(days=31))
                    shared = (items, store.enrolments(near))
                result = _served(engine, member.id, day, f"minutes={budget}", items)
                if result is not None:
                    results.append(result)
                    continue
                request = f"minutes={budget}"
                state = store.member_state(member.id)
                if member.org not in branches:
                    branches[member.org] = store.branch_completions(member.org, end - _BRANCH_WINDOW, end)
                counts, active = branches[member.org]

                def vector_of(item_id: str, index=index):
                    return index.vector(item_id) if item_id in index else None

                profile = build_profile(member, day, store.events(member.id), items, vector_of,
                                        engine.encode_queries, engine.curriculum)
                context = PlanContext(
                    profile=profile, day=day, budget=budget, items=items, index=index,
                    curriculum=engine.curriculum, encode_queries=engine.encode_queries,
                    seats_taken=shared[1], branch_counts=counts, branch_active=active,
                    prep_targets=engine._enrolled_ahead(member.id, day),
                    duplicate_threshold=engine.duplicate_threshold,
                    collaborative=engine.collaborative(),
                )
                result = engine.recommender(context)
                store.put_served(member.id, day, request, state, result.to_dict(), time.time())
            impressions.extend(
                Event(id=f"imp:{member.id}:{day.isoformat()}:{e.item.id}", member=member.id,
                      item=e.item.id, kind="impression", at=shown_at)
                for e in result.entries
            )
            results.append(result)
        if impressions:
            store.record_events(impressions)
    return results


def _served(engine: Engine, member_id: str, day: dt.date, request: str, items) -> StudyList | None:
    """The list already served to the member for this day and request, if still valid."""
    served = engine.store.get_served(member_id, day, request)
    if served is None or served[0] != engine.store.member_state(member_id):
        return None
    stored = StudyList.from_dict(served[1])
    return stored if all(e.item.id in items for e in stored.entries) else None
