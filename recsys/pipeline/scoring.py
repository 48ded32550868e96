"""Scoring: one number per feasible candidate, with the reasons behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import recsys.pipeline.explain as explain
from recsys.pipeline.component import Component
from recsys.pipeline.context import Candidate, PlanContext
from recsys.pipeline.rules import due_review

__all__ = ["Scorer", "ScorerConfig", "ScoreWeights"]


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


@dataclass(frozen=True)
class ScorerConfig:
    """Settings of :class:`Scorer`.

    Attributes:
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

    weights: ScoreWeights = field(default_factory=ScoreWeights)
    min_branch_members: int = 3
    max_scored: int = 400
    stated_share: float = 0.45


class Scorer(Component[ScorerConfig]):
    """Blends relevance, curriculum need, freshness, level progression, the branch's collaborative
    signal, the store-wide co-completion and role-aware popularity (see
    :mod:`recsys.pipeline.collaborative`) and the plan's mix rules into one score, and writes the reasons.

    Reviews due are capped at the curriculum's ``mastery.reviews_per_day`` (the best-scored
    kept), so they cannot crowd new study out of a list.

    Settings: :class:`ScorerConfig`.
    """

    config_class = ScorerConfig

    def __call__(self, ctx: PlanContext, candidates: dict[str, Candidate]) -> list[Candidate]:
        cands = sorted(candidates.values(), key=lambda c: (c.rank, c.item.id))[: self.config.max_scored]
        cands.sort(key=lambda c: c.item.id)
        if not cands:
            return []
        p, w, cur = ctx.profile, self.config.weights, ctx.curriculum
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
            share = self.config.stated_share
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
        branch_ok = ctx.branch_active >= self.config.min_branch_members
        # "Related to what you studied" only for the closest tenth, not for anything ranked.
        hist_cut = np.quantile(hist, 0.9) if len(p.interests) else np.inf
        # Likewise "others who studied X study this" and "members of your role study this".
        cooccur_cut = float(max(np.quantile(cooccur, 0.9), 1e-9))
        role_cut = float(max(np.quantile(role_pop, 0.9), 1e-9))
        hist_cut, prep_cut = float(hist_cut), float(prep_cut)
        # Plain Python numbers from here: the loop below indexes them per candidate, and numpy
        # scalars cost several times more per operation (the values are the same float64s).
        relevance, hist, hist_arg = relevance.tolist(), hist.tolist(), hist_arg.tolist()
        topic_match, negative = topic_match.tolist(), negative.tolist()
        cooccur, role_pop = cooccur.tolist(), role_pop.tolist()
        prep_sims, prep_arg = prep_sims.tolist(), prep_arg.tolist()
        current = set(cur.current_topics)
        # Curriculum need per required topic, once: how far behind pace the member is, a month's
        # worth behind counting fully.
        needs: dict[str, tuple[float, str | None]] = {}
        for topic in p.policy.required:
            behind, remaining = p.topic_gap(topic)
            monthly = p.policy.topic_target(topic) / 12
            value = 0.25 + 0.75 * min(1.0, behind / monthly) if remaining > 0 else 0.0
            role_id = p.policy.required[topic][1]
            needs[topic] = (value, explain.required_topic(roles.get(role_id, cur.role_name(role_id)), topic, remaining)
                            if value > 0 else None)
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
            # Curriculum need: the largest of the item's required topics.
            need, need_reason = 0.0, None
            for topic in it.topics:
                if topic in needs and needs[topic][0] > need:
                    need, need_reason = needs[topic]
            s["need"] = need
            if need_reason:
                reasons.append((w.need * need + 0.05, need_reason))
            age = (ctx.day - it.published).days
            if current.intersection(it.topics):
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
