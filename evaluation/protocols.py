"""Offline protocols: how a logged history is split into training events and held-out truth.

* **temporal**: train on the events before a cut-off day, hold out the online items each member
  completed in the ``test_days`` after it; lists are ranked on the cut-off day.
* **leave-last-k-out**: for each member with enough history, hold out their last ``k`` completed
  online items; their events from the day of the first held-out completion on are removed
  (other members keep their whole history, as is usual for this protocol); ranked on that day.
* **cold start**: a seeded share of members lose their whole training history (the engine
  still has their roles and stated interests); held-out truth as in the temporal split.

Offline activities are left out of the held-out truth and of the candidates: whether a member
can attend one depends on the day, which a ranked list for one day cannot judge; the season
(:mod:`evaluation.season`) measures them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluation.baselines import TrainData
from evaluation.metrics import feasibility_violations
from recsys.records import TZ, Event, Item, Member

__all__ = ["Split", "temporal_split", "leave_last_k_out", "cold_start_split", "candidates_for", "rank_all"]


@dataclass
class Split:
    """Training events and held-out truth for one protocol.

    Attributes:
        name: The protocol.
        train: What methods learn from.
        truth: Held-out relevant item ids per evaluated member.
        day: The day each evaluated member's list is ranked for.
        completed: Training completions per member (excluded from candidates).
        done_before: Where it differs from ``completed``: every completion before the ranking
            day, known to the evaluation though not given to the methods (cold start), and
            excluded from candidates in its place.
    """

    name: str
    train: TrainData
    truth: dict[str, set[str]]
    day: dict[str, dt.date]
    completed: dict[str, set[str]] = field(default_factory=dict)
    done_before: dict[str, set[str]] | None = None


def _date(e: Event) -> dt.date:
    return e.at.astimezone(TZ).date()


def _online(items: Sequence[Item]) -> set[str]:
    return {it.id for it in items if it.mode == "online"}


def _done(events: Sequence[Event]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in events:
        if e.kind == "complete":
            out.setdefault(e.member, set()).add(e.item)
    return out


def temporal_split(items: Sequence[Item], members: Sequence[Member], events: Sequence[Event],
                   cutoff: dt.date, test_days: int = 14) -> Split:
    """Train before ``cutoff``; truth = online completions in ``[cutoff, cutoff + test_days)``."""
    online = _online(items)
    train = [e for e in events if _date(e) < cutoff]
    end = cutoff + dt.timedelta(days=test_days)
    done = _done(train)
    truth: dict[str, set[str]] = {}
    for e in events:
        if e.kind == "complete" and cutoff <= _date(e) < end and e.item in online and e.item not in done.get(e.member, ()):
            truth.setdefault(e.member, set()).add(e.item)
    return Split("temporal", TrainData(items, members, train), truth, {m: cutoff for m in truth}, done)


def leave_last_k_out(items: Sequence[Item], members: Sequence[Member], events: Sequence[Event],
                     k: int = 3, min_history: int = 5) -> Split:
    """Hold out each member's last ``k`` online completions (members with at least
    ``min_history`` more completions before them)."""
    online = _online(items)
    firsts: dict[str, list[Event]] = {}
    for e in events:
        if e.kind == "complete" and e.item in online:
            firsts.setdefault(e.member, []).append(e)
    day: dict[str, dt.date] = {}
    truth: dict[str, set[str]] = {}
    for m, done in firsts.items():
        if len(done) < k + min_history:
            continue
        held = done[-k:]
        d = _date(held[0])
        before = {e.item for e in done if _date(e) < d}
        rest = {e.item for e in done if _date(e) >= d} - before
        if rest and len(before) >= min_history:
            day[m], truth[m] = d, rest
    train = [e for e in events if e.member not in day or _date(e) < day[e.member]]
    return Split("leave-last-k", TrainData(items, members, train), truth, day, _done(train))


def cold_start_split(items: Sequence[Item], members: Sequence[Member], events: Sequence[Event],
                     cutoff: dt.date, test_days: int = 14, share: float = 0.3, seed: int = 0) -> Split:
    """As :func:`temporal_split`, evaluated on a seeded ``share`` of members whose training
    history is removed entirely.

    What they completed before stays out of their candidates (:attr:`Split.done_before`), though
    no method is told: a member who has just arrived has completed none of it, and offered back,
    it only takes places in the top 10 that no completion can fill (the simulator never completes
    an item twice). Left in, it held even a ranker reading the hidden tastes to 1.26× most popular,
    since the items a member likes best are the ones they had already completed."""
    base = temporal_split(items, members, events, cutoff, test_days)
    rng = np.random.default_rng([seed, 31337])
    ids = sorted(base.truth)
    cold = {ids[i] for i in rng.choice(len(ids), size=max(1, round(share * len(ids))), replace=False)} if ids else set()
    train = [e for e in base.train.events if e.member not in cold]
    truth = {m: base.truth[m] for m in cold}
    return Split("cold-start", TrainData(items, members, train), truth, {m: cutoff for m in truth}, _done(train),
                 done_before=base.completed)


def candidates_for(split: Split, member: Member, items: Sequence[Item]) -> list[str]:
    """The online items this member may be offered on their ranking day, by the independent
    feasibility check (on the history the methods are given: prerequisites a member without one
    has not met stay unmet), minus what they completed before it."""
    day = split.day[member.id]
    known = split.completed.get(member.id, set())
    gone = known if split.done_before is None else split.done_before.get(member.id, set())
    return [it.id for it in items if it.mode == "online" and it.id not in gone
            and not feasibility_violations([it], member, day, known)]


def rank_all(split: Split, method, k: int = 10) -> dict[str, list[str]]:
    """Fit ``method`` on the split's training events and rank every evaluated member."""
    method.fit(split.train)
    members = {m.id: m for m in split.train.members}
    items = list(split.train.items)
    return {m: method.rank(members[m], split.day[m], candidates_for(split, members[m], items), k)
            for m in sorted(split.truth)}
