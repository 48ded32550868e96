"""Daily lists for many members at once, with the work that depends only on the day shared.

:func:`daily_many` returns, for each member, exactly the list :func:`recsys.serving.lists.daily`
would return (stored the same way, its entries recorded as impressions), but reads once per
block of members what ``daily()`` reads per request: the snapshot, the offline activities of the
coming weeks and their seats, the block's served lists and histories (one statement each), and
each branch's recent completions (once per branch, not per member; from the completions the
process keeps, where it keeps them: :meth:`World.branch_activity`). Members are planned in
groups whose candidate searches are one matrix product (:meth:`recsys.pipeline.Recommender.many`).
A block's lists and impressions are written in one transaction. A nightly job that prepares
every member's list before the portal opens is the use it is made for.

Why the lists cannot differ: one member's list depends on the member's own events, the
catalogue, enrolments and the branch's completions, and on the store-wide collaborative model
(which impressions do not move). Serving a list writes only that member's served list and
impressions, which none of the others' inputs read, so computing a block with those read once
and its impressions written at the end gives what one ``daily()`` call after another gives (when
nothing else writes meanwhile). ``tests/serving/test_batch.py`` checks this against ``daily()``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.pipeline.masks import StaticRules
from recsys.records import Event, Member
from recsys.results import StudyList
from recsys.serving.lists import impressions_of, request_key, reuse_served, served_record
from recsys.serving.world import World, enrolled_ahead, enrolled_in, opening_of, plan_context, seats_for

from recsys.storage import ServedList
from recsys.storage._shared import DamagedRecordError

__all__ = ["daily_many", "serve_day", "floor_seconds", "BatchReport", "readable_members", "in_branch_order"]


#: Members planned together under the engine's lock: their candidate searches are one matrix
#: product, and the lock is released between groups so a batch never holds up requests for long.
PLAN_GROUP = 32


def daily_many(
    world: World, members: Sequence[Member], day: dt.date, budgets: Sequence[int], *, chunk: int = 256
) -> list[StudyList]:
    """The study lists of ``members`` for ``day``, in the order given.

    Args:
        world: The engine's shared state.
        members: The members (one may repeat; they get the same list again).
        day: The day.
        budgets: Each member's minutes.
        chunk: Members per block: the snapshot, seats, served lists, histories and branch
            activity are read, and the block's lists and impressions written (one transaction),
            once per block.

    Returns:
        One :class:`StudyList` per member, equal to what ``daily()`` returns for each.
    """
    results: list[StudyList] = []
    for first in range(0, len(members), chunk):
        results.extend(_block(world, members[first:first + chunk], day, budgets[first:first + chunk]))
    return results


def _block(world: World, members: Sequence[Member], day: dt.date, budgets: Sequence[int]) -> list[StudyList]:
    """One block of :func:`daily_many`: a few reads, planning in groups, one write."""
    store = world.store
    # A block sees other writers' enrolments and completions no later than a block late.
    with world.lock:
        snap = world.snapshot()
    seats = seats_for(store, snap.catalogue, day, day)
    ids = list(dict.fromkeys(m.id for m in members))
    served_before = {(s.member, s.request): s for s in store.served_for(ids, day)}
    histories = store.histories(ids)
    balances = world.balances()
    lists: dict[tuple[str, int], StudyList] = {}
    todo: dict[tuple[str, int], Member] = {}
    for member, budget in zip(members, budgets):
        key = (member.id, budget)
        if key in lists or key in todo:  # the same member twice: the same list
            continue
        reused = reuse_served(served_before.get((member.id, request_key(budget))), histories[member.id].state,
                              member, snap.catalogue.items_of, lambda ids: seats,
                              lambda: enrolled_in(histories[member.id].events), opening_of(balances, member))
        if reused is not None:
            lists[key] = reused
        else:
            todo[key] = member
    branches: dict[str, tuple[dict[str, int], int]] = {}
    static = StaticRules()  # one day, one set of seats: members alike share their static codes
    served: list[ServedList] = []
    impressions: list[Event] = []
    pending = list(todo.items())
    for first in range(0, len(pending), PLAN_GROUP):
        group = pending[first:first + PLAN_GROUP]
        for _, member in group:
            if member.org not in branches:
                branches[member.org] = world.branch_activity(snap, member.org, day, load=False)
        with world.lock:  # planning reads the index, which writes change in place
            ctxs = [
                plan_context(world, snap, member, day, budget, histories[member.id].events, seats,
                             branch=branches[member.org], static_rules=static,
                             prep_targets=enrolled_ahead(histories[member.id].events, snap.catalogue, day),
                             opening=opening_of(balances, member))
                for (_, budget), member in group
            ]
            planned = world.recommender.many(ctxs)
        for ((member_id, budget), member), result in zip(group, planned):
            lists[(member_id, budget)] = result
            served.append(served_record(result, histories[member_id].state, member, opening_of(balances, member)))
            impressions.extend(impressions_of(result))
    if served:
        store.put_served(served, impressions)  # of the members still held as it writes
    return [lists[(m.id, b)] for m, b in zip(members, budgets)]


@dataclass(frozen=True)
class BatchReport:
    """What a day's batch did, and how fast against its floor.

    Attributes:
        day: The day served.
        members: Members in scope.
        served: Lists computed and stored by this run.
        skipped: Members whose list for the day was stored already (a resumed run skips them).
        seconds: Wall time of the run, finding the members and their order included.
        floor_seconds: For the members served, one matrix product members x items over the
            index's vectors plus a top-150 per member, measured in the same run on a sample and
            scaled: the arithmetic a list cannot do without.
        unreadable: Members whose stored record is damaged (it does not parse): not served,
            while every other member is; ``recsys check`` names them too.
        workers: How many processes of this machine planned the lists (1: the calling process,
            as for a batch on a Ray cluster, whose workers are the cluster's).
    """

    day: dt.date
    members: int
    served: int
    skipped: int
    seconds: float
    floor_seconds: float
    unreadable: tuple[str, ...] = ()
    workers: int = 1

    @property
    def lists_per_second(self) -> float:
        return self.served / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line in Chinese for the operator's terminal."""
        ratio = f"，为其 {self.seconds / self.floor_seconds:.0f} 倍" if self.floor_seconds > 0 and self.served else ""
        damaged = ""
        if self.unreadable:
            named = "、".join(self.unreadable[:5]) + ("等" if len(self.unreadable) > 5 else "")
            damaged = f"；{len(self.unreadable)} 名党员的记录已损坏，未生成清单（{named}），请运行 recsys check 查看"
        spread = f"，{self.workers} 个进程" if self.workers > 1 else ""
        return (f"{self.day} 每日清单：党员 {self.members} 名，本次生成 {self.served} 份，已生成而跳过 {self.skipped} 份"
                f"{damaged}；用时 {self.seconds:.1f} 秒（{self.lists_per_second:.1f} 份/秒{spread}）；"
                f"参照下限（矩阵乘积加每人前150）{self.floor_seconds:.3g} 秒{ratio}")


def serve_day(
    world: World,
    member_ids: Sequence[str],
    day: dt.date,
    *,
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
    started: float | None = None,
) -> BatchReport:
    """Compute and store the day's list (at each member's own daily minutes) of every member not
    yet served that day.

    Holds no more than a block of members at a time: their records are read a block at a time,
    and their lists written and let go. Resumable: a member whose list for the day is already
    stored is skipped, so a run stopped halfway goes on where it stopped.

    Args:
        world: The engine's shared state.
        member_ids: The members in scope.
        day: The day.
        chunk: Members per block (see :func:`daily_many`).
        progress: Called with the number of members done after each block, skipped ones included.
        started: When the run began (``time.perf_counter()``), if before this call: the report's
            time then counts what the caller did first (finding the members, putting them in
            branch order).
    """
    started = time.perf_counter() if started is None else started
    done = world.store.served_on(day)
    served = 0
    unreadable: list[str] = []
    for first in range(0, len(member_ids), chunk):
        ids = member_ids[first:first + chunk]
        block, damaged = readable_members(world.store, ids)
        unreadable += damaged
        todo = [m for m in block if (m.id, request_key(m.daily_minutes)) not in done]
        if todo:
            daily_many(world, todo, day, [m.daily_minutes for m in todo], chunk=chunk)
            served += len(todo)
        if progress is not None:
            progress(len(ids))
    seconds = time.perf_counter() - started
    return BatchReport(day, len(member_ids), served, len(member_ids) - served - len(unreadable), seconds,
                       floor_seconds(world, served), tuple(unreadable))


def in_branch_order(store, ids: Sequence[str]) -> list[str]:
    """``ids`` branch by branch (in the given order within a branch), as a run over everyone
    goes: a block then reads the activity of a few branches rather than one per member, and its
    members share more rules (a block of 256 of 2,000 members drawn from 200 branches read 144
    branches, in this order 26: ``evaluation/branch_reads.py``)."""
    branch = {member: org for org, member in store.member_orgs()}
    return sorted(ids, key=lambda member: branch.get(member, ""))


def readable_members(store, ids: Sequence[str], **scope) -> tuple[list[Member], list[str]]:
    """The members of ``ids`` (``scope``: the store's ``tenant=``, where ids repeat across
    enterprises), and the ids whose stored record is damaged: one bad row is that member's
    problem, not the block's (nor the night's, for every enterprise)."""
    try:
        return list(store.get_members(ids, **scope).values()), []
    except DamagedRecordError:
        members, damaged = [], []
        for member_id in ids:
            try:
                members.extend(store.get_members([member_id], **scope).values())
            except DamagedRecordError:
                damaged.append(member_id)
        return members, damaged


def floor_seconds(world: World, members: int, *, k: int = 150, sample: int = 256, seed: int = 0) -> float:
    """The time of one matrix product ``members x items`` over the index's vectors plus a top-``k``
    per member, measured on a sample of at most ``sample`` random unit vectors and scaled (in
    blocks of 64, so a catalogue of 100k items needs tens of megabytes, not gigabytes)."""
    if members <= 0:
        return 0.0
    with world.lock:
        snap = world.snapshot(collaborative=False)
        items = snap.index.vectors([i for i in snap.catalogue.columns.ids if i in snap.index])
    if not len(items):
        return 0.0
    n = min(members, sample)
    queries = np.random.default_rng(seed).normal(size=(n, items.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(k, len(items))

    def product() -> None:
        for first in range(0, n, 64):
            scores = queries[first:first + 64] @ items.T
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            np.take_along_axis(scores, top, axis=1).argsort(axis=1)

    # Once untimed: the first product pays for BLAS waking up and the vectors paging in, and one
    # run's floor read 0.03 s, the next 0.77 s, for the same members.
    product()
    started = time.perf_counter()
    product()
    return (time.perf_counter() - started) * members / n
