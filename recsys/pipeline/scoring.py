"""Scoring: one number per feasible candidate, with the reasons behind it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

import recsys.pipeline.explain as explain
from recsys.pipeline.component import Component
from recsys.pipeline.context import PlanContext, Pool

__all__ = ["Scorer", "ScorerConfig", "ScoreWeights", "SIGNALS", "PREFERENCE", "PENALTIES", "blend_parts"]


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
    # The trained models (recsys train), when a store has them and no learned blend: EASE^R and
    # iALS scores are scaled to [0, 1] by the best candidate, as co-completion is.
    ease: float = 1.5
    ials: float = 1.0
    popularity: float = 0.0
    fit: float = 0.0
    topic_history: float = 0.0
    topic_match: float = 0.0


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
        min_reason_support: A reason that others study an item (the branch, those who studied
            the same, those of the member's role) is given only when at least this many members
            did: below that it is hearsay, whatever the signal says.
    """

    weights: ScoreWeights = field(default_factory=ScoreWeights)
    min_branch_members: int = 3
    max_scored: int = 400
    min_reason_support: int = 5
    stated_share: float = 0.45


#: How far above the best candidate an item the member started on the day planned for scores.
_STUDYING_NOW = 1e-3

#: The blend's signals, in the order they are added up (fixed, so a score is the same number
#: whichever signals an item has).
SIGNALS = ("relevance", "need", "fresh", "level", "weak", "review", "collab", "cooccur", "role_popular",
           "case", "resume", "offline", "birthday", "prepare", "negative", "rotation", "ease", "ials", "popularity",
           "fit", "topic_history", "topic_match")
#: The signals that say what the member will take up: a learned blend (:mod:`recsys.models`)
#: replaces their hand-set weights. The others carry the plan's own goals (required topics behind
#: pace, reviews, the day's activities, rotation, the case mix) and keep their weights. Whether a
#: member goes back to what they started, and turns from what is like what they skipped, is a
#: question of preference the history answers: on the evaluation's leave-last-3-out protocol the
#: hand-set weights of both cost the untrained engine more than anything else in its score.
PREFERENCE = ("relevance", "fresh", "level", "collab", "cooccur", "role_popular", "ease", "ials", "popularity", "fit",
              "topic_history", "topic_match", "resume", "negative")
#: Signals the hand-set blend subtracts (their weight is a penalty).
PENALTIES = ("negative", "rotation")


