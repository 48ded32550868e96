"""Metrics over recommended lists and held-out truth: plain functions, no state.

Ranking metrics take ``recommended`` (user → ranked item ids, best first) and ``relevant``
(user → the held-out relevant item ids) and average over the users present in both with at
least one relevant item, as Microsoft Recommenders' python evaluation does (its published test
values are reproduced in ``tests/evaluation/test_metrics.py``). Relevance is binary.

Beyond-accuracy metrics describe the lists themselves (coverage, concentration, diversity,
novelty, serendipity); the last group checks the engine's own promises (no repeats, feasible
items, the day's time used, required topics progressing). The feasibility check here is written
independently of the engine's filter on purpose: it re-reads the contract, so a bug in the
filter shows up as a violation instead of being agreed with.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence

import numpy as np

from recsys.records import TZ, Item, Member

__all__ = [
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "mean_average_precision",
    "map_at_k",
    "mrr_at_k",
    "hit_rate_at_k",
    "user_scores",
    "RANKING_METRICS",
    "catalogue_coverage",
    "distributional_coverage",
    "exposure_gini",
    "intra_list_diversity",
    "novelty",
    "serendipity_at_k",
    "repeat_violations",
    "cooldown_violations",
    "feasibility_violations",
    "budget_fill_ratio",
    "required_topic_progress",
]

Ranked = Mapping[Hashable, Sequence[Hashable]]
Truth = Mapping[Hashable, Collection[Hashable]]


# -- per-user ranking scores ------------------------------------------------------------------


def _hits(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> list[int]:
    """1-based positions of the relevant items within the top ``k``."""
    rel = set(relevant)
    return [pos for pos, item in enumerate(list(ranked)[:k], start=1) if item in rel]


def _precision(ranked, relevant, k):
    return len(_hits(ranked, relevant, k)) / k


def _recall(ranked, relevant, k):
    return len(_hits(ranked, relevant, k)) / len(set(relevant))


def _ndcg(ranked, relevant, k):
    # Binary gain with a log discount; the base of the log cancels between DCG and IDCG.
    dcg = sum(1.0 / math.log2(1 + pos) for pos in _hits(ranked, relevant, k))
    ideal = sum(1.0 / math.log2(1 + pos) for pos in range(1, min(len(set(relevant)), k) + 1))
    return dcg / ideal


def _average_precision(ranked, relevant, k, *, cap: bool):
    hits = _hits(ranked, relevant, k)
    total = sum(n / pos for n, pos in enumerate(hits, start=1))
    n_rel = len(set(relevant))
    return total / (min(n_rel, k) if cap else n_rel)


def _mrr(ranked, relevant, k):
    hits = _hits(ranked, relevant, k)
    return 1.0 / hits[0] if hits else 0.0


def _hit_rate(ranked, relevant, k):
    return 1.0 if _hits(ranked, relevant, k) else 0.0


#: The per-user ranking scores by name: ``fn(ranked, relevant, k) -> float``.
RANKING_METRICS = {
    "precision": _precision,
    "recall": _recall,
    "ndcg": _ndcg,
    "map": lambda r, t, k: _average_precision(r, t, k, cap=False),
    "mrr": _mrr,
    "hit_rate": _hit_rate,
}


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, got {k!r}")


def _users(recommended: Ranked, relevant: Truth) -> list[Hashable]:
    return [u for u in recommended if u in relevant and len(relevant[u]) > 0]


def _mean(recommended: Ranked, relevant: Truth, k: int, fn) -> float:
    _check_k(k)
    users = _users(recommended, relevant)
    if not users:
        return 0.0
    return float(np.mean([fn(recommended[u], relevant[u], k) for u in users]))


def user_scores(recommended: Ranked, relevant: Truth, k: int = 10) -> dict[Hashable, dict[str, float]]:
    """Every ranking score of every user present in both, for breakdowns and intervals."""
    _check_k(k)
    return {
        u: {name: float(fn(recommended[u], relevant[u], k)) for name, fn in RANKING_METRICS.items()}
        for u in _users(recommended, relevant)
    }


def precision_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """Relevant items among the top ``k``, divided by ``k``; averaged over users.

    Example:
        >>> precision_at_k({"u": ["a", "b"]}, {"u": {"b"}}, k=2)
        0.5
    """
    return _mean(recommended, relevant, k, _precision)


def recall_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """Relevant items among the top ``k``, divided by the user's relevant items; averaged."""
    return _mean(recommended, relevant, k, _recall)


