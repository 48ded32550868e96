"""Free-text search and similar items, optionally limited to what a member or organisation may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from recsys.orgs import within
from recsys.pipeline import infeasibility
from recsys.records import Item, Member
from recsys.results import SearchHit
from recsys.serving.world import Snapshot, World, plan_context, seats_for

__all__ = ["hits", "hit_filter", "visible_to"]

ItemFilter = Callable[[Item], bool]


def visible_to(item: Item, org: str) -> bool:
    """Whether an organisation sees an item: shared, its own, or owned by a unit above or below it."""
    owner = item.org
    return owner is None or within(owner, org) or within(org, owner)


def hit_filter(world: World, snap: Snapshot, member: Member | None, org: str | None, day: dt.date) -> ItemFilter:
    """What a hit must pass: visible to ``org``; feasible for ``member`` on ``day`` (any date of
    an offline activity) and not completed."""
    checks: list[ItemFilter] = []
    if org is not None:
        checks.append(lambda it: visible_to(it, org))
    if member is not None:
        events = world.store.history(member.id).events
        ctx = plan_context(world, snap, member, day, member.daily_minutes, events,
                           seats_for(world.store, snap.catalogue, day, day), rules_only=True)
        checks.append(lambda it: infeasibility(it, ctx, for_day=False) is None)
    return lambda it: all(check(it) for check in checks)


def hits(snap: Snapshot, query: np.ndarray, k: int, keep: ItemFilter | None = None) -> list[SearchHit]:
    """The ``k`` best hits for ``query`` that ``keep`` accepts: fetch more while filters reject some."""
    index, found = snap.index, snap.catalogue
    fetch = k if keep is None else 4 * k + 1
    while True:
        ids, scores = index.search(query, fetch)
        out = [SearchHit(found[i], float(s)) for i, s in zip(ids[0], scores[0])
               if i in found and (keep is None or keep(found[i]))]
        if len(out) >= k or fetch >= len(index):
            return out[:k]
        fetch = min(4 * fetch, len(index))
