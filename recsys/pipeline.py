"""The recommendation pipeline: candidates → filters → scorer → re-ranker → budget fitter.

Each step is a small component with its settings in ``__init__`` and its work in ``__call__``,
as in LensKit's pipelines; :class:`Recommender` runs them in order over a :class:`PlanContext`
that holds what a step may need (the member's profile, the day, the catalogue and the index).
The filters enforce the hard guarantees (no repeats, feasibility); the scorer and re-ranker only
order what the filters let through; the budget fitter packs the day's minutes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from recsys import explain
from recsys.catalogue import Catalogue
from recsys.collaborative import CollaborativeModel
from recsys.curriculum import Curriculum
from recsys.index import FaissIndex
from recsys.mastery import ReviewDue
from recsys.profile import Profile
from recsys.records import TZ, Item
from recsys.results import StudyEntry, StudyList

__all__ = [
    "PlanContext",
    "Candidate",
    "CandidateSelector",
    "FeasibilityFilter",
    "Scorer",
    "MMRReranker",
    "BudgetFitter",
    "Recommender",
    "infeasibility",
    "due_review",
]


@dataclass
class PlanContext:
    """What the pipeline knows while planning one member's day.

    Attributes:
        profile: The member's profile for the day.
        day: The day planned.
        budget: Minutes available.
        items: The catalogue by id.
        index: The vector index (for candidate search and item vectors).
        curriculum: The curriculum policy.
        encode_queries: Embeds short texts on the query side.
        seats_taken: Enrolments so far per offline item.
        branch_counts: Completions per item by members of the member's branch, recently.
        branch_active: How many members of the branch completed anything recently.
        planned: Items placed on earlier days of the same path (count as done).
        recent_topics: Topics of the previous path day (rotated away from).
        prep_targets: Offline activities ahead that online items may prepare for.
        duplicate_threshold: Cosine at or above which two items are the same content.
        collaborative: What every member of the store completes (co-completion and role-aware
            popularity), or None to go without.
    """

    profile: Profile
    day: dt.date
    budget: int
    items: Catalogue
    index: FaissIndex
    curriculum: Curriculum
    encode_queries: Callable[[list[str]], np.ndarray]
    seats_taken: Mapping[str, int] = field(default_factory=dict)
    branch_counts: Mapping[str, int] = field(default_factory=dict)
    branch_active: int = 0
    planned: frozenset[str] = frozenset()
    recent_topics: frozenset[str] = frozenset()
    prep_targets: tuple[Item, ...] = ()
    duplicate_threshold: float = 0.95
    upcoming_days: int = 14
    collaborative: CollaborativeModel | None = None

    @property
    def done(self) -> set[str]:
        """Items completed, or placed earlier in the path."""
        return set(self.profile.history.completed) | set(self.planned)


@dataclass
class Candidate:
    """An item under consideration, with what each step found out about it."""

    item: Item
    sources: set[str] = field(default_factory=set)
    rank: int = 0  # best position in any retrieval that found it (0 for sources taken whole)
    vector: np.ndarray | None = None
    signals: dict[str, float] = field(default_factory=dict)
    reasons: list[tuple[float, str]] = field(default_factory=list)
    score: float = 0.0


def _offline_window(item: Item, day: dt.date) -> tuple[dt.date, dt.date]:
    s = item.schedule
    return s.starts.astimezone(TZ).date(), s.ends.astimezone(TZ).date()


def due_review(item: Item, ctx: PlanContext) -> ReviewDue | None:
    """The review of a completed quiz item that is due on ``ctx.day``, if any.

    The one sanctioned repeat of a completed item: a quiz scored below the review threshold,
    once its spaced interval has passed, not already placed earlier in the path, and only while
    the curriculum's ``mastery_feedback`` is on.
    """
    if not ctx.curriculum.mastery_feedback or item.id in ctx.planned:
        return None
    review = ctx.profile.reviews.get(item.id)
    return review if review is not None and review.due <= ctx.day else None


def infeasibility(item: Item, ctx: PlanContext, *, for_day: bool = True) -> str | None:
    """Why ``item`` cannot be in the member's list for ``ctx.day``, or None if it can.

    This is the one place the hard rules of a list live (guarantees 1 and 3); ``for_day=False``
    checks everything but the offline date (for search results and upcoming activities). A
    completed item is allowed back only as a review that is due (see :func:`due_review`).
    """
    m = ctx.profile.member
    h = ctx.profile.history
    day = ctx.day
    review = due_review(item, ctx) if item.id in h.completed else None
    if item.id in ctx.planned or (item.id in h.completed and review is None):
        return "completed"
    if item.id in h.disliked:
        return "disliked"
    cooldown = dt.timedelta(days=ctx.curriculum.cooldown_days)
    # A review is cooled down only by impressions and skips after the member last did the item.
    since = review.since if review is not None else None
    shown = h.shown.get(item.id)
    if shown is not None and (since is None or shown > since) and item.id not in h.started and day - shown < cooldown:
        return "cooldown"
    skipped = h.skipped.get(item.id)
    if skipped is not None and (since is None or skipped > since) and day - skipped < cooldown:
        return "cooldown"
    if item.published > day:
        return "unpublished"
    if item.expires is not None and item.expires < day:
        return "expired"
    if item.roles and not set(item.roles) & set(m.roles):
        return "role"
    if item.org is not None and not (m.org == item.org or m.org.startswith(item.org + ".")):
        return "org"
    done = ctx.done
    if any(r not in done for r in item.requires):
        return "prerequisite"
    if ctx.curriculum.is_birthday_item(item.title) and not ctx.curriculum.in_birthday_week(m, day):
        return "birthday"
    if item.mode == "offline":
        if not m.offline:
            return "offline"
        s = item.schedule
        if m.location and s.city and m.location != s.city:
            return "location"
        if s.ends <= dt.datetime.combine(day, dt.time(), TZ):
            return "past"
        if for_day:
            first, last = _offline_window(item, day)
            if not first <= day <= last:
                return "date"
        if (
            s.capacity is not None
            and item.id not in h.enrolled
            and ctx.seats_taken.get(item.id, 0) >= s.capacity
        ):
            return "full"
    return None


class CandidateSelector:
    """Gathers candidates from the index and from non-personalised sources.

    Personalised: nearest items to each interest centroid, each stated interest, each role
    description, and each required topic behind pace; the items other members most often
    completed together with the member's history; the items most completed by members holding
    the member's roles. Non-personalised: newly published items, items popular in the member's
    branch, offline activities that day, items started but not finished.

    Args:
        per_query: Nearest items fetched per profile vector.
        fresh_days: Items published this recently are candidates whatever the profile.
        popular: Most popular branch items taken.
        related: Most co-completed items taken (see :mod:`recsys.collaborative`).
        role_popular: Most completed items among the member's roles taken.
    """

    def __init__(self, per_query: int = 100, fresh_days: int = 30, popular: int = 50,
                 related: int = 100, role_popular: int = 50) -> None:
        self.per_query = per_query
        self.fresh_days = fresh_days
        self.popular = popular
        self.related = related
        self.role_popular = role_popular

    def __call__(self, ctx: PlanContext) -> dict[str, Candidate]:
        p = ctx.profile
        out: dict[str, Candidate] = {}

        def add(item_id: str, source: str, rank: int = 0) -> None:
            item = ctx.items.get(item_id)
            if item is not None:
                c = out.get(item_id)
                if c is None:
                    c = out[item_id] = Candidate(item, rank=rank)
                c.sources.add(source)
                c.rank = min(c.rank, rank)

        behind = [t for t in p.policy.required if p.topic_gap(t)[1] > 0]
        queries = [(p.interests, "interest"), (p.stated, "stated"), (p.roles, "role")]
        if behind:
            queries.append((ctx.encode_queries(behind), "required"))
        for vectors, source in queries:
            if len(vectors):
                ids, _ = ctx.index.search(vectors, self.per_query)
                for row in ids:
                    for rank, item_id in enumerate(row):
                        add(item_id, source, rank)
        items = ctx.items
        if len(items) <= 4 * self.per_query:
            # A small catalogue: every item is a candidate (cheaper than being clever).
            for item_id in items:
                add(item_id, "catalogue", self.per_query)
        fresh = items.published_between(ctx.day - dt.timedelta(days=self.fresh_days), ctx.day)
        for item_id in fresh[-self.per_query:]:  # the newest, in a catalogue that publishes a lot
            add(item_id, "fresh")
        for topic in behind:
            for rank, item_id in enumerate(items.by_topic.get(topic, ())[: self.per_query]):
                add(item_id, "required", rank)
        for item_id in items.offline_between(ctx.day, ctx.day + dt.timedelta(days=ctx.upcoming_days)):
            add(item_id, "offline")
        for item_id, _ in Counter(ctx.branch_counts).most_common(self.popular):
            add(item_id, "popular")
        model = ctx.collaborative
        if model is not None:
            positive = {i: w for i, w in p.history.interest.items() if w > 0}
            for rank, item_id in enumerate(model.related_top(positive, self.related, exclude=ctx.done)):
                add(item_id, "related", rank)
            for rank, item_id in enumerate(model.role_top(p.member.roles, self.role_popular)):
                add(item_id, "role_popular", rank)
        for item_id in p.history.started:
            add(item_id, "continue")
        if ctx.curriculum.mastery_feedback:
            for item_id, review in p.reviews.items():
                if review.due <= ctx.day:
                    add(item_id, "review")
        return out


class FeasibilityFilter:
    """Drops every candidate that breaks a hard rule (see :func:`infeasibility`), including
    near-duplicates of completed items, and counts why things were dropped."""

    def __call__(self, ctx: PlanContext, candidates: dict[str, Candidate]) -> tuple[dict[str, Candidate], Counter]:
        dropped: Counter = Counter()
        kept: dict[str, Candidate] = {}
        for item_id, c in candidates.items():
            why = infeasibility(c.item, ctx)
            if why is None and item_id not in ctx.index:
                why = "unindexed"
            if why:
                dropped[why] += 1
            else:
                kept[item_id] = c
        if kept:
            ids = list(kept)
            vectors = ctx.index.vectors(ids)
            for item_id, v in zip(ids, vectors):
                kept[item_id].vector = v
            done = [i for i in ctx.done if i in ctx.index]
            if done:
                # Near-duplicates of completed items count as completed (guarantee 1).
                sims = vectors @ ctx.index.vectors(done).T
                for item_id, row in zip(ids, sims):
                    # A due review repeats a completed item on purpose: it is not a duplicate.
                    if row.max() >= ctx.duplicate_threshold and item_id not in ctx.profile.history.completed:
                        del kept[item_id]
                        dropped["duplicate"] += 1
        return kept, dropped


def _rescale(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over the candidates: cosines of any encoder become comparable (e5 puts
    every pair of Chinese texts near 0.8, a bag of words near 0), gaps keep their proportions."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return values
    spread = values.max() - values.min()
    if spread < 1e-9:
        return np.full(len(values), 0.5)
    return (values - values.min()) / spread


@dataclass(frozen=True)
class ScoreWeights:
    """How much each signal counts in an item's score."""

    relevance: float = 1.0
    need: float = 0.9
    fresh: float = 0.25
    level: float = 0.3
    collab: float = 0.3
    case: float = 0.4
    resume: float = 0.6
    offline: float = 2.0
    birthday: float = 3.0
    prepare: float = 0.5
    negative: float = 0.5
    rotation: float = 0.5
    weak: float = 0.8
    review: float = 1.5
    # Measured on the evaluation harness (evaluation/discussion.md): what members complete
    # together and what members of the same roles complete predicted held-out completions best.
    cooccur: float = 2.0
    role_popular: float = 1.0