def ndcg_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance; averaged.

    DCG sums ``1 / log2(1 + position)`` over the hits; the ideal DCG places
    ``min(n_relevant, k)`` hits first. A user with no hit scores 0.
    """
    return _mean(recommended, relevant, k, _ndcg)


def mean_average_precision(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """MAP over the top ``k``: the sum of precision at each hit, divided by the user's number
    of relevant items (not capped at ``k``, as Microsoft Recommenders' ``map``)."""
    return _mean(recommended, relevant, k, lambda r, t, kk: _average_precision(r, t, kk, cap=False))


def map_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """As :func:`mean_average_precision`, divided by ``min(n_relevant, k)`` instead."""
    return _mean(recommended, relevant, k, lambda r, t, kk: _average_precision(r, t, kk, cap=True))


def mrr_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """Reciprocal rank of the first hit within the top ``k`` (0 without one); averaged."""
    return _mean(recommended, relevant, k, _mrr)


def hit_rate_at_k(recommended: Ranked, relevant: Truth, k: int = 10) -> float:
    """Share of users with at least one hit in the top ``k``."""
    return _mean(recommended, relevant, k, _hit_rate)


# -- beyond accuracy --------------------------------------------------------------------------


def _exposure(lists: Iterable[Sequence[Hashable]]) -> Counter:
    return Counter(item for items in lists for item in items)


def catalogue_coverage(lists: Iterable[Sequence[Hashable]], catalogue: Collection[Hashable]) -> float:
    """Share of the catalogue that appears in at least one list."""
    if not catalogue:
        raise ValueError("the catalogue is empty")
    shown = set(_exposure(lists))
    return len(shown & set(catalogue)) / len(set(catalogue))


def distributional_coverage(lists: Iterable[Sequence[Hashable]]) -> float:
    """Shannon entropy (bits) of how exposure spreads over items: ``log2(n)`` when ``n`` items
    are shown equally often, 0 when one item takes everything."""
    counts = np.array(list(_exposure(lists).values()), dtype=np.float64)
    if not len(counts):
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def exposure_gini(lists: Iterable[Sequence[Hashable]], catalogue: Collection[Hashable]) -> float:
    """Gini coefficient of exposure over the whole catalogue (never-shown items count as 0):
    0 when every item is shown equally, near 1 when a few items take all exposure."""
    exposure = _exposure(lists)
    x = np.sort(np.array([exposure.get(i, 0) for i in set(catalogue)], dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * x).sum() / (n * x.sum()))


def intra_list_diversity(lists: Iterable[Sequence[Hashable]], vectors: Mapping[Hashable, np.ndarray]) -> float:
    """Mean over lists of the mean pairwise cosine distance ``1 - cos`` between their items.

    Lists with fewer than two items (with vectors) are left out.
    """
    values = []
    for items in lists:
        vs = [np.asarray(vectors[i], dtype=np.float64) for i in items if i in vectors]
        if len(vs) < 2:
            continue
        x = np.stack(vs)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        sims = x @ x.T
        n = len(vs)
        values.append(float((1 - sims[np.triu_indices(n, 1)]).mean()))
    return float(np.mean(values)) if values else 0.0


def novelty(lists: Iterable[Sequence[Hashable]], popularity: Mapping[Hashable, int], n_users: int) -> float:
    """Mean self-information ``-log2(p)`` of the recommended items, where ``p`` is the share of
    the ``n_users`` users who consumed the item in training, add-one smoothed so an item nobody
    consumed has finite novelty ``log2(n_users + 1)``."""
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users!r}")
    values = [-math.log2((popularity.get(i, 0) + 1) / (n_users + 1)) for items in lists for i in items]
    return float(np.mean(values)) if values else 0.0


