"""Daily lists for many members at once, with the work that depends only on the day shared.

:func:`daily_many` returns, for each member, exactly the list :func:`recsys.serving.lists.daily`
would return (stored the same way, its entries recorded as impressions), but reads once per
block of members what ``daily()`` reads per request: the snapshot, the offline activities of the
coming weeks and their seats, and each branch's recent completions (once per branch, not per
member). A block's lists and impressions are written in one transaction. A nightly job that
prepares every member's list before the portal opens is the use it is made for.

Why the lists cannot differ: one member's list depends on the member's own events, the
catalogue, enrolments and the branch's completions, and on the store-wide collaborative model
(which impressions do not move). Serving a list writes only that member's served list and
impressions, which none of the others' inputs read, so computing a block with those read once
and its impressions written at the end gives what one ``daily()`` call after another gives (when
nothing else writes meanwhile). ``tests/serving/test_batch.py`` checks this against ``daily()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from recsys.records import Event, Member
from recsys.results import StudyList
from recsys.serving.lists import impressions_of, request_key, reuse_served, served_record
from recsys.serving.world import World, branch_activity, enrolled_ahead, plan_context, seats_for
from recsys.storage import ServedList

__all__ = ["daily_many"]


def daily_many(
    world: World, members: Sequence[Member], day: dt.date, budgets: Sequence[int], *, chunk: int = 256
) -> list[StudyList]:
    """The study lists of ``members`` for ``day``, in the order given.

    Args:
        world: The engine's shared state.
        members: The members (one may repeat; they get the same list again).
        day: The day.
        budgets: Each member's minutes.
        chunk: Members per block: the snapshot, seats and branch activity are read, and the
            block's lists and impressions written (one transaction), once per block.

    Returns:
        One :class:`StudyList` per member, equal to what ``daily()`` returns for each.
    """
    store = world.store
    results: list[StudyList] = []
    for first in range(0, len(members), chunk):
        block = list(zip(members[first:first + chunk], budgets[first:first + chunk]))
        branches: dict[str, tuple[dict[str, int], int]] = {}
        served: list[ServedList] = []
        impressions: list[Event] = []
        fresh: dict[tuple[str, int], StudyList] = {}
        # The lock is held per block, not per batch, so a long batch never holds up requests for
        # long; a block sees other writers' enrolments and completions no later than a block late.
        with world.lock:
            snap = world.snapshot()
            seats = seats_for(store, snap.catalogue, day, day)
            for member, budget in block:
                key = (member.id, budget)
                if key in fresh:  # the same member twice in a block: the same list
                    results.append(fresh[key])
                    continue
                history = store.history(member.id)
                result = reuse_served(store.get_served(member.id, day, request_key(budget)), history.state, snap)
                if result is None:
                    if member.org not in branches:
                        branches[member.org] = branch_activity(store, member.org, day)
                    ctx = plan_context(
                        world, snap, member, day, budget, history.events, seats,
                        branch=branches[member.org],
                        prep_targets=enrolled_ahead(history.events, snap.catalogue, day),
                    )
                    result = world.recommender(ctx)
                    served.append(served_record(result, history.state))
                    impressions.extend(impressions_of(result))
                fresh[key] = result
                results.append(result)
            if served:
                store.put_served(served, impressions)
    return results
