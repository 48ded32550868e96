"""A member simulator with hidden truth: who likes what, who can go where, who learns what.

The simulator builds a population of members of every role and situation and decides, for
each list a member is shown, what they do with it: start, finish, skip, rate, take a quiz,
attend an offline activity. Its truth is hidden from the engine:

* **Hidden labelling of the items.** Each item gets one of ``n_facets`` facets (think of the
  lecturer, the production team, the style of a series) drawn by a seeded random generator
  from the item id alone, never from its text, topics, kind or level. The engine never sees
  the facets: they are not in any record it stores, and since they are independent of the
  content, no content score (embedding similarity, topic match, level, freshness) can compute
  them. Only the members' behaviour reveals them, which is what collaborative methods learn.
* **Hidden tastes.** A member's interest in an item is ``topic_weight * topic taste +
  (1 - topic_weight) * facet taste``. The topic taste has three true topics (the first tied to
  the member's roles more often than not); the member's stated ``interests`` are a noisy
  report of them (each stated topic is a true one with probability ``honesty``, otherwise a
  random topic), so stated interests help but do not give the truth away.
* **Hidden mastery.** A level of mastery per topic in [0, 1]; the suitable level of an item is
  ``1 + floor(3 * mastery)``. Completing an item of a topic raises its mastery, by most when the
  item's level suits. Quiz scores rise with mastery against the quiz's level.

Completion model (one list, in order): the member has about their ``daily_minutes`` (±30 %) to
spend; an online item longer than what is left is not started; otherwise they finish it with
probability ``sigmoid(4 (interest - 0.45) + level fit)``, else skip it or stop part way. An
offline activity is attended only when it is feasible (the member can attend offline, is in
the activity's city, and it is the activity's date) and with probability rising with interest.
A completed item shown again is ignored, except a quiz, which is retaken (a review) with
probability 0.7 and teaches half as much as the first time.

Two ways to drive it: :meth:`Simulator.log_history` plays a portal that shows each active
member a uniformly random menu of feasible online items (an exposure no method is favoured by),
for the offline protocols; :meth:`Simulator.act` lets any list (the engine's daily lists, in a
season) drive the members.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from recsys.records import TZ, Event, Item, Member

__all__ = ["SimMember", "Simulator", "SITUATION_MIX", "ROLE_TOPICS"]

#: Share of each situation in the simulated population; mobile and infirm members are
#: over-represented against real branches so that their breakdowns have enough members.
SITUATION_MIX = {"regular": 0.6, "mobile": 0.2, "infirm": 0.2}

#: Topics a role tends to care about (the first true topic is drawn from here 60 % of the time).
ROLE_TOPICS = {
    "member": ["党的创新理论", "党史", "政治教育"],
    "probationary": ["党章党规党纪", "党的宗旨", "党史"],
    "branch_secretary": ["党务工作", "党章党规党纪"],
    "committee_member": ["党务工作", "廉洁从业"],
    "party_worker": ["党务工作", "保密"],
    "cadre": ["国企改革", "廉洁从业", "形势政策"],
    "frontline": ["安全生产", "志愿服务"],
    "technical": ["数字化转型", "保密"],
    "young": ["数字化转型", "志愿服务", "改革开放史"],
    "retired": ["党史", "传统文化", "新中国史"],
}

_LEVEL_DIFFICULTY = {1: 0.15, 2: 0.4, 3: 0.65}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


#: The day's time is the member's daily minutes times a draw from this range.
DAY_SPREAD = (0.7, 1.3)


def topic_interest(tastes: Sequence[float]) -> float:
    """An item's topic taste from the member's taste for each of its topics, main topic first."""
    tastes = list(tastes) or [0.0]
    return tastes[0] if len(tastes) == 1 else 0.7 * tastes[0] + 0.3 * max(tastes[1:])


def level_for(mastery: float) -> int:
    """The level (1-3) that suits a mastery of a topic."""
    return 1 + min(2, int(3 * mastery))


def finish_probability(interest: float, level_gap: int) -> float:
    """The chance that a member who starts on an online item finishes it, as :meth:`Simulator.act`
    draws it: rising with interest, falling as the item's level is further from the suitable one."""
    return _sigmoid(4 * (interest - 0.45) + (0.4 if level_gap == 0 else -0.6 * level_gap))