def serendipity_at_k(recommended: Ranked, relevant: Truth, expected: Truth, k: int = 10) -> float:
    """Share of the top ``k`` that is relevant and not expected (not in what an obvious
    recommender, e.g. the most popular, would have shown that user); averaged over users."""
    _check_k(k)
    users = _users(recommended, relevant)
    if not users:
        return 0.0
    values = []
    for u in users:
        rel, obvious = set(relevant[u]), set(expected.get(u, ()))
        values.append(sum(1 for i in list(recommended[u])[:k] if i in rel and i not in obvious) / k)
    return float(np.mean(values))


# -- the engine's own promises ----------------------------------------------------------------


def repeat_violations(shown: Sequence[str], completed: Collection[str], reviews: Collection[str] = ()) -> int:
    """Entries of one list that break "no repeats": items already completed, and second
    occurrences of an item within the list.

    Args:
        shown: The list's item ids.
        completed: Items the member completed before.
        reviews: Completed items allowed back as a review (the contract's one sanctioned repeat:
            a quiz the member scored below the review threshold); the caller decides which.
    """
    done = set(completed) - set(reviews)
    seen: set[str] = set()
    bad = 0
    for item in shown:
        if item in done or item in seen:
            bad += 1
        seen.add(item)
    return bad


def cooldown_violations(
    shown: Sequence[str], day: dt.date, last_shown: Mapping[str, dt.date], started: Collection[str],
    days: int = 14,
) -> int:
    """Entries of a day's list shown before, never started, and back within ``days`` days
    (guarantee 1: an item shown and not started does not come back within the cool-down)."""
    began = set(started)
    return sum(
        1 for item in shown
        if item not in began and item in last_shown and 0 < (day - last_shown[item]).days < days
    )


def _offline_dates(item: Item) -> tuple[dt.date, dt.date]:
    s = item.schedule
    return s.starts.astimezone(TZ).date(), s.ends.astimezone(TZ).date()


def feasibility_violations(
    items: Sequence[Item], member: Member, day: dt.date, completed: Collection[str] = (),
    situation_words: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[str, str]]:
    """``(item id, rule)`` for every item of a day's list that breaks a feasibility guarantee.

    Rules (contract, guarantee 3): ``offline`` (offline item for a member who cannot attend),
    ``date`` (offline item outside its dates), ``expired``, ``unpublished``, ``role`` (targeted
    at roles the member does not hold), ``org`` (owned by an organisation the member is not
    in), ``prerequisite`` (a required item not completed); with ``situation_words`` (situation
    to title words, as a curriculum's ``situation_keywords``), ``situation`` (an item that targets
    no roles, whose title names situations, none of them the member's).
    """
    done = set(completed)
    out: list[tuple[str, str]] = []
    for it in items:
        if it.mode == "offline":
            if not member.offline or member.situation != "regular":
                out.append((it.id, "offline"))
            elif it.schedule is not None:
                first, last = _offline_dates(it)
                if not first <= day <= last:
                    out.append((it.id, "date"))
        if it.expires is not None and it.expires < day:
            out.append((it.id, "expired"))
        if it.published > day:
            out.append((it.id, "unpublished"))
        if it.roles and not set(it.roles) & set(member.roles):
            out.append((it.id, "role"))
        if it.org is not None and member.org != it.org and not member.org.startswith(it.org + "."):
            out.append((it.id, "org"))
        if any(r not in done for r in it.requires):
            out.append((it.id, "prerequisite"))
        named = {sit for sit, words in (situation_words or {}).items() if any(w in it.title for w in words)}
        if not it.roles and named and member.situation not in named:
            out.append((it.id, "situation"))
    return out


def budget_fill_ratio(minutes: Sequence[int], budget: int) -> float:
    """Minutes of a day's list divided by the day's budget (above 1 breaks "fits the time")."""
    if budget < 1:
        raise ValueError(f"budget must be at least 1 minute, got {budget!r}")
    return float(sum(minutes)) / budget


def required_topic_progress(studied: Mapping[str, float], targets: Mapping[str, float]) -> float:
    """Mean over the required topics of ``min(1, studied / target)``: 1 when every required
    topic reached its target for the period. Topics with a zero target are left out."""
    shares = [min(1.0, studied.get(t, 0.0) / target) for t, target in targets.items() if target > 0]
    return float(np.mean(shares)) if shares else 1.0
