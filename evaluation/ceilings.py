"""How far ranking could go on the simulator: two rankers that read what no method may.

Both rank by the simulator's own chance that a member completes an item shown to them
(:meth:`evaluation.simulator.Simulator.completion_chance`: the item fits the day's time, and the
member finishes it given their interest and the item's level against their mastery). They are
ceilings, not methods: the report shows them apart and never counts them as peers.

- :class:`HiddenCeiling` reads the member's hidden tastes and mastery (at the end of the logged
  history). No method can know them; the held-out completions still depend on which items the
  logging portal happened to show and on chance, so even this stays well below an NDCG of 1.
- :class:`RecordsCeiling` knows the simulator's formula but reads only the member's records: each
  topic's taste and mastery are the averages over the population's members who, like this one,
  did or did not state the topic and whose roles are or are not tied to it, and a facet's taste
  is the average. It is what a member's roles, stated interests and daily time can give, with the
  simulator's structure known exactly: the ceiling for a member without history.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from evaluation.baselines import TrainData
from evaluation.simulator import (
    ROLE_TOPICS,
    Simulator,
    finish_probability,
    fits_day,
    level_for,
    topic_interest,
)
from recsys.records import Member

__all__ = ["HiddenCeiling", "RecordsCeiling", "CEILING"]

#: What the names of ceilings start with (the report keeps them apart from methods).
CEILING = "ceiling:"


def _order(candidates: Sequence[str], chance: list[float], k: int) -> list[str]:
    return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: (-chance[i], candidates[i]))[:k]]


class HiddenCeiling:
    """Candidates by the member's hidden chance of completing each (see the module)."""

    name = f"{CEILING} hidden tastes"

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def fit(self, train: TrainData) -> HiddenCeiling:
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        return _order(candidates, [self.sim.completion_chance(member.id, self.sim.items[i]) for i in candidates], k)


def _kind(member: Member, topic: str) -> tuple[bool, bool]:
    """What a member's records say of a topic: stated as an interest, tied to one of their roles."""
    return topic in member.interests, any(topic in ROLE_TOPICS.get(r, ()) for r in member.roles)


class RecordsCeiling:
    """Candidates by the chance of completing each estimated from the member's records alone (see
    the module)."""

    name = f"{CEILING} records only"

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        tastes, mastery = defaultdict(list), defaultdict(list)
        for s in sim.members:
            for topic in sim.topics:
                tastes[_kind(s.member, topic)].append(s.topic_taste[topic])
                mastery[_kind(s.member, topic)].append(s.mastery[topic])
        self.taste = {kind: float(np.mean(v)) for kind, v in tastes.items()}
        self.mastery = {kind: float(np.mean(v)) for kind, v in mastery.items()}
        self.facet = float(np.mean([s.facet_taste.mean() for s in sim.members]))

    def fit(self, train: TrainData) -> RecordsCeiling:
        return self

    def chance(self, member: Member, item_id: str) -> float:
        item = self.sim.items[item_id]
        topic = topic_interest([self.taste[_kind(member, t)] for t in item.topics])
        interest = self.sim.topic_weight * topic + (1 - self.sim.topic_weight) * self.facet
        level = level_for(self.mastery[_kind(member, item.topics[0])]) if item.topics else 1
        return fits_day(item.minutes, member.daily_minutes) * finish_probability(interest, abs(item.level - level))

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        return _order(candidates, [self.chance(member, i) for i in candidates], k)