def blend_parts(w: ScoreWeights, s: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The hand-set blend split in two: the preference part (:data:`PREFERENCE`) and the plan's
    part (the rest); :data:`PENALTIES` count against an item. Their sum orders lists without a
    learned blend."""
    pref = 0
    plan = 0
    for name in SIGNALS:
        term = (-1 if name in PENALTIES else 1) * getattr(w, name) * s[name]
        if name in PREFERENCE:
            pref = pref + term
        else:
            plan = plan + term
    return pref, plan


class Scorer(Component[ScorerConfig]):
    """Blends relevance, curriculum need, freshness, level progression, the branch's collaborative
    signal, the store-wide co-completion and role-aware popularity (see
    :mod:`recsys.pipeline.collaborative`) and the plan's mix rules into one score.

    Every signal is an array over the candidates; :meth:`reasons` writes the reasons of the few
    candidates a list ends up with, from what scoring left in :attr:`Pool.signals`.

    Reviews due are capped at the curriculum's ``mastery.reviews_per_day`` (the best-scored
    kept), so they cannot crowd new study out of a list.

    Settings: :class:`ScorerConfig`.
    """

    config_class = ScorerConfig

    def __call__(self, ctx: PlanContext, pool: Pool) -> Pool:
        """The candidates scored, best first (ties by id), with their signals."""
        cols = ctx.items.columns
        # The best-ranked by retrieval (ties by id), then in id order.
        cut = np.lexsort((cols.id_rank[pool.rows], pool.rank))[: self.config.max_scored]
        pool = pool.take(cut[np.argsort(cols.id_rank[pool.rows[cut]])])
        n = len(pool)
        if not n:
            pool.score = np.zeros(0)
            return pool
        p, w, cur = ctx.profile, self.config.weights, ctx.curriculum
        rows = pool.rows
        # How close each online item is to the offline activities the member will attend soon
        # (within the days activities ahead are shown: reading for a visit eight weeks off is
        # forgotten by then), so the plan can pair reading with the visit.
        soon = (ctx.day + dt.timedelta(days=ctx.upcoming_days)).toordinal()
        prep = cols.rows(t.id for t in ctx.prep_targets)
        prep = prep[cols.starts_day[prep] <= soon]
        prep = prep[ctx.items.indexed[prep]]
        # Every query of the member against every candidate in one product (the candidates'
        # vectors are read once), then taken apart by query group.
        groups = [p.interests, p.stated, p.roles, ctx.items.vectors(prep)]
        if p.negative is not None:
            groups.append(p.negative[None, :])
        groups = [g for g in groups if len(g)]
        sims_all = pool.products(ctx, np.concatenate(groups)) if groups else np.zeros((n, 0), dtype=np.float32)
        parts = iter(np.split(sims_all, np.cumsum([len(g) for g in groups])[:-1], axis=1))

        def best(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if not len(vectors):
                return np.zeros(n), np.zeros(n, dtype=int)
            sims = next(parts)
            return sims.max(axis=1), sims.argmax(axis=1)

        topics = cols.topics[rows]
        main = cols.main_topic[rows]
        level = cols.level[rows].astype(np.int64)
        hist, hist_arg = best(p.interests)
        stated, _ = best(p.stated)
        role, _ = best(p.roles)
        topic_match = (topics & cols.topic_codes(p.member.interests)).any(axis=1).astype(np.float64)
        if len(p.interests):
            share = self.config.stated_share
            relevance = ((0.85 - share) * _rescale(hist) + 0.15 * _rescale(role)
                         + share * np.maximum(_rescale(stated), topic_match) * (len(p.stated) > 0))
        else:  # cold start: stated interests and the role
            relevance = 0.6 * np.maximum(_rescale(stated), topic_match) * (len(p.stated) > 0) + 0.4 * _rescale(role)
            if not len(p.stated):
                relevance = _rescale(role) if len(p.roles) else np.full(n, 0.5)
        prep_sims, prep_arg = best(prep)
        prep_cut = float(_quantile(prep_sims, 0.9)) if len(prep) else np.inf
        if p.negative is not None:
            neg = next(parts)[:, 0]
            negative = np.clip((neg - neg.mean()) / max(neg.std(), 1e-6), 0, 3) / 3
        else:
            negative = np.zeros(n)
        cooccur, cooccur_anchor, role_pop, role_best = self._collaborative(ctx, pool)
        ease, ials, popularity = self._trained(ctx, pool)

        z = np.zeros(n)
        s: dict[str, np.ndarray] = dict.fromkeys(SIGNALS, z)
        s["relevance"] = relevance
        # Curriculum need: the largest of the item's required topics' needs.
        s["need"] = (topics * _topic_values(cols, _needs(ctx))).max(axis=1, initial=0.0)
        age = ctx.day.toordinal() - cols.published[rows].astype(np.int64)
        current = (topics & cols.topic_codes(cur.current_topics)).any(axis=1)
        s["fresh"] = np.where(current, 0.5 ** (age / cur.fresh_days), 0.3 * 0.5 ** (age / 365))
        mastered = _topic_values(cols, p.mastery, main)
        estimates = p.estimates if cur.mastery_feedback else {}
        estimate = _topic_values(cols, {t: e.level for t, e in estimates.items()}, main)
        weak_topic = _topic_values(cols, {t: float(e.weak) for t, e in estimates.items()}, main) > 0
        known = estimate > 0
        # Quizzes say what the member can do: the level they should study now fits best, easier
        # items next, harder ones hardly at all (weak topics go back down). Without quizzes: best
        # is the level after the one mastered; the same level is fine; skipping ahead or going
        # back less so.
        step = level - mastered
        s["level"] = np.where(
            known, np.where(level == estimate, 1.0, np.where(level < estimate, 0.5, 0.0)),
            np.where(step == 1, 1.0, np.where(step == 0, 0.6, np.where(level > mastered, 0.2, 0.3))))
        s["weak"] = (known & weak_topic & (level <= estimate)).astype(np.float64)
        s["review"] = cols.flag(_reviews_due(ctx))[rows].astype(np.float64)
        branch_ok = ctx.branch_active >= self.config.min_branch_members
        if branch_ok and ctx.branch_counts:
            counts = ctx.branch_counts.column(cols)[rows]
            s["collab"] = np.where(counts >= 2, counts / max(ctx.branch_active, 1), 0.0)
        s["cooccur"], s["role_popular"] = cooccur, role_pop
        case_due = p.last_case is None or (ctx.day - p.last_case).days >= cur.case_every_days
        if case_due and "case" in cols.kinds:
            s["case"] = (cols.kind[rows] == cols.kinds.index("case")).astype(np.float64)
        s["resume"] = cols.flag(p.history.started)[rows].astype(np.float64)
        offline = cols.offline[rows]
        s["offline"] = offline.astype(np.float64)
        if cur.in_birthday_week(p.member, ctx.day):
            s["birthday"] = cols.title_flag(cur.birthday_keywords)[rows].astype(np.float64)
        # Preparation: close to an activity ahead and on its subject.
        if len(prep):
            on_subject = (topics & cols.topics[prep][prep_arg]).any(axis=1)
            s["prepare"] = (~offline & (prep_sims >= prep_cut) & (prep_sims > 0) & on_subject).astype(np.float64)
        s["negative"] = negative
        s["ease"], s["ials"], s["popularity"] = ease, ials, popularity
        s["fit"] = np.minimum(cols.minutes[rows] / max(ctx.budget, 1), 1.5)
        s["topic_history"] = _topic_history(ctx, topics)
        s["topic_match"] = topic_match
        if ctx.recent_topics:
            s["rotation"] = (cols.topic_codes(ctx.recent_topics)[np.maximum(main, 0)] & (main >= 0)).astype(np.float64)
        blend = None
        if ctx.ranking is not None:
            cold = not any(v > 0 for v in p.history.interest.values())
            blend = ctx.ranking.cold_blend if cold else ctx.ranking.blend
        pref, plan = blend_parts(w, s)
        if blend is None:
            pool.score = np.broadcast_to(pref + plan, n).astype(np.float64)
        else:
            # The learned blend orders by preference; the plan's goals are added as before.
            # Curriculum need spreads with the learned order as far as the blend says (see
            # LearnedBlend.need_scale), so required topics keep weighing against preference.
            pool.score = blend.apply(s, np.broadcast_to(pref, n)) + plan + (blend.need_scale - 1.0) * w.need * s["need"]
        # What the member opened today is what they are studying: whatever the blend thinks of
        # going back to things started, it ranks first on the day's list asked again (the member
        # page lost the card the member had just opened). Just above the best, not far above:
        # the diversity step scales every score by their spread.
        today = cols.flag(p.history.started_today)[rows]
        if today.any():
            pool.score = np.where(today, np.maximum(pool.score, pool.score.max() + _STUDYING_NOW), pool.score)

        # What the reasons read: "related to what you studied" only for the closest tenth, not
        # for anything ranked; likewise "others who studied X study this" and "members of your
        # role study this".
        s["hist_hot"] = hist >= (_quantile(hist, 0.9) if len(p.interests) else np.inf)
        s["hist_arg"] = hist_arg
        s["topic_match"] = topic_match
        s["cooccur_hot"] = cooccur >= max(float(_quantile(cooccur, 0.9)), 1e-9)
        s["cooccur_anchor"] = cooccur_anchor
        s["role_hot"] = (role_pop >= max(float(_quantile(role_pop, 0.9)), 1e-9)) & np.array(
            [b is not None for b in role_best], dtype=bool)
        s["role_best"] = role_best
        s["prepare_arg"] = np.asarray(prep)[prep_arg] if len(prep) else np.full(n, -1)
        pool.signals = s

        ranked = pool.take(np.lexsort((cols.id_rank[rows], -pool.score)))
        # Only reviews the day can hold count toward the cap: a longer one is left out later.
        review = (ranked.signals["review"] > 0) & (cols.minutes[ranked.rows] <= ctx.budget)
        over = review & (np.cumsum(review) > cur.mastery.reviews_per_day)
        return ranked.take(~over) if over.any() else ranked

    def reasons(self, ctx: PlanContext, pool: Pool) -> list[list[tuple[float, str]]]:
        """Each candidate's reasons with their weights, from the signals scoring left in ``pool``
        (meant for the few a list ends up with)."""
        p, w, cur = ctx.profile, self.config.weights, ctx.curriculum
        s = pool.signals
        cols = ctx.items.columns
        interests = set(p.member.interests)
        needs = _needs(ctx)
        roles = {r: cur.role_name(r) for r in p.member.roles}
        model, support = ctx.collaborative, self.config.min_reason_support
        # By row: the branch's counts as a mapping by id are built only if something reads them.
        branch = ctx.branch_counts.column(cols) if ctx.branch_counts else np.zeros(len(cols))
        out = []
        for n, it in enumerate(pool.items(ctx)):
            relevance = float(s["relevance"][n])
            reasons: list[tuple[float, str]] = []
            if s["hist_hot"][n]:
                anchor = ctx.items.get(p.interest_anchor[s["hist_arg"][n]])
                # "Studied" only of what the member did study: not an activity merely enrolled
                # in, nor what an earlier day of a path only plans; and not as the reason for
                # something new what they gave one or two stars.
                studied = (anchor is not None and anchor.id not in ctx.planned
                           and (anchor.id in p.history.completed or anchor.id in p.history.started)
                           and p.history.ratings.get(anchor.id, 3.0) > 2.0)  # not what they rated poorly
                if studied and anchor.id != it.id:
                    reasons.append((w.relevance * relevance, explain.related_to(anchor.title, attended=not anchor.online)))
            if s["topic_match"][n]:
                topic = next(t for t in it.topics if t in interests)
                reasons.append((w.relevance * relevance * 0.9, explain.stated_interest(topic)))
            need, topic = max(((needs.get(t, 0.0), t) for t in it.topics), key=lambda v: v[0], default=(0.0, None))
            if need > 0:
                role_id = p.policy.required[topic][1]
                remaining = p.topic_gap(topic)[1]
                reasons.append((w.need * need + 0.05,
                                explain.required_topic(roles.get(role_id, cur.role_name(role_id)), topic, remaining)))
            if s["fresh"][n] > 0.5 and set(cur.current_topics).intersection(it.topics):
                reasons.append((w.fresh * float(s["fresh"][n]), explain.fresh(it)))
            main = it.topics[0] if it.topics else None
            estimate = p.estimates.get(main) if main and cur.mastery_feedback else None
            if estimate is not None:
                if s["weak"][n]:
                    reasons.append((w.weak + 0.2, explain.weak_topic(main)))
                elif not estimate.weak and estimate.level > 1 and it.level == estimate.level:
                    reasons.append((w.level, explain.mastered_next(main, it.level)))
            else:
                mastered = p.mastery.get(main, 0) if main else 0
                if mastered and it.level == mastered + 1:
                    # In a path the stage before may be one an earlier day only plans.
                    planned = not _studied_at_level(ctx, main, mastered)
                    reasons.append((w.level, explain.next_level(main, it.level, planned=planned)))
            if s["review"][n]:
                review = p.reviews[it.id]
                reasons.append((w.review + 3, explain.review(it.title, review.last_score, (review.due - review.since).days)))
            # "Others study this" only where enough members do (the signals themselves may rest
            # on fewer: a hint to the ranking is not a claim to the member).
            if s["collab"][n] and branch[pool.rows[n]] >= support:
                reasons.append((w.collab * float(s["collab"][n]) + 0.1, explain.branch_popular()))
            anchor_id = s["cooccur_anchor"][n]
            # "学过": completed, not only started, nor planned by an earlier day of a path.
            if (s["cooccur_hot"][n] and anchor_id and anchor_id not in ctx.planned
                    and anchor_id in p.history.completed and model.co_completers(anchor_id, it.id) >= support):
                anchor = ctx.items.get(anchor_id)
                reasons.append((w.cooccur * float(s["cooccur"][n]),
                                explain.peers_also_studied(anchor.title if anchor else None)))
            role = s["role_best"][n]
            if (s["role_hot"][n] and role != "member"  # every member is a 党员: says nothing
                    and model.role_completers(role, it.id) >= support):
                reasons.append((w.role_popular * float(s["role_popular"][n]) * 0.8,
                                explain.role_popular(cur.role_name(role))))
            if s["case"][n]:
                reasons.append((w.case * 0.5, explain.case_mix(cur.case_every_days)))
            if s["resume"][n]:
                reasons.append((w.resume + 1, explain.continue_started()))
            if s["offline"][n]:
                text = explain.enrolled(it, ctx.day) if it.id in p.history.enrolled else explain.offline_today(it)
                reasons.append((w.offline + 1, text))
            if s["birthday"][n]:
                reasons.append((w.birthday + 1, explain.birthday(p.member.joined)))
            if s["prepare"][n]:
                target = ctx.items[cols.ids[s["prepare_arg"][n]]]
                reasons.append((w.prepare, explain.prepare_for(target)))
            if not reasons:
                names = [roles[r] for r in p.member.roles if r in roles]
                reasons.append((0.0, explain.role_start(names[0] if names else "党员")))
            out.append(reasons)
        return out

    @staticmethod
    def _collaborative(ctx: PlanContext, pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Co-completion with the member's history and popularity among the member's roles, each
        scaled to [0, 1] by its best candidate (0 stays 0: no evidence is not average evidence),
        with the history item and the role behind each (None where there is none)."""
        model = ctx.collaborative
        n = len(pool)
        if model is None:
            none = np.full(n, None, dtype=object)
            return np.zeros(n), none, np.zeros(n), none
        cols = ctx.items.columns
        pos = model.positions(cols.ids)[pool.rows]
        positive = {i: w for i, w in ctx.profile.history.interest.items() if w > 0}
        cooccur, anchor, names = model.related_at(positive, pos)
        roles = list(ctx.profile.member.roles)
        role_pop, best = model.role_popularity_at(roles, pos)
        # Index -1 reads the trailing None: no anchor, no role.
        return (cooccur / cooccur.max() if cooccur.max() > 0 else cooccur, np.array(names + [None], dtype=object)[anchor],
                role_pop / role_pop.max() if role_pop.max() > 0 else role_pop, np.array(roles + [None], dtype=object)[best])


    @staticmethod
    def _trained(ctx: PlanContext, pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """EASE^R and iALS scores with the member's history, each scaled to [0, 1] by the best
        candidate (0 where nothing links; negative scores count as none), and each candidate's
        store-wide popularity (share of members who took it up, scaled by the best): all zero
        without a trained model."""
        model = ctx.ranking
        n = len(pool)
        if model is None or not model.collaborative.item_ids_:
            return np.zeros(n), np.zeros(n), np.zeros(n)
        collab = model.collaborative
        pos = collab.positions(ctx.items.columns.ids)[pool.rows]
        positive = {i: w for i, w in ctx.profile.history.interest.items() if w > 0}
        ease, ials = model.scores_at(positive, pos)
        popularity = np.where(pos >= 0, collab.overall_[np.maximum(pos, 0)], 0.0).astype(np.float64)

        def scaled(v: np.ndarray) -> np.ndarray:
            v = np.maximum(v, 0.0)
            top = v.max() if len(v) else 0.0
            return v / top if top > 0 else v

        return scaled(ease), scaled(ials), scaled(popularity)


def _topic_history(ctx: PlanContext, topics: np.ndarray) -> np.ndarray:
    """The share of the member's positive history (by weight) on each candidate's topics: the
    topics they keep coming back to, read from behaviour rather than from what they stated."""
    cols = ctx.items.columns
    history = {i: w for i, w in ctx.profile.history.interest.items() if w > 0 and i in cols.row}
    if not history or not topics.shape[1]:
        return np.zeros(len(topics))
    rows = cols.rows(list(history))
    weights = np.array(list(history.values()), dtype=np.float64)
    per_topic = weights @ cols.topics[rows].astype(np.float64)
    share = per_topic / max(weights.sum(), 1e-9)
    return (topics * share[None, :]).max(axis=1, initial=0.0)


def _quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (its default, linear method), to the same float, from a
    partition rather than numpy's general path: a list asks for several, and numpy's own
    took as long as the rest of the scoring (``tests/pipeline/test_arithmetic.py`` holds them equal)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    virtual = (n - 1) * q
    lo, hi = (int(virtual), int(virtual) + 1) if virtual < n - 1 else (n - 1, n - 1)
    part = np.partition(values, (lo, hi))
    a, b = part[lo], part[hi]
    gamma = virtual - np.floor(virtual) if virtual < n - 1 else 0.0
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def _needs(ctx: PlanContext) -> dict[str, float]:
    """Curriculum need per required topic: how far behind pace the member is, a month's worth
    behind counting fully (0 once the year's target is met)."""
    p = ctx.profile
    needs = {}
    for topic in p.policy.required:
        behind, remaining = p.topic_gap(topic)
        monthly = p.policy.topic_target(topic) / 12
        needs[topic] = 0.25 + 0.75 * min(1.0, behind / monthly) if remaining > 0 else 0.0
    return needs


def _studied_at_level(ctx: PlanContext, topic: str, level: int) -> bool:
    """Whether the member completed an item of ``topic`` at ``level`` or above themselves, not
    only on an earlier day of a path (:attr:`PlanContext.planned`, counted as done to plan on)."""
    if not ctx.planned:
        return True  # the mastery the level was read from is all the member's own
    for item_id in ctx.profile.history.completed:
        if item_id not in ctx.planned:
            it = ctx.items.get(item_id)
            if it is not None and topic in it.topics and it.level >= level:
                return True
    return False


def _topic_values(cols, values: dict, at: np.ndarray | None = None) -> np.ndarray:
    """``values`` by topic (0 where missing) as a vector over the catalogue's topics; with ``at``
    (topic codes, -1 for none), that vector's entries at those codes (0 for -1)."""
    vec = np.array([values.get(t, 0.0) for t in cols.topic_names] + [0.0], dtype=np.float64)
    if at is None:
        return vec[:-1]
    return vec[at]  # code -1 reads the trailing 0


def _reviews_due(ctx: PlanContext) -> list[str]:
    """Completed quiz items whose review is due (see :func:`recsys.pipeline.due_review`)."""
    if not ctx.curriculum.mastery_feedback:
        return []
    p = ctx.profile
    return [i for i, r in p.reviews.items() if r.due <= ctx.day and i not in ctx.planned and i in p.history.completed]