class Scorer:
    """Blends relevance, curriculum need, freshness, level progression, the branch's collaborative
    signal, the store-wide co-completion and role-aware popularity (see
    :mod:`recsys.collaborative`) and the plan's mix rules into one score, and writes the reasons.

    Reviews due are capped at the curriculum's ``mastery.reviews_per_day`` (the best-scored
    kept), so they cannot crowd new study out of a list.

    Args:
        weights: The blend.
        min_branch_members: The collaborative signal is used only when at least this many
            members of the branch have completed something recently.
        max_scored: At most this many candidates are scored, those retrieval ranked best (the
            scoring is per item; the retrieval ranks already order them well enough to cut).
        stated_share: For a member with history, the share of relevance that comes from the
            stated interests (the role descriptions keep 0.15, the history has the rest). Stated
            interests are weighed nearly as much as history: history from what a portal happened
            to show dilutes interest (measured in evaluation/discussion.md).
    """

    def __init__(
        self, weights: ScoreWeights | None = None, min_branch_members: int = 3, max_scored: int = 400,
        stated_share: float = 0.45,
    ) -> None:
        self.weights = weights or ScoreWeights()
        self.min_branch_members = min_branch_members
        self.max_scored = max_scored
        self.stated_share = stated_share

    def __call__(self, ctx: PlanContext, candidates: dict[str, Candidate]) -> list[Candidate]:
        cands = sorted(candidates.values(), key=lambda c: (c.rank, c.item.id))[: self.max_scored]
        cands.sort(key=lambda c: c.item.id)
        if not cands:
            return []
        p, w, cur = ctx.profile, self.weights, ctx.curriculum
        x = np.stack([c.vector for c in cands])

        def best(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if not len(vectors):
                return np.zeros(len(cands)), np.zeros(len(cands), dtype=int)
            sims = x @ vectors.T
            return sims.max(axis=1), sims.argmax(axis=1)

        hist, hist_arg = best(p.interests)
        stated, _ = best(p.stated)
        role, _ = best(p.roles)
        interests = set(p.member.interests)
        topic_match = np.array([1.0 if interests & set(c.item.topics) else 0.0 for c in cands])
        if len(p.interests):
            share = self.stated_share
            relevance = ((0.85 - share) * _rescale(hist) + 0.15 * _rescale(role)
                         + share * np.maximum(_rescale(stated), topic_match) * (len(p.stated) > 0))
        else:  # cold start: stated interests and the role
            relevance = 0.6 * np.maximum(_rescale(stated), topic_match) * (len(p.stated) > 0) + 0.4 * _rescale(role)
            if not len(p.stated):
                relevance = _rescale(role) if len(p.roles) else np.full(len(cands), 0.5)
        if p.negative is not None:
            neg = x @ p.negative
            negative = np.clip((neg - neg.mean()) / max(neg.std(), 1e-6), 0, 3) / 3
        else:
            negative = np.zeros(len(cands))
        cooccur, cooccur_anchor, role_pop, role_best = self._collaborative(ctx, cands)
        # How close each online item is to the offline activities the member will attend soon,
        # so the plan can pair reading with the visit.
        prep_targets = [t for t in ctx.prep_targets if t.id in ctx.index]
        prep_sims, prep_arg = best(ctx.index.vectors([t.id for t in prep_targets]))
        prep_cut = np.quantile(prep_sims, 0.9) if len(prep_targets) else np.inf
        prep_topics = [set(t.topics) for t in prep_targets]

        roles = {r: cur.role_name(r) for r in p.member.roles}
        case_due = p.last_case is None or (ctx.day - p.last_case).days >= cur.case_every_days
        birthday_week = cur.in_birthday_week(p.member, ctx.day)
        branch_ok = ctx.branch_active >= self.min_branch_members
        # "Related to what you studied" only for the closest tenth, not for anything ranked.
        hist_cut = np.quantile(hist, 0.9) if len(p.interests) else np.inf
        # Likewise "others who studied X study this" and "members of your role study this".
        cooccur_cut = max(np.quantile(cooccur, 0.9), 1e-9)
        role_cut = max(np.quantile(role_pop, 0.9), 1e-9)
        for n, c in enumerate(cands):
            it = c.item
            s: dict[str, float] = {"relevance": float(relevance[n])}
            reasons: list[tuple[float, str]] = []
            if hist[n] >= hist_cut:
                anchor = ctx.items.get(p.interest_anchor[hist_arg[n]])
                if anchor is not None and anchor.id != it.id:
                    reasons.append((w.relevance * relevance[n], explain.related_to(anchor.title)))
            if topic_match[n]:
                topic = next(t for t in it.topics if t in interests)
                reasons.append((w.relevance * relevance[n] * 0.9, explain.stated_interest(topic)))
            # Curriculum need: how far behind pace the member is on the item's required topics,
            # a month's worth behind counting fully.
            need, need_reason = 0.0, None
            for topic in it.topics:
                if topic in p.policy.required:
                    behind, remaining = p.topic_gap(topic)
                    monthly = p.policy.topic_target(topic) / 12
                    value = 0.25 + 0.75 * min(1.0, behind / monthly) if remaining > 0 else 0.0
                    if value > need:
                        role_id = p.policy.required[topic][1]
                        need = value
                        need_reason = explain.required_topic(roles.get(role_id, cur.role_name(role_id)), topic, remaining)
            s["need"] = need
            if need_reason:
                reasons.append((w.need * need + 0.05, need_reason))
            age = (ctx.day - it.published).days
            if set(it.topics) & set(cur.current_topics):
                s["fresh"] = 0.5 ** (age / cur.fresh_days)
                if s["fresh"] > 0.5:
                    reasons.append((w.fresh * s["fresh"], explain.fresh(it)))
            else:
                s["fresh"] = 0.3 * 0.5 ** (age / 365)
            main = it.topics[0] if it.topics else None
            mastered = p.mastery.get(main, 0) if main else 0
            estimate = p.estimates.get(main) if main and cur.mastery_feedback else None
            if estimate is not None:
                # Quizzes say what the member can do: the level they should study now fits
                # best, easier items next, harder ones hardly at all (weak topics go back down).
                s["level"] = 1.0 if it.level == estimate.level else (0.5 if it.level < estimate.level else 0.0)
                if estimate.weak and it.level <= estimate.level:
                    s["weak"] = 1.0
                    reasons.append((w.weak + 0.2, explain.weak_topic(main)))
                elif not estimate.weak and estimate.level > 1 and it.level == estimate.level:
                    reasons.append((w.level, explain.mastered_next(main, it.level)))
            else:
                # Best is the level after the one mastered; the same level is fine; skipping
                # ahead or going back less so.
                s["level"] = {1: 1.0, 0: 0.6}.get(it.level - mastered, 0.2 if it.level > mastered else 0.3)
                if mastered and it.level == mastered + 1:
                    reasons.append((w.level, explain.next_level(main, it.level)))
            review = due_review(it, ctx) if it.id in p.history.completed else None
            if review is not None:
                s["review"] = 1.0
                wait = (review.due - review.since).days
                reasons.append((w.review + 3, explain.review(it.title, review.last_score, wait)))
            if branch_ok and ctx.branch_counts.get(it.id, 0) >= 2:
                s["collab"] = ctx.branch_counts[it.id] / ctx.branch_active
                reasons.append((w.collab * s["collab"] + 0.1, explain.branch_popular()))
            s["cooccur"] = float(cooccur[n])
            if cooccur[n] >= cooccur_cut:
                anchor = ctx.items.get(cooccur_anchor[n] or "")
                reasons.append((w.cooccur * cooccur[n], explain.peers_also_studied(anchor.title if anchor else None)))
            s["role_popular"] = float(role_pop[n])
            if role_pop[n] >= role_cut and role_best[n] is not None:
                reasons.append((w.role_popular * role_pop[n] * 0.8, explain.role_popular(cur.role_name(role_best[n]))))
            if it.kind == "case" and case_due:
                s["case"] = 1.0
                reasons.append((w.case * 0.5, explain.case_mix(cur.case_every_days)))
            if it.id in p.history.started:
                s["resume"] = 1.0
                reasons.append((w.resume + 1, explain.continue_started()))
            if it.mode == "offline":
                s["offline"] = 1.0
                text = explain.enrolled(it) if it.id in p.history.enrolled else explain.offline_today(it)
                reasons.append((w.offline + 1, text))
            if birthday_week and cur.is_birthday_item(it.title):
                s["birthday"] = 1.0
                reasons.append((w.birthday + 1, explain.birthday(p.member.joined)))
            # Preparation: close to an activity ahead and on its subject.
            if (it.mode == "online" and prep_sims[n] >= prep_cut and prep_sims[n] > 0
                    and prep_topics[prep_arg[n]] & set(it.topics)):
                s["prepare"] = 1.0
                reasons.append((w.prepare, explain.prepare_for(prep_targets[prep_arg[n]])))
            s["negative"] = float(negative[n])
            s["rotation"] = 1.0 if ctx.recent_topics and main in ctx.recent_topics else 0.0
            c.signals = s
            c.score = sum(getattr(w, k) * v for k, v in s.items()) - 2 * (
                w.negative * s["negative"] + w.rotation * s["rotation"]
            )
            if not reasons:
                names = [roles[r] for r in p.member.roles if r in roles]
                reasons.append((0.0, explain.role_start(names[0] if names else "党员")))
            c.reasons = reasons
        ranked = sorted(cands, key=lambda c: (-c.score, c.item.id))
        cap, reviews = cur.mastery.reviews_per_day, 0
        kept = []
        for c in ranked:
            if "review" in c.signals:
                if reviews >= cap:
                    continue
                reviews += 1
            kept.append(c)
        return kept

    @staticmethod
    def _collaborative(ctx: PlanContext, cands: list[Candidate]) -> tuple[np.ndarray, list, np.ndarray, list]:
        """Co-completion with the member's history and popularity among the member's roles, each
        scaled to [0, 1] by its best candidate (0 stays 0: no evidence is not average evidence)."""
        model = ctx.collaborative
        if model is None:
            none: list = [None] * len(cands)
            return np.zeros(len(cands)), none, np.zeros(len(cands)), none
        ids = [c.item.id for c in cands]
        positive = {i: w for i, w in ctx.profile.history.interest.items() if w > 0}
        cooccur, anchors = model.related(positive, ids)
        role_pop, best = model.role_popularity(list(ctx.profile.member.roles), ids)
        return (cooccur / cooccur.max() if cooccur.max() > 0 else cooccur, anchors,
                role_pop / role_pop.max() if role_pop.max() > 0 else role_pop, best)


class MMRReranker:
    """Maximal marginal relevance: trades score against similarity to what is already chosen, and
    caps items per topic, so one theme does not pile up.

    Args:
        lambda_: Weight of the score against diversity (1 = score only).
        keep: How many candidates to pass on.
        per_topic: Most items sharing a main topic among those kept (relaxed if too few remain).
    """

    def __init__(self, lambda_: float = 0.7, keep: int = 40, per_topic: int = 3) -> None:
        self.lambda_ = lambda_
        self.keep = keep
        self.per_topic = per_topic

    def __call__(self, ctx: PlanContext, ranked: list[Candidate]) -> list[Candidate]:
        if not ranked:
            return []
        pool = ranked[: 4 * self.keep]
        x = np.stack([c.vector for c in pool])
        sims = x @ x.T
        # Cosines of some encoders sit high for any two texts: measure similarity above the
        # pool's own typical level.
        base = float(np.median(sims))
        sims = np.clip((sims - base) / max(1.0 - base, 1e-6), 0.0, 1.0)
        scores = np.array([c.score for c in pool])
        spread = max(scores.max() - scores.min(), 1e-6)
        rel = (scores - scores.min()) / spread
        mains = [c.item.topics[0] if c.item.topics else "" for c in pool]
        chosen: list[tuple[int, float]] = []
        topics: Counter = Counter()
        open_ = np.ones(len(pool), dtype=bool)
        max_sim = np.zeros(len(pool))
        while open_.any() and len(chosen) < self.keep:
            crowded = np.array([topics[m] >= self.per_topic for m in mains])
            value = self.lambda_ * rel - (1 - self.lambda_) * max_sim - crowded
            value[~open_] = -np.inf
            best = int(np.argmax(value))  # first of equals: the better-ranked candidate
            chosen.append((best, float(max_sim[best]) + float(crowded[best])))
            open_[best] = False
            topics[mains[best]] += 1
            max_sim = np.maximum(max_sim, sims[best])
        out = []
        for i, redundancy in chosen:
            c = pool[i]
            # The score the budget fitter maximises: the scorer's, less what the item repeats of
            # those chosen before it, in the scorer's own units.
            c.score = max(scores[i] - (1 - self.lambda_) / self.lambda_ * redundancy * spread, 0.0)
            out.append(c)
        return out


class BudgetFitter:
    """Packs the day into the budget: a 0/1 knapsack over the re-ranked candidates.

    An item is worth its score times its minutes to the power ``length_exponent``: study time
    counts (hours are what the targets are made of, and a day should use most of its budget),
    but less than proportionally, so that short, fragmented items a member can fit into a
    break are not crowded out by one long lecture of the same score. At most one offline
    activity a day.

    Args:
        length_exponent: How much an item's length adds to its worth (0: not at all, 1: fully).
    """

    def __init__(self, length_exponent: float = 0.75) -> None:
        self.length_exponent = length_exponent

    def __call__(self, ctx: PlanContext, ranked: list[Candidate]) -> list[Candidate]:
        budget = ctx.budget
        offline = [c for c in ranked if c.item.mode == "offline"]
        pool = [c for c in ranked if c.item.mode == "online"] + offline[:1]
        pool = [c for c in pool if c.item.minutes <= budget]
        if not pool:
            return []
        values = [(max(c.score, 0.0) + 0.05) * c.item.minutes ** self.length_exponent for c in pool]
        weights = [c.item.minutes for c in pool]
        chosen = _knapsack(values, weights, budget)
        picked = [pool[i] for i in chosen]
        return sorted(picked, key=lambda c: (c.item.mode != "offline", -c.score, c.item.id))


def _knapsack(values: list[float], weights: list[int], capacity: int) -> list[int]:
    """Indices of the best subset within ``capacity`` (exact dynamic programme, O(n·capacity))."""
    n = len(values)
    best = np.zeros(capacity + 1)
    take = np.zeros((n, capacity + 1), dtype=bool)
    for i, (v, w) in enumerate(zip(values, weights)):
        if w > capacity:
            continue
        candidate = best[: capacity + 1 - w] + v
        better = candidate > best[w:] + 1e-12
        take[i, w:] = better
        best[w:] = np.where(better, candidate, best[w:])
    chosen, c = [], capacity
    for i in range(n - 1, -1, -1):
        if take[i, c]:
            chosen.append(i)
            c -= weights[i]
    return chosen[::-1]


class Recommender:
    """Runs the pipeline and turns its result into a :class:`StudyList` with reasons and notes."""

    def __init__(
        self,
        selector: CandidateSelector | None = None,
        filter_: FeasibilityFilter | None = None,
        scorer: Scorer | None = None,
        reranker: MMRReranker | None = None,
        fitter: BudgetFitter | None = None,
        max_reasons: int = 3,
    ) -> None:
        self.selector = selector or CandidateSelector()
        self.filter = filter_ or FeasibilityFilter()
        self.scorer = scorer or Scorer()
        self.reranker = reranker or MMRReranker()
        self.fitter = fitter or BudgetFitter()
        self.max_reasons = max_reasons

    def __call__(self, ctx: PlanContext) -> StudyList:
        candidates = self.selector(ctx)
        feasible, dropped = self.filter(ctx, candidates)
        ranked = self.scorer(ctx, feasible)
        diverse = self.reranker(ctx, ranked)
        picked = self.fitter(ctx, diverse)
        entries = tuple(
            StudyEntry(
                item=c.item,
                score=round(c.score, 6),
                reasons=tuple(dict.fromkeys(t for _, t in sorted(c.reasons, key=lambda r: -r[0])))[: self.max_reasons],
                review="review" in c.signals,
            )
            for c in picked
        )
        upcoming = self._upcoming(ctx, candidates)
        notes: list[str] = []
        if not entries:
            if not feasible:
                done_all = len(ctx.done) >= len(ctx.items) or dropped.keys() <= {"completed", "duplicate"}
                notes.append(explain.empty_done() if done_all else explain.empty_nothing())
            else:
                shortest = min(c.item.minutes for c in feasible.values())
                notes.append(explain.empty_budget(ctx.budget, shortest) if shortest > ctx.budget else explain.empty_nothing())
        return StudyList(
            member=ctx.profile.member.id, day=ctx.day, budget=ctx.budget,
            entries=entries, upcoming=upcoming, notes=tuple(notes),
        )

    def _upcoming(self, ctx: PlanContext, candidates: dict[str, Candidate], most: int = 3) -> tuple[StudyEntry, ...]:
        """Offline activities in the next days that the member could attend and enrol in."""
        last = ctx.day + dt.timedelta(days=ctx.upcoming_days)
        found = []
        for c in candidates.values():
            it = c.item
            if it.mode != "offline" or infeasibility(it, ctx, for_day=False) is not None:
                continue
            first = it.schedule.starts.astimezone(TZ).date()
            if ctx.day < first <= last:
                seats = None
                if it.schedule.capacity is not None:
                    seats = it.schedule.capacity - ctx.seats_taken.get(it.id, 0)
                reason = explain.enrolled(it) if it.id in ctx.profile.history.enrolled else explain.offline_upcoming(it, seats)
                found.append((it.schedule.starts, it.id, StudyEntry(it, 0.0, (reason,))))
        return tuple(e for _, _, e in sorted(found, key=lambda f: (f[0], f[1]))[:most])
