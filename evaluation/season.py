"""A season: the engine's own daily lists drive the simulated members for weeks.

Each day every active member asks for their daily list, acts on it (:meth:`Simulator.act`) and
the events go back to the engine with ``engine.record``. Every list is checked against the
contract independently (:mod:`evaluation.metrics`), and the outcomes the simulator hides from
the engine are read at the end: mastery, quiz scores, the interest of what was shown.

The policy is one parameter: the engine with a given curriculum (so the engine with and without
``mastery_feedback`` differ by one argument); a *peer + guarantees* portal, any ranker of
:mod:`evaluation.baselines` (``fit(train)``, ``rank(member, day, candidates, k)``) whose order the
engine turns into the day's list with its hard rules and budget fitter
(:meth:`recsys.Engine.daily_from`), so the peer is held to the same guarantees and differs from
the engine by its order alone; or a portal that shows a random feasible list that fits the time
(the reference, which keeps no cool-down).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evaluation import metrics
from evaluation.simulator import Simulator
from recsys.curriculum import Curriculum
from recsys.models.training import NotEnoughHistory
from recsys.records import TZ, Event, Item, Member

__all__ = ["SeasonResult", "run_season", "peer_order"]


@dataclass
class SeasonResult:
    """What a season measured.

    Attributes:
        policy: The policy's name.
        lists: Lists served.
        repeat_violations: Entries breaking "no repeats" (reviews of quizzes scored below the
            curriculum's review threshold are allowed back and counted in ``reviews``), and
            entries shown, not started, and back within the cool-down.
        reviews: Completed quizzes brought back as a sanctioned review.
        feasibility_violations: Entries breaking feasibility, by rule.
        over_budget: Lists longer than the budget.
        fill: Budget fill ratio of each list.
        completion_rate: Entries completed for the first time / entries shown, per member.
        interest: Mean hidden interest of the entries shown, per member.
        quiz_scores: ``(week, score)`` of every quiz taken.
        mastery_start: Mean hidden mastery (true topics) before the season.
        mastery_end: The same after it.
        required_progress: Required-topic progress per member over the season.
        situation: Each member's situation; roles: each member's roles.
        days: Days of the season.
        completions: First-time completions per member (every member, 0 if none).
        weeks_reached: Per member, the weeks of the season (0-based) in which they completed
            something new.
        shown: The item ids of every list served, in order.
    """

    policy: str
    lists: int = 0
    repeat_violations: int = 0
    reviews: int = 0
    feasibility_violations: dict[str, int] = field(default_factory=dict)
    over_budget: int = 0
    fill: list[float] = field(default_factory=list)
    completion_rate: dict[str, float] = field(default_factory=dict)
    interest: dict[str, float] = field(default_factory=dict)
    quiz_scores: list[tuple[int, float]] = field(default_factory=list)
    mastery_start: float = 0.0
    mastery_end: float = 0.0
    required_progress: dict[str, float] = field(default_factory=dict)
    situation: dict[str, str] = field(default_factory=dict)
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    days: int = 0
    completions: dict[str, int] = field(default_factory=dict)
    shown: list[list[str]] = field(default_factory=list)
    weeks_reached: dict[str, set[int]] = field(default_factory=dict)

    def completions_per_member_day(self, members: list[str] | None = None) -> float:
        """First-time completions per member and day of the season (of ``members``, default all)."""
        ids = list(self.completions) if members is None else members
        return sum(self.completions[m] for m in ids) / (len(ids) * self.days) if ids and self.days else math.nan

    def reached(self, members: list[str] | None = None) -> float:
        """Share of members (of ``members``, default all) who completed something new in the season."""
        ids = list(self.completions) if members is None else members
        return sum(self.completions[m] > 0 for m in ids) / len(ids) if ids else math.nan

    def weekly_reach(self, members: list[str] | None = None) -> float:
        """Share of member-weeks (of ``members``, default all) with something new completed: a
        member left without study for a week counts, even if reached in another."""
        ids = list(self.completions) if members is None else members
        weeks = math.ceil(self.days / 7)
        if not ids or not weeks:
            return math.nan
        return sum(len(self.weeks_reached.get(m, ())) for m in ids) / (len(ids) * weeks)


def _random_list(sim: Simulator, member_id: str, day: dt.date, rng: np.random.Generator) -> list[Item]:
    """A portal's reference list: random feasible items added while they fit the time."""
    m = sim.by_id[member_id].member
    pool = [it for it in sim.items.values() if sim.feasible(m, it, day)]
    out, left = [], m.daily_minutes
    for n in rng.permutation(len(pool)):
        it = pool[n]
        if it.minutes <= left and (it.mode == "online" or not any(o.mode == "offline" for o in out)):
            out.append(it)
            left -= it.minutes
    return out


def peer_order(ranker, member: Member, day: dt.date, candidates: list[str]) -> list[str]:
    """A peer's full order of ``candidates``: what it ranks first, then what it gives no answer
    for (item-kNN and ALS say nothing of some members and items) in a seeded random order, as a
    portal falls back when its recommender is silent."""
    ranked = [i for i in ranker.rank(member, day, candidates, len(candidates)) if i in set(candidates)]
    seen = set(ranked)
    rest = [i for i in candidates if i not in seen]
    rng = np.random.default_rng([day.toordinal(), *member.id.encode()])
    return list(dict.fromkeys(ranked)) + [rest[n] for n in rng.permutation(len(rest))]


def run_season(
    sim: Simulator,
    start: dt.date,
    days: int,
    *,
    base: Path | None = None,
    folder: Path | None = None,
    encoder: str = "tfidf",
    curriculum: Curriculum | None = None,
    warmup_days: int = 28,
    policy: str = "engine",
    ranker=None,
    refit_days: int = 7,
    train: bool = False,
) -> SeasonResult:
    """Run one season.

    Args:
        sim: A fresh simulator (its members' hidden state is changed).
        start: First day of the season.
        days: Its length.
        base: A store folder with the catalogue embedded (for an engine policy).
        folder: Where this season's store goes (deleted afterwards).
        encoder: The base store's encoder.
        curriculum: The engine's curriculum policy (``None``: the built-in one).
        warmup_days: Days of random-portal history before the season, given to the engine.
        policy: A name for the report; ``"random"`` uses the reference portal instead of the engine.
        ranker: A peer (see :mod:`evaluation.baselines`) whose order the engine packs under its
            guarantees (:meth:`recsys.Engine.daily_from`) instead of ranking itself.
        train: For the engine ranking itself: train its model (:meth:`recsys.Engine.train`,
            when missing or stale) every ``refit_days``, as ``recsys batch`` does nightly.
        refit_days: The peer is fitted on every event so far on the first day and then every
            ``refit_days`` days (a portal's nightly or weekly training job).
    """
    warm = sim.log_history(start - dt.timedelta(days=warmup_days), warmup_days)
    engine = None
    if policy != "random":
        from recsys.engine import Engine

        if base is None or folder is None:
            raise ValueError("an engine season needs base and folder")
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(base, folder)
        engine = Engine.open(folder, encoder=encoder, curriculum=curriculum)
        engine.upsert_members(sim.member_records())
        engine.record(warm)
    cur = curriculum or Curriculum()
    result = SeasonResult(policy, mastery_start=sim.mean_mastery())
    rng = np.random.default_rng([sim.seed, 4242])
    shown: dict[str, int] = defaultdict(int)
    done: dict[str, int] = defaultdict(int)
    interest: dict[str, list[float]] = defaultdict(list)
    studied: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    last_quiz: dict[tuple[str, str], float] = {}
    for e in warm:
        if e.kind == "quiz" and e.value is not None:
            last_quiz[(e.member, e.item)] = float(e.value)
    review_below = cur.mastery.review_below if cur.mastery_feedback else -1.0
    last_shown: dict[str, dict[str, dt.date]] = defaultdict(dict)
    started: dict[str, set[str]] = defaultdict(set)
    for e in warm:
        if e.kind == "impression":
            last_shown[e.member][e.item] = e.at.astimezone(TZ).date()
        elif e.kind in ("start", "progress", "complete"):
            started[e.member].add(e.item)
    log: list[Event] = list(warm)
    catalogue = sorted(sim.items)
    try:
        for n in range(days):
            day = start + dt.timedelta(days=n)
            if ranker is not None and n % max(1, refit_days) == 0:
                from evaluation.baselines import TrainData

                ranker.fit(TrainData(list(sim.items.values()), sim.member_records(), list(log)))
            elif ranker is None and engine is not None and train and n % max(1, refit_days) == 0:
                # As a nightly `recsys batch` does, on the peers' refit days: train if the
                # model is missing or the activity grew since (too little history: hand-set blend).
                try:
                    engine.train(if_stale=True)
                except NotEnoughHistory:
                    pass
            for s in sim.members:
                m = s.member
                if not sim.is_active(m.id):
                    continue
                if ranker is not None:
                    known = set(s.completed)  # what the portal's records say the member completed
                    order = peer_order(ranker, m, day, [i for i in catalogue if i not in known])
                    items = [e.item for e in engine.daily_from(m.id, order, day).entries]
                elif engine is not None:
                    items = [e.item for e in engine.daily(m.id, day).entries]
                else:
                    items = _random_list(sim, m.id, day, rng)
                before = set(s.completed)
                allowed = {it.id for it in items if it.kind == "quiz" and it.id in before
                           and last_quiz.get((m.id, it.id), 1.0) < review_below}
                result.lists += 1
                result.reviews += len(allowed)
                result.repeat_violations += metrics.repeat_violations([it.id for it in items], before, allowed)
                result.repeat_violations += metrics.cooldown_violations(
                    [it.id for it in items], day, last_shown[m.id], started[m.id], cur.cooldown_days)
                for _, rule in metrics.feasibility_violations(items, m, day, before, cur.situation_keywords):
                    result.feasibility_violations[rule] = result.feasibility_violations.get(rule, 0) + 1
                minutes = [it.minutes for it in items]
                result.fill.append(metrics.budget_fill_ratio(minutes, m.daily_minutes))
                result.over_budget += sum(minutes) > m.daily_minutes
                events = sim.act(m.id, day, items)
                for it in items:
                    last_shown[m.id][it.id] = day
                shown[m.id] += len(items)
                interest[m.id].extend(sim.interest(m.id, it) for it in items)
                for e in events:
                    if e.kind == "quiz" and e.value is not None:
                        result.quiz_scores.append((n // 7, float(e.value)))
                        last_quiz[(m.id, e.item)] = float(e.value)
                    if e.kind in ("start", "progress", "complete"):
                        started[m.id].add(e.item)
                    if e.kind == "complete" and e.item not in before:
                        done[m.id] += 1
                        result.weeks_reached.setdefault(m.id, set()).add(n // 7)
                        it = sim.items[e.item]
                        for t in it.topics:
                            studied[m.id][t] += it.minutes / 60
                result.shown.append([it.id for it in items])
                log.extend(events)
                if engine is not None and events:
                    engine.record(events)
    finally:
        if engine is not None:
            engine.close()
            shutil.rmtree(folder, ignore_errors=True)
    result.mastery_end = sim.mean_mastery()
    result.days = days
    for s in sim.members:
        m = s.member
        result.completions[m.id] = done[m.id]
        result.situation[m.id] = m.situation
        result.roles[m.id] = m.roles
        if shown[m.id]:
            result.completion_rate[m.id] = done[m.id] / shown[m.id]
            result.interest[m.id] = float(np.mean(interest[m.id]))
        policy_ = cur.for_member(m)
        if policy_.annual_hours:
            targets = {t: policy_.topic_target(t) * days / 365 for t in policy_.required}
            result.required_progress[m.id] = metrics.required_topic_progress(studied[m.id], targets)
    return result
