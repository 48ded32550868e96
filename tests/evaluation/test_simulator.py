"""The member simulator: seeded, every role and situation, hidden truth, a sensible behaviour model."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import corpus
from evaluation.metrics import feasibility_violations
from evaluation.simulator import Simulator
from recsys import Item, Member


@pytest.fixture(scope="module")
def items():
    return corpus.load_items()


@pytest.fixture(scope="module")
def templates():
    return corpus.load_members()


def _quiz(id_: str, level: int = 1, minutes: int = 5) -> Item:
    return Item.from_dict({"id": id_, "title": "测验", "body": "党史测验", "kind": "quiz", "mode": "online",
                           "minutes": minutes, "topics": ["党史"], "level": level, "published": "2026-01-01"})


def test_same_seed_same_population_and_behaviour(items, templates):
    a = Simulator(items, templates, n_members=12, seed=5)
    b = Simulator(items, templates, n_members=12, seed=5)
    assert a.member_records() == b.member_records()
    start = dt.date(2026, 9, 7)
    assert a.log_history(start, 7) == b.log_history(start, 7)
    c = Simulator(items, templates, n_members=12, seed=6)
    assert c.member_records() != a.member_records()


def test_population_covers_every_role_and_situation(items, templates):
    sim = Simulator(items, templates, n_members=60, seed=1)
    members = sim.member_records()
    assert {m.situation for m in members} == {"regular", "mobile", "infirm"}
    assert {r for m in members for r in m.roles} == {r for t in templates for r in t.roles}
    for m in members:
        assert m.offline == (m.situation == "regular")
        assert set(m.interests) <= set(sim.topics)


def test_hidden_labelling_depends_on_ids_only(items, templates):
    sim = Simulator(items, templates, n_members=4, seed=3)
    rewritten = [dataclasses.replace(it, title="同一标题", body="同一正文", topics=("党史",), level=1) for it in items]
    other = Simulator(rewritten, templates, n_members=4, seed=3)
    assert other.facets == sim.facets
    # Nothing of the labelling reaches the records the engine is given.
    for m in sim.member_records():
        assert set(dataclasses.asdict(m)) == set(Member.FIELDS)
    counts = np.bincount(list(sim.facets.values()), minlength=sim.n_facets)
    assert (counts > 0).all()  # every facet is used


def test_interest_follows_the_hidden_tastes(items, templates):
    sim = Simulator(items, templates, n_members=10, seed=2)
    for s in sim.members:
        liked_facets = set(np.flatnonzero(s.facet_taste >= 0.7))
        both = [it for it in items if it.topics and it.topics[0] in s.true_topics and sim.facets[it.id] in liked_facets]
        neither = [it for it in items if it.topics and not set(it.topics) & set(s.true_topics)
                   and sim.facets[it.id] not in liked_facets]
        if both and neither:
            assert min(sim.interest(s.member.id, it) for it in both) > max(sim.interest(s.member.id, it) for it in neither)
        assert all(0.0 <= sim.interest(s.member.id, it) <= 1.0 for it in items)


def test_offline_attendance_only_when_feasible(items, templates):
    sim = Simulator(items, templates, n_members=30, seed=4)
    offline = [it for it in items if it.mode == "offline"]
    for s in sim.members:
        m = s.member
        for it in offline:
            day = it.schedule.starts.date()
            if m.situation != "regular":
                assert not sim.can_attend(m, it, day)
            assert not sim.can_attend(m, it, day - dt.timedelta(days=1))
            events = sim.act(m.id, day - dt.timedelta(days=1), [it])
            assert not [e for e in events if e.kind == "attend"]


def test_quiz_scores_rise_with_hidden_mastery(items, templates):
    quiz = _quiz("q-1", level=2)
    sim = Simulator([*items, quiz], templates, n_members=1, seed=0)
    sid = sim.members[0].member.id
    means = []
    for mastery in (0.1, 0.9):
        scores = []
        for n in range(150):
            sim.by_id[sid].mastery["党史"] = mastery
            sim.by_id[sid].completed.pop(quiz.id, None)
            events = sim.act(sid, dt.date(2026, 10, 1) + dt.timedelta(days=n), [quiz])
            scores += [e.value for e in events if e.kind == "quiz"]
        means.append(np.mean(scores))
    assert means[1] > means[0] + 0.3


def test_mastery_grows_most_at_a_suitable_level(items, templates):
    gains = {}
    for level in (1, 3):
        sim = Simulator(items, templates, n_members=1, seed=0)
        s = sim.members[0]
        s.mastery["党史"] = 0.1  # suitable level: 1
        sim._learn(s, _quiz(f"q-{level}", level=level), dt.date(2026, 10, 1), 1.0)
        gains[level] = s.mastery["党史"] - 0.1
    assert gains[1] > gains[3] > 0


def test_items_longer_than_the_time_left_are_not_started(items, templates):
    long = dataclasses.replace(_quiz("q-long"), minutes=500)
    sim = Simulator([*items, long], templates, n_members=1, seed=0)
    sid = sim.members[0].member.id
    for n in range(20):
        assert sim.act(sid, dt.date(2026, 10, 1) + dt.timedelta(days=n), [long]) == []


def test_logged_history_shows_only_feasible_online_items(items, templates):
    sim = Simulator(items, templates, n_members=15, seed=8)
    events = sim.log_history(dt.date(2026, 9, 7), 21)
    kinds = {e.kind for e in events}
    assert {"impression", "complete", "skip"} <= kinds
    by_id = {it.id: it for it in items}
    members = {m.id: m for m in sim.member_records()}
    done: dict[str, set[str]] = {}
    for e in events:
        it = by_id[e.item]
        assert it.mode == "online"
        if e.kind == "impression":
            assert feasibility_violations([it], members[e.member], e.at.date(), done.get(e.member, set())) == []
        if e.kind == "complete":
            done.setdefault(e.member, set()).add(e.item)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_the_completion_chance_ceilings_read_is_the_chance_members_act_on(items, templates):
    sim = Simulator(items, templates, n_members=4, seed=2)
    s = sim.members[0]
    fits = [it for it in items if it.mode == "online" and it.kind == "article" and it.minutes <= s.member.daily_minutes]
    too_long = Item.from_dict({"id": "long", "title": "长课", "body": "党史长课", "kind": "video", "mode": "online",
                               "minutes": int(1.3 * s.member.daily_minutes) + 6, "topics": ["党史"], "level": 1,
                               "published": "2026-01-01"})
    half = dataclasses.replace(too_long, id="half", minutes=s.member.daily_minutes + 5)  # fits one day in two
    for extra in (too_long, half):
        sim.items[extra.id], sim.facets[extra.id] = extra, 0
    assert sim.completion_chance(s.member.id, too_long) == 0.0  # never fits the day, whatever the draw
    mastery = dict(s.mastery)
    best, worst = (f(fits, key=lambda it: sim.interest(s.member.id, it)) for f in (max, min))
    for item in (best, worst, half):
        done, chance = 0, sim.completion_chance(s.member.id, item)
        for n in range(2000):
            s.mastery, s.completed = dict(mastery), {}  # the same member each time: nothing learnt, nothing done
            done += any(e.kind == "complete" for e in sim.act(s.member.id, dt.date(2026, 9, 7), [item]))
        assert abs(done / 2000 - chance) < 0.035, item.id
