"""``recsys train``: learn the ranking model from a store's own events and keep it there.

1. **Validation split from the store's own history.** The last ``validation_days`` days of
   events are held out: the targets are the items each member took up then (complete, attend,
   a quiz, a good rating, a finished video) and had not before. Nothing else is read: a held-out
   test set of an evaluation never reaches training, since training sees only the store. Where
   those days hold too few members (a log of a few intense sessions per member rather than daily
   study), each member's own last day of taking things up is held out instead
   (``TrainConfig.validation``).
2. **Features as lists see them.** The collaborative model, EASE^R and iALS are fitted on the
   events before the cut; every member with targets (at most ``max_members``, a fixed sample) is
   planned on their cut day with the engine's own candidate selection, hard rules and scorer, and
   each candidate's signals are one row, labelled by whether it is a target.
3. **The blend, decided by measurement.** A logistic regression over the preference signals is
   fitted on two thirds of those members; on the other third, NDCG@10 of the candidates ordered
   by the learned blend is compared with the hand-set blend. The learned blend is kept only if it
   does better (then refitted on every member); otherwise lists keep the hand-set weights. The
   EASE^R ridge is chosen the same way, on the same split.
4. **The served model.** The collaborative model, EASE^R and iALS are fitted again on every
   event and stored, with the blend, as the artefact ``ranking``
   (:meth:`recsys.storage.Store.put_artefact`).

The hard rules never depend on any of this: the blend only orders what they let through.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from recsys.exceptions import AmbiguousIdError, ValidationError
from recsys.models.ease import EASE
from recsys.models.ranking import ARTEFACT, LearnedBlend, RankingModel, fit_ials, standing
from recsys.pipeline.collaborative import POSITIVE_KINDS, CollaborativeModel, is_positive
from recsys.pipeline.scoring import PREFERENCE, blend_parts
from recsys.records import TZ, Event
from recsys.storage.tenant import TenantStore

__all__ = ["TrainConfig", "TrainReport", "train", "NotEnoughHistory", "is_stale"]

log = logging.getLogger(__name__)


class NotEnoughHistory(ValidationError):
    """The store has too little history to learn from (lists keep the hand-set weights)."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train`.

    Attributes:
        validation: How validation targets are held out. ``"calendar"``: the last
            ``validation_days`` days of the store, for everyone (members are planned on the first
            of them). ``"member"``: each member's own last day of taking something up, for the
            members who took something up on an earlier day too (each planned on that day; the
            models learn from every event before each member's own last day, so from other
            members' later events too, as on a leave-last-out protocol). ``"auto"`` (default):
            the calendar, unless its days hold fewer than ``min_members`` members with targets
            who took something up before them (a young store whose whole history fits in those
            days has nothing before the cut to learn from) and each member's last day finds
            more. On MovieLens (ratings in bursts over 21 years) the calendar's last weeks held
            1-4 members and no blend could be learnt.
        validation_days: Days at the end of the history held out as validation targets.
        min_positive: Fewest positive (member, item) pairs to train at all.
        min_members: Fewest members with validation targets to learn a blend.
        max_members: Most members planned to learn the blend (a fixed sample beyond).
        ease_l2: EASE^R ridges tried; the best on validation is kept.
        ease_max_items: Most items EASE^R is learnt over (see :mod:`recsys.models.ease`).
        factors: iALS factors.
        iterations: iALS sweeps.
        ials_l2: iALS regularization.
        ials_alpha: iALS confidence scale.
        c: Inverse regularization of the blend's logistic regression (on standardised
            features). 0.1 ordered the simulator's held-out members a little better (temporal
            NDCG@10 0.1224 over 5 seeds) but lowered what members completed in its season (0.435
            completions per member-day against 0.458 with 1.0, 4 seeds), so 1.0 stays.
        scales: Spreads of the learned order against the plan's terms tried (see
            :attr:`recsys.models.LearnedBlend.scale`); the best on validation is kept.
        folds: The validation members are split in this many folds; each is held out in turn
            while the blend is fitted on the others, and the choices (learned or hand-set blend,
            its spread, EASE^R's ridge) rest on every member held out once.
        features: The scorer's preference signals the blend is learnt over.
        need_spread: Curriculum need is multiplied by ``scale ** need_spread`` when the learned
            order is spread by ``scale``: 0 leaves need at its hand-set weight (completions
            first), 1 spreads it as far (required topics first; the default, since the required
            hours are what a member's year is held to). Measured in README, Training.
        cold_blend: Also learn a blend for members without history (see
            :attr:`recsys.models.RankingModel.cold_blend`); without one they keep the hand-set
            weights. On by default: on the cold-start protocol of ``recsys evaluate`` (5 seeds ×
            120 members) NDCG@10 0.0809 against 0.0769 with the hand-set weights (most popular
            0.0751); it costs a second planning pass of the validation members.
        trees: Also fit gradient-boosted trees (LightGBM, binary log loss; the ``trees`` extra)
            as the blend, where the members it is fitted on have at least ``trees_min_positive``
            targets; kept only where they beat the logistic model on the held-out members. Off
            by default: on the simulator (``evaluation/discussion.md``) trees lost to the
            logistic model on validation with 350-600 targets (120 members; NDCG@10 0.111
            against 0.120, 24 fits) and won there with about 2,900 (600 members; 0.134 against
            0.120), but the test split that followed did not confirm it: 0.1192 against 0.1190
            over the 3 of 4 seeds where they were kept. Worth trying on a large real store,
            whose members' choices may weigh one signal by another more than simulated ones.
        trees_min_positive: Fewest targets among the fitted members before trees are tried.
        tree_rounds: Boosting rounds.
        tree_leaves: Leaves per tree.
        tree_min_leaf: Fewest candidates in a leaf.
        tree_rate: Learning rate.
        seed: Seeds iALS, the trees and the member split.
    """

    validation: str = "auto"
    validation_days: int = 14
    min_positive: int = 50
    min_members: int = 20
    max_members: int = 3000
    ease_l2: tuple[float, ...] = (20.0, 80.0, 300.0)
    ease_max_items: int = 8000
    factors: int = 32
    iterations: int = 15
    ials_l2: float = 0.05
    ials_alpha: float = 10.0
    c: float = 1.0
    scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    folds: int = 3
    features: tuple[str, ...] = PREFERENCE
    need_spread: float = 1.0
    cold_blend: bool = True
    trees: bool = False
    trees_min_positive: int = 1500
    tree_rounds: int = 200
    tree_leaves: int = 7
    tree_min_leaf: int = 100
    tree_rate: float = 0.05
    seed: int = 0


@dataclass
class TrainReport:
    """What training did and measured."""

    activity: int
    members: int
    items: int
    positive: int
    validation: str = "calendar"
    validation_members: int = 0
    ease_l2: float | None = None
    ndcg_hand: float | None = None
    ndcg_learned: float | None = None
    blend: str = "hand"
    blend_model: str | None = None
    blend_scale: float | None = None
    cold_ndcg_hand: float | None = None
    cold_ndcg_learned: float | None = None
    cold_blend: str = "hand"
    cold_blend_model: str | None = None
    ease_items: int = 0
    seconds: float = 0.0
    coef: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _day(e: Event) -> dt.date:
    return e.at.astimezone(TZ).date()


def _positive_events(store, page: int = 10_000) -> list[tuple[str, str, str, float | None, int]]:
    """``(member, item, kind, value, Shanghai day ordinal)`` of every event that says a member took
    an item up (:func:`~recsys.pipeline.collaborative.is_positive`), read a page of the log at a
    time: the whole log as events at once held 640 MiB at a million events, and training needs
    only these. Ids are shared between rows, not one string per event."""
    out: list[tuple[str, str, str, float | None, int]] = []
    ids: dict[str, str] = {}
    after = 0
    while batch := store.recorded_events(after, page):
        for _, e in batch:
            if e.kind in POSITIVE_KINDS and is_positive(e.kind, e.value):
                out.append((ids.setdefault(e.member, e.member), ids.setdefault(e.item, e.item),
                            ids.setdefault(e.kind, e.kind), e.value, _day(e).toordinal()))
        after = batch[-1][0]
    return out


def _matrix(model: CollaborativeModel, rows: list[tuple[str, str, str, float | None]]) -> sp.csr_matrix:
    """Members × model positions, 1 for a positive pair (members in id order)."""
    pairs = sorted({(m, i) for m, i, k, v in rows if is_positive(k, v) and i in model.item_index_})
    members = sorted({m for m, _ in pairs})
    index = {m: n for n, m in enumerate(members)}
    r = np.array([index[m] for m, _ in pairs], dtype=np.int64)
    c = np.array([model.item_index_[i] for _, i in pairs], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (r, c)), shape=(len(members), len(model.item_ids_)))


def _fit_models(rows, roles, cfg: TrainConfig, l2: float) -> RankingModel:
    collab = CollaborativeModel().fit(rows, roles)
    x = _matrix(collab, rows)
    ease = EASE(l2=l2, max_items=cfg.ease_max_items).fit(x) if x.nnz else None
    factors = fit_ials(x, cfg.factors, cfg.iterations, cfg.ials_l2, cfg.ials_alpha, cfg.seed)
    return RankingModel(collab, None if ease is None else ease.weights_, factors, cfg.ials_l2, cfg.ials_alpha)


_VALIDATIONS = ("auto", "calendar", "member")
_NEVER = 1 << 62  # a day ordinal after every day: the member's events are all before it


def _holdout(taken_up, cfg: TrainConfig) -> tuple[str, dict[str, int], dict[str, set[str]]]:
    """The validation split (see :attr:`TrainConfig.validation`): the split used, each member's
    cut (day ordinal; events on or after it are held out, and the member is planned on it) and
    the validation targets by member (what they took up from their cut on and not before)."""
    def targets_after(cuts: Mapping[str, int]) -> dict[str, set[str]]:
        before: dict[str, set[str]] = {}
        for m, i, _, _, d in taken_up:
            if d < cuts.get(m, _NEVER):
                before.setdefault(m, set()).add(i)
        out: dict[str, set[str]] = {}
        for m, i, _, _, d in taken_up:
            if d >= cuts.get(m, _NEVER) and i not in before.get(m, ()):
                out.setdefault(m, set()).add(i)
        return out

    if cfg.validation != "member":
        cut = max(d for *_, d in taken_up) - (cfg.validation_days - 1)
        members = {m for m, *_ in taken_up}
        cuts = dict.fromkeys(members, cut)
        targets = targets_after(cuts)
        qualified = len({m for m, *_, d in taken_up if d < cut}.intersection(targets))
        if cfg.validation == "calendar" or qualified >= cfg.min_members:
            return "calendar", cuts, targets
    days: dict[str, set[int]] = {}
    for m, _, _, _, d in taken_up:
        days.setdefault(m, set()).add(d)
    # Only members who took something up before their last day: a member planned from nothing
    # says how a list starts, which the cold blend learns from every validation member anyway.
    member_cuts = {m: max(ds) for m, ds in days.items() if len(ds) > 1}
    member_targets = targets_after(member_cuts)
    if cfg.validation == "auto" and len(member_targets) <= qualified:  # no better: the usual split
        return "calendar", cuts, targets
    return "member", member_cuts, member_targets


def _ndcg(scores: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    order = np.argsort(-scores, kind="stable")[:k]
    gains = labels[order] / np.log2(np.arange(2, len(order) + 2))
    ideal = np.sort(labels)[::-1][:k] / np.log2(np.arange(2, min(k, len(labels)) + 2))
    return float(gains.sum() / ideal.sum()) if ideal.sum() > 0 else 0.0


def train(world, config: TrainConfig | None = None, *, store_model: bool = True) -> TrainReport:
    """Learn the ranking model from the store behind ``world`` and keep it there.

    Args:
        world: The engine's :class:`recsys.serving.world.World`.
        config: Settings (default :class:`TrainConfig`).
        store_model: Store the model and serve with it (False: measure only).

    Returns:
        The :class:`TrainReport`.

    Raises:
        NotEnoughHistory: fewer than ``min_positive`` positive pairs (nothing is stored).
        AmbiguousIdError: (the whole store) a member or item id held by several enterprises:
            their histories or items would be merged into one; train each enterprise's view.
    """
    from recsys.serving.world import Snapshot  # serving imports this module

    cfg = config or TrainConfig()
    if cfg.validation not in _VALIDATIONS:
        raise ValidationError(f"TrainConfig.validation is {cfg.validation!r}: one of {', '.join(_VALIDATIONS)}",
                              field="validation")
    if cfg.folds < 2:
        raise ValidationError(f"TrainConfig.folds is {cfg.folds}: the blend needs at least 2 folds, one to fit "
                              "on while another is held out", field="folds")
    if cfg.trees:
        _lightgbm()  # before minutes of reading and fitting, not after
    started = time.perf_counter()
    store = world.store
    roles = store.member_roles()
    if not isinstance(store, TenantStore):
        _one_enterprise_per_id(world, roles)
    revisions = store.revisions()
    activity = activity_of(store)
    taken_up = _positive_events(store)
    rows = [(m, i, k, v) for m, i, k, v, _ in taken_up]
    positive = len({(m, i) for m, i, *_ in taken_up})
    report = TrainReport(activity=activity, members=len(roles), items=store.count_items(), positive=positive)
    floor = max(cfg.min_positive, 1)  # nothing at all to learn from, whatever the setting
    if positive < floor:
        raise NotEnoughHistory(
            f"the store holds {positive} positive events (completions, attendance, quizzes, good ratings) of "
            f"distinct member and item, fewer than the {floor} training needs: lists keep the "
            "hand-set weights; train again when members have studied more")

    l2 = cfg.ease_l2[len(cfg.ease_l2) // 2]
    blend = cold_blend = None
    report.validation, cuts, targets = _holdout(taken_up, cfg)
    rows_before = [(m, i, k, v) for m, i, k, v, d in taken_up if d < cuts.get(m, _NEVER)]
    done_before: dict[str, set[str]] = {}
    for m, i, _, _ in rows_before:
        done_before.setdefault(m, set()).add(i)
    chosen = sorted(targets, key=lambda m: hashlib.blake2b(f"{cfg.seed}:{m}".encode(), digest_size=8).digest())
    chosen = sorted(chosen[: cfg.max_members])
    report.validation_members = len(chosen)

    if len(chosen) >= cfg.min_members and rows_before:
        members = store.get_members(chosen)
        # The validation members' whole histories (every kind of event) before the cut, as
        # they are planned from.
        days = {m: dt.date.fromordinal(cuts[m]) for m in chosen}
        by_member = {m: [e for e in h.events if _day(e) < days[m]] for m, h in store.histories(chosen).items()}
        base = world.snapshot(collaborative=False)
        folds = {m: n % cfg.folds for n, m in enumerate(chosen)}
        best = None
        for trial_l2 in cfg.ease_l2:
            # The last trial's model and examples are let go before this one's are made: beside
            # the best trial's snapshot, one trial's arrays at a time (three trials' examples and
            # EASE^R's inverse, held together, were most of the peak at 100,000 members).
            model = snap = found = None
            model = _fit_models(rows_before, roles, cfg, trial_l2)
            snap = Snapshot(revisions, base.catalogue, base.index, model.collaborative, model)
            found = _examples(world, snap, [members[m] for m in chosen if m in members], by_member, days, targets,
                              cfg.features)
            if found is None:
                break
            choice = _choose(found, folds, cfg)
            log.info("EASE l2 %g: validation NDCG@10 hand %.4f, learned %.4f (scale %g)", trial_l2, *choice[:3])
            if best is None or max(choice[:2]) > max(best[1][:2]):
                best = (trial_l2, choice, snap)
        if best is not None:
            l2, (report.ndcg_hand, report.ndcg_learned, scale, blend), snap = best
            report.blend_scale = scale if blend is not None else None
            report.blend = "learned" if blend is not None else "hand"
            if blend is not None:
                report.blend_model = _model_name(blend)
                if blend.trees is None:
                    report.coef = {f: round(float(c), 4) for f, c in zip(blend.features, blend.coef)}
            # Members without history: the same members planned as if they had none (their roles and
            # stated interests only), against what they went on to take up.
            found = _examples(world, snap, [members[m] for m in chosen if m in members],
                              {m: [] for m in chosen}, days, targets, cfg.features, done_before) if cfg.cold_blend else None
            if found is not None:
                report.cold_ndcg_hand, report.cold_ndcg_learned, cold_scale, cold_blend = _choose(found, folds, cfg)
                report.cold_blend = "learned" if cold_blend is not None else "hand"
                report.cold_blend_model = _model_name(cold_blend)
    report.ease_l2 = l2

    model = snap = found = best = None  # the validation's arrays, before the final fit
    final = _fit_models(rows, roles, cfg, l2)
    final.blend, final.cold_blend, final.activity = blend, cold_blend, activity
    report.ease_items = int(np.count_nonzero(np.diff(final.ease.indptr))) if final.ease is not None else 0
    report.seconds = round(time.perf_counter() - started, 2)
    final.info = report.to_dict()
    if store_model:
        data = final.to_bytes()
        store.put_artefact(ARTEFACT, data, activity)
        world.use_ranking(final, store.revisions().models, data)
    log.info("trained ranking model: %s", report.to_dict())
    return report


def _examples(world, snap, members, events, days: Mapping[str, dt.date], targets: dict[str, set[str]],
              features: Sequence[str], done: dict[str, set[str]] | None = None):
    """Every candidate of each member planned on their day in ``days`` from ``events`` (by member id): the
    preference features, whether it is a target, and the hand-set blend's parts and score.
    Candidates in ``done`` (by member) are left out: planned as if new, a member is offered what
    they took up already, which is no negative example."""
    from recsys.serving.world import branch_activity, plan_context

    store = world.store
    rec = world.recommender
    scorer = rec.scorer
    w = scorer.config.weights
    feats, labels, groups, hand = [], [], [], []
    # A block of members at a time, planned and taken apart into rows before the next: a planning
    # context holds the member's history and every candidate's signals, and holding all of them
    # until the end is what made training on 100,000 members peak at gigabytes. The index is read
    # under the engine's lock one block at a time, so requests wait for one block at most.
    for start in range(0, len(members), 64):
        block = [plan_context(world, snap, m, days[m.id], m.daily_minutes, events[m.id], {},
                              branch=branch_activity(store, m.org, days[m.id] - dt.timedelta(days=1)))
                 for m in members[start:start + 64]]
        with world.lock, rec._one_blas_thread():
            scored_block = [(ctx, scorer(ctx, rec.filter(ctx, pool, limit=scorer.config.max_scored)[0]))
                            for ctx, pool in zip(block, rec.selector.many(block))]
        for ctx, scored in scored_block:
            ids = ctx.items.columns.ids
            if done is not None:
                skip = done.get(ctx.profile.member.id, set())
                scored = scored.take(np.array([ids[r] not in skip for r in scored.rows.tolist()], dtype=bool))
            if not len(scored):
                continue
            s = scored.signals
            want = targets[ctx.profile.member.id]
            labels.append(np.array([ids[r] in want for r in scored.rows.tolist()], dtype=np.float64))
            feats.append(np.column_stack([np.asarray(s[f], dtype=np.float64) for f in features]))
            pref, plan = blend_parts(w, s)
            hand.append((np.broadcast_to(pref, len(scored)).astype(np.float64),
                         np.broadcast_to(plan, len(scored)).astype(np.float64), scored.score.copy(),
                         w.need * np.asarray(s["need"], dtype=np.float64)))
            groups.append(ctx.profile.member.id)
    return (feats, labels, groups, hand) if groups else None


def _choose(found, folds: Mapping[str, int], cfg: TrainConfig) -> tuple[float, float, float, LearnedBlend | None]:
    """Choose between the hand-set blend and a learned one by cross-validation over members:
    for each fold in ``folds`` (member id -> fold), fit on the other folds' members and order
    this fold's candidates with every spread in ``cfg.scales``; the learned blend is kept, at the
    spread that did best, only where its NDCG@10 over every held-out member beats the hand-set
    blend's, then refitted on everyone: (hand NDCG, learned NDCG, spread, blend or None where the
    hand-set one is as good). The logistic model is fitted always, trees where ``cfg`` asks and
    each fold's fitted members have enough targets.

    Every member is held out once, so the choice rests on all of them rather than a third: with
    one split, a hundred-odd validation members flipped the choice from seed to seed of the same
    simulated population (``evaluation/discussion.md``)."""
    feats, labels, groups, hand = found
    features = cfg.features
    fold_of = [folds.get(m) for m in groups]
    check = [n for n, f in enumerate(fold_of) if f is not None and labels[n].any()]
    if not check:
        return 0.0, 0.0, 1.0, None
    ndcg_hand = float(np.mean([_ndcg(hand[n][2], labels[n]) for n in check]))
    fits = [_fit_blend]
    if cfg.trees:
        fits.append(_fit_trees)
    # NDCG of each (fit, spread) summed over the held-out members of every fold.
    totals = {(fit, scale): 0.0 for fit in fits for scale in cfg.scales}
    usable = dict.fromkeys(fits, True)
    for fold in sorted({fold_of[n] for n in check}):
        held = [n for n in check if fold_of[n] == fold]
        fit_x = [feats[n] for n, f in enumerate(fold_of) if f is not None and f != fold]
        fit_y = [labels[n] for n, f in enumerate(fold_of) if f is not None and f != fold]
        for fit in fits:
            if fit is _fit_trees and sum(int(y.sum()) for y in fit_y) < cfg.trees_min_positive:
                usable[fit] = False
            fitted = fit(fit_x, fit_y, cfg) if usable[fit] else None
            if fitted is None:
                usable[fit] = False
                continue
            for trial_scale in cfg.scales:
                trial = dataclasses.replace(fitted, scale=trial_scale, need_scale=trial_scale ** cfg.need_spread)
                # As the scorer combines them.
                totals[(fit, trial_scale)] += sum(
                    _ndcg(trial.apply(dict(zip(features, feats[n].T)), hand[n][0]) + hand[n][1]
                          + (trial.need_scale - 1.0) * hand[n][3], labels[n]) for n in held)
    ndcg_learned, scale, winner = ndcg_hand, 1.0, None
    for (fit, trial_scale), total in totals.items():
        got = total / len(check)
        if usable[fit] and got > ndcg_learned:
            ndcg_learned, scale, winner = got, trial_scale, fit
    if winner is None:
        return ndcg_hand, ndcg_learned, scale, None
    blend = winner(feats, labels, cfg)
    return ndcg_hand, ndcg_learned, scale, None if blend is None else dataclasses.replace(
        blend, scale=scale, need_scale=scale ** cfg.need_spread)


def _stacked(feats: list[np.ndarray], labels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Every member's candidates as one matrix and label vector; None without both classes."""
    if not feats:
        return None
    y = np.concatenate(labels)
    return None if y.min() == y.max() else (np.concatenate(feats), y)


def _fit_blend(feats: list[np.ndarray], labels: list[np.ndarray], cfg: TrainConfig) -> LearnedBlend | None:
    """Logistic regression of the labels on the features (standardised to fit, coefficients
    brought back to the raw features); None without both classes."""
    stacked = _stacked(feats, labels)
    if stacked is None:
        return None
    x, y = stacked
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    lr = LogisticRegression(C=cfg.c, max_iter=1000, class_weight="balanced")
    lr.fit((x - mean) / std, y)
    coef = lr.coef_[0] / std
    return LearnedBlend(tuple(cfg.features), coef, float(lr.intercept_[0] - (coef * mean).sum()))


def _fit_trees(feats: list[np.ndarray], labels: list[np.ndarray], cfg: TrainConfig) -> LearnedBlend | None:
    """Gradient-boosted trees (LightGBM, binary log loss) of the labels on the features; None
    without both classes. Pointwise, as the logistic model. On the simulator (600 members, 4 fits)
    it ordered the held-out members' candidates better than LambdaRank over the same trees and
    about as well as XE-NDCG (validation NDCG@10 0.134, 0.124 and 0.136)."""
    stacked = _stacked([standing(f) for f in feats], labels)  # as LearnedBlend.logit reads them
    if stacked is None:
        return None
    x, y = stacked
    lightgbm = _lightgbm()
    # deterministic with a fixed histogram layout (LightGBM's advice): the same store trains the
    # same trees on every machine.
    params = {"objective": "binary", "learning_rate": cfg.tree_rate, "num_leaves": cfg.tree_leaves,
              "min_data_in_leaf": cfg.tree_min_leaf, "num_threads": 1, "deterministic": True,
              "force_row_wise": True, "seed": cfg.seed, "verbosity": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(x, y, feature_name=list(cfg.features)),
                             num_boost_round=cfg.tree_rounds)
    return LearnedBlend(tuple(cfg.features), np.zeros(len(cfg.features)), trees=booster.model_to_string())


def _model_name(blend: LearnedBlend | None) -> str | None:
    return None if blend is None else "trees" if blend.trees is not None else "logistic"


def _lightgbm():
    """The lightgbm module, or a clear error: not installed, or its OpenMP runtime (libgomp)
    missing, which lightgbm reports as an OSError when it loads its library."""
    try:
        import lightgbm
    except (ImportError, OSError) as exc:
        raise ValidationError(f"trees as the blend need lightgbm, which cannot be loaded ({exc}): "
                              "pip install 'recsys[trees]' (and the libgomp1 package)", field="trees") from exc
    return lightgbm


def _one_enterprise_per_id(world, members) -> None:
    """Refuse, before the log is read, a whole store where two enterprises hold one member or
    item id: the log names members and items by id alone, so their histories (or items) would
    be learnt as one. The whole store's catalogue already refuses a shared item id (and is the
    one validation plans with); ``members`` are the store's member ids."""
    world.snapshot(collaborative=False)
    for member, tenants in world.store.member_tenants(list(members)).items():
        if len(tenants) > 1:
            raise AmbiguousIdError("member", member, tenants)


def activity_of(store) -> int:
    """What a model's staleness is measured on: the store's activity sequence, or for an
    enterprise's view the number of its own events of the kinds training learns from (the
    sequence is the whole store's, moved by every enterprise: another's events would make a view
    stale, and a small enterprise in a large store would never be; served lists' impressions
    move neither)."""
    if isinstance(store, TenantStore):
        return len(store.interactions(store.revisions().activity, POSITIVE_KINDS))
    return store.revisions().activity


def is_stale(model_activity: int | None, activity: int) -> bool:
    """Whether a model trained up to ``model_activity`` should be trained again at ``activity``:
    never trained, or the activity grew past the next step of
    :func:`recsys.pipeline.collaborative.snapshot_seq` (about 1/16 of the store's growth)."""
    from recsys.pipeline.collaborative import snapshot_seq

    if model_activity is None:
        return True
    return snapshot_seq(activity) > snapshot_seq(model_activity) and activity > model_activity