def fits_day(minutes: int, daily_minutes: int) -> float:
    """The chance that an item of ``minutes`` fits a fresh day's time (:data:`DAY_SPREAD`; five
    minutes over is let pass, as :meth:`Simulator.act` does)."""
    low, high = DAY_SPREAD
    need = (minutes - 5) / max(daily_minutes, 1)
    return min(1.0, max(0.0, (high - need) / (high - low)))


@dataclass
class SimMember:
    """A simulated member: the record the engine sees, and the truth it does not.

    Attributes:
        member: The :class:`Member` record given to the engine.
        topic_taste: Hidden interest per topic, in [0, 1].
        facet_taste: Hidden interest per facet of the hidden labelling, in [0, 1].
        true_topics: The three topics the member really cares about.
        mastery: Hidden mastery per topic, in [0, 1]; grows with study.
        activity: Probability of studying on a given day.
        completed: Items completed, with the day.
    """

    member: Member
    topic_taste: dict[str, float]
    facet_taste: np.ndarray
    true_topics: tuple[str, ...]
    mastery: dict[str, float]
    activity: float
    completed: dict[str, dt.date] = field(default_factory=dict)


class Simulator:
    """A seeded population of simulated members over a catalogue.

    Args:
        items: The catalogue.
        templates: Members whose roles, organisation and city are reused (cycled), so simulated
            members hold real role combinations and belong to branches the items know.
        n_members: How many members to simulate.
        seed: Seeds every random choice; the same seed gives the same members and behaviour.
        n_facets: Size of the hidden labelling.
        topic_weight: Share of the topic taste in an item's interest (the rest is the facet).
        honesty: Probability that a stated interest is one of the member's true topics.
    """

    def __init__(
        self,
        items: Sequence[Item],
        templates: Sequence[Member],
        n_members: int = 60,
        seed: int = 0,
        *,
        n_facets: int = 8,
        topic_weight: float = 0.55,
        honesty: float = 0.7,
    ) -> None:
        if not items or not templates or n_members < 1:
            raise ValueError("the simulator needs items, template members and n_members >= 1")
        self.items = {it.id: it for it in items}
        self.seed = seed
        self.n_facets = n_facets
        self.topic_weight = topic_weight
        self.rng = np.random.default_rng(seed)
        # The hidden labelling: from a generator of its own, so it depends on the item ids only.
        label_rng = np.random.default_rng([seed, 7919])
        self.facets = {i: int(label_rng.integers(n_facets)) for i in sorted(self.items)}
        self.topics = sorted({t for it in items for t in it.topics})
        if not self.topics:
            raise ValueError("the simulator needs items with topics (tastes are defined over them)")
        self.members = self._population(templates, n_members)
        self.by_id = {s.member.id: s for s in self.members}

    # -- the population -------------------------------------------------------------------

    def _population(self, templates: Sequence[Member], n: int) -> list[SimMember]:
        rng = self.rng
        situations = [s for s, share in SITUATION_MIX.items() for _ in range(round(share * 100))]
        out = []
        for k in range(n):
            t = templates[k % len(templates)]
            situation = situations[(k * 37) % len(situations)]
            related = [x for r in t.roles for x in ROLE_TOPICS.get(r, ()) if x in self.topics]
            first = (rng.choice(related) if related and rng.random() < 0.6 else rng.choice(self.topics))
            others = [x for x in self.topics if x != first]
            true = (str(first), *(str(x) for x in rng.choice(others, size=min(2, len(others)), replace=False)))
            taste = {x: float(rng.uniform(0.0, 0.25)) for x in self.topics}
            taste.update({x: float(rng.uniform(0.7, 1.0)) for x in true})
            facet_taste = rng.uniform(0.0, 0.2, size=self.n_facets)
            facet_taste[rng.choice(self.n_facets, size=2, replace=False)] = rng.uniform(0.7, 1.0, size=2)
            stated = []
            pool = list(true)
            for _ in range(2):
                if rng.random() < 0.7 and pool:
                    stated.append(pool.pop(int(rng.integers(len(pool)))))
                else:
                    stated.append(str(rng.choice(self.topics)))
            mastery = {x: float(rng.uniform(0.05, 0.35)) + (0.2 if x in true else 0.0) for x in self.topics}
            minutes = [10, 15, 20] if situation == "infirm" else [15, 20, 30, 40, 60]
            member = replace(
                t,
                id=f"s{self.seed}-{k:04d}",
                name=f"模拟党员{k:04d}",
                interests=tuple(dict.fromkeys(stated)),
                offline=situation == "regular",
                situation=situation,
                location=t.location if situation != "mobile" else str(rng.choice(["成都", "长沙", "广州", "唐山"])),
                daily_minutes=int(rng.choice(minutes)),
                joined=dt.date(int(rng.integers(1975, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))),
            )
            activity = float(rng.uniform(0.35, 0.8)) * (0.8 if situation == "infirm" else 1.0)
            out.append(SimMember(member, taste, facet_taste, true, mastery, activity))
        return out

    def member_records(self) -> list[Member]:
        """The records the engine is given."""
        return [s.member for s in self.members]

    # -- hidden truth ---------------------------------------------------------------------

    def interest(self, member_id: str, item: Item) -> float:
        """The member's hidden interest in an item, in [0, 1]."""
        s = self.by_id[member_id]
        topic = topic_interest([s.topic_taste.get(t, 0.0) for t in item.topics])
        return self.topic_weight * topic + (1 - self.topic_weight) * float(s.facet_taste[self.facets[item.id]])

    def suitable_level(self, member_id: str, topic: str) -> int:
        """The level that suits the member's hidden mastery of a topic (1-3)."""
        return level_for(self.by_id[member_id].mastery.get(topic, 0.0))

    def completion_chance(self, member_id: str, item: Item) -> float:
        """The hidden chance that the member completes an online item shown first on a day, as of
        now: that it fits the day's time, times the chance of finishing it (what :meth:`act`
        draws). The evaluation's ceiling (:mod:`evaluation.ceilings`) ranks by it."""
        s = self.by_id[member_id]
        main = item.topics[0] if item.topics else ""
        gap = abs(item.level - self.suitable_level(member_id, main))
        return fits_day(item.minutes, s.member.daily_minutes) * finish_probability(self.interest(member_id, item), gap)

    def quiz_probability(self, member_id: str, topic: str, level: int) -> float:
        """Chance of answering one question of a quiz of ``level`` on ``topic`` right."""
        return _sigmoid(6 * (self.by_id[member_id].mastery.get(topic, 0.0) - _LEVEL_DIFFICULTY[level]))

    def can_attend(self, member: Member, item: Item, day: dt.date) -> bool:
        """Whether the member could physically attend an offline activity on ``day``."""
        if item.mode != "offline" or item.schedule is None:
            return False
        s = item.schedule
        first, last = s.starts.astimezone(TZ).date(), s.ends.astimezone(TZ).date()
        in_town = not member.location or not s.city or member.location == s.city
        return member.offline and member.situation == "regular" and first <= day <= last and in_town

    def feasible(self, member: Member, item: Item, day: dt.date) -> bool:
        """The simulator's own reading of what a member may be shown (for the portal's menu)."""
        done = self.by_id[member.id].completed
        return (
            item.id not in done
            and item.published <= day
            and (item.expires is None or item.expires >= day)
            and (not item.roles or bool(set(item.roles) & set(member.roles)))
            and (item.org is None or member.org == item.org or member.org.startswith(item.org + "."))
            and all(r in done for r in item.requires)
            and (item.mode == "online" or self.can_attend(member, item, day))
        )

    # -- behaviour ------------------------------------------------------------------------

    def act(self, member_id: str, day: dt.date, shown: Sequence[Item], *, impressions: bool = False) -> list[Event]:
        """What the member does with a list shown on ``day``; updates their hidden mastery.

        Args:
            member_id: The member.
            day: The day.
            shown: The list, in the order shown.
            impressions: Also emit the impression events (the engine records its own).

        Returns:
            The events, in time order, with ids unique to this simulator.
        """
        s, rng = self.by_id[member_id], self.rng
        m = s.member
        time_left = m.daily_minutes * float(rng.uniform(*DAY_SPREAD))
        clock = dt.datetime.combine(day, dt.time(19), TZ)
        events: list[Event] = []

        def emit(item: Item, kind: str, value: float | None = None) -> None:
            nonlocal clock
            clock += dt.timedelta(minutes=1)
            events.append(Event(id=f"sim{self.seed}:{m.id}:{day.isoformat()}:{item.id}:{kind}",
                                member=m.id, item=item.id, kind=kind, value=value, at=clock))

        for item in shown:
            if impressions:
                emit(item, "impression")
            interest = self.interest(m.id, item)
            main = item.topics[0] if item.topics else ""
            if item.id in s.completed:
                # Only a quiz is worth doing again (a review); it takes its time like the first.
                if item.kind == "quiz" and item.minutes <= time_left + 5 and rng.random() < 0.7:
                    emit(item, "start")
                    emit(item, "quiz", float(rng.binomial(5, self.quiz_probability(m.id, main, item.level))) / 5)
                    emit(item, "complete")
                    time_left -= item.minutes
                    self._learn(s, item, day, 0.5)
                continue
            if item.mode == "offline":
                if self.can_attend(m, item, day) and rng.random() < _sigmoid(5 * (interest - 0.4)):
                    emit(item, "attend")
                    emit(item, "complete")
                    self._learn(s, item, day, 1.5)
                continue
            if item.minutes > time_left + 5:
                continue
            fit = abs(item.level - self.suitable_level(m.id, main))
            p_finish = finish_probability(interest, fit)
            roll = float(rng.random())
            if roll < p_finish:
                emit(item, "start")
                if item.kind == "quiz":
                    p = self.quiz_probability(m.id, main, item.level)
                    emit(item, "quiz", float(rng.binomial(5, p)) / 5)
                emit(item, "complete")
                time_left -= item.minutes
                self._learn(s, item, day, 1.0)
                if rng.random() < 0.35:
                    rating = int(np.clip(round(1 + 4 * interest + rng.normal(0, 0.5)), 1, 5))
                    emit(item, "rate", float(rating))
            elif roll < p_finish + 0.5 * (1 - p_finish):
                emit(item, "skip")
            else:
                emit(item, "start")
                part = round(float(rng.uniform(0.1, 0.6)), 2)
                emit(item, "progress", part)
                time_left -= item.minutes * part
        return events

    def _learn(self, s: SimMember, item: Item, day: dt.date, weight: float) -> None:
        s.completed[item.id] = day
        for n, topic in enumerate(item.topics):
            fit = abs(item.level - self.suitable_level(s.member.id, topic))
            gain = 0.08 * weight * {0: 1.0, 1: 0.5}.get(fit, 0.15) * (1.0 if n == 0 else 0.5)
            s.mastery[topic] = min(1.0, s.mastery[topic] + gain * (1 - s.mastery[topic]))

    def is_active(self, member_id: str) -> bool:
        """Whether the member studies today (a draw)."""
        return bool(self.rng.random() < self.by_id[member_id].activity)

    def log_history(self, start: dt.date, days: int, menu: int = 6) -> list[Event]:
        """A logged history from a portal that shows each active member ``menu`` feasible
        online items drawn uniformly at random each day; in time order."""
        online = [it for it in self.items.values() if it.mode == "online"]
        events: list[Event] = []
        for n in range(days):
            day = start + dt.timedelta(days=n)
            for s in self.members:
                if not self.is_active(s.member.id):
                    continue
                pool = [it for it in online if self.feasible(s.member, it, day)]
                if not pool:
                    continue
                picks = self.rng.choice(len(pool), size=min(menu, len(pool)), replace=False)
                events.extend(self.act(s.member.id, day, [pool[i] for i in picks], impressions=True))
        return sorted(events, key=lambda e: (e.at, e.id))

    def mean_mastery(self, member_ids: Iterable[str] | None = None, topics: str = "true") -> float:
        """Mean hidden mastery over members, of their true topics (``"true"``) or all topics."""
        values = []
        for s in (self.members if member_ids is None else [self.by_id[i] for i in member_ids]):
            keys = s.true_topics if topics == "true" else self.topics
            values.extend(s.mastery[t] for t in keys)
        return float(np.mean(values)) if values else 0.0
