"""The methods compared, behind one small contract: ``fit(train)`` then ``rank(member, day,
candidates, k)``.

Every method is fitted on the same training events and ranks the same candidates (the items
the member may be offered that day, by the independent feasibility check of
:mod:`evaluation.metrics`), so every table compares like with like. The engine itself is one
of them (:class:`EngineRanker`); the peers ``implicit`` and ``lenskit`` are imported inside
their ``fit`` so nothing heavy loads with the module. Peers run with their documented defaults
and a few plain choices stated here, not tuned on the evaluation data.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.curriculum import Curriculum
from recsys.records import Event, Item, Member

__all__ = [
    "TrainData",
    "RandomRanker",
    "PopularRanker",
    "NewestRanker",
    "CurriculumRanker",
    "ContentRanker",
    "ImplicitALSRanker",
    "LenskitRanker",
    "EASERanker",
    "EngineRanker",
]


@dataclass
class TrainData:
    """What every method may learn from.

    Attributes:
        items: The catalogue.
        members: Every member (records only, the simulator's truth is not here).
        events: The training events, in time order.
    """

    items: Sequence[Item]
    members: Sequence[Member]
    events: Sequence[Event]

    def completions(self) -> dict[str, list[str]]:
        """Completed items per member, in order."""
        out: dict[str, list[str]] = {}
        for e in self.events:
            if e.kind == "complete":
                out.setdefault(e.member, []).append(e.item)
        return out


class RandomRanker:
    """Candidates in a seeded random order (per member and day, so reruns agree)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, train: TrainData) -> RandomRanker:
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        rng = np.random.default_rng([self.seed, day.toordinal(), *member.id.encode()])
        order = rng.permutation(len(candidates))
        return [candidates[i] for i in order[:k]]


class PopularRanker:
    """Most completed items in training first: what a portal's "most studied" box shows."""

    name = "popular"

    def fit(self, train: TrainData) -> PopularRanker:
        self.counts_ = Counter(i for items in train.completions().values() for i in set(items))
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        return sorted(candidates, key=lambda i: (-self.counts_.get(i, 0), i))[:k]


class NewestRanker:
    """Newest published first: a portal's "latest" column."""

    name = "newest"

    def fit(self, train: TrainData) -> NewestRanker:
        self.published_ = {it.id: it.published for it in train.items}
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        return sorted(candidates, key=lambda i: (-self.published_[i].toordinal(), i))[:k]


class CurriculumRanker:
    """The role curriculum in order: items aimed at the member's roles, then the member's
    required topics by their share of the hours, easiest level first, oldest first (a course
    catalogue read top to bottom)."""

    name = "curriculum"

    def __init__(self, curriculum: Curriculum | None = None) -> None:
        self.curriculum = curriculum

    def fit(self, train: TrainData) -> CurriculumRanker:
        self.items_ = {it.id: it for it in train.items}
        self.curriculum_ = self.curriculum or Curriculum()
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        required = self.curriculum_.for_member(member).required

        def key(i: str):
            it = self.items_[i]
            share = max((required[t][0] for t in it.topics if t in required), default=0.0)
            targeted = bool(it.roles and set(it.roles) & set(member.roles))
            return (not targeted, -share, it.level, it.published, i)

        return sorted(candidates, key=key)[:k]


class ContentRanker:
    """TF-IDF content-based filtering: character n-grams of title and body (no word segmenter
    needed for Chinese); a member's profile is the sum of the items they completed, or their
    stated interests when they have none; candidates by cosine to it."""

    name = "tfidf-content"

    def fit(self, train: TrainData) -> ContentRanker:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ids_ = [it.id for it in train.items]
        self.pos_ = {i: n for n, i in enumerate(self.ids_)}
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, min_df=2)
        self.matrix_ = self.vectorizer_.fit_transform([f"{it.title} {' '.join(it.topics)} {it.body}" for it in train.items])
        self.history_ = train.completions()
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        done = [self.pos_[i] for i in self.history_.get(member.id, ()) if i in self.pos_]
        if done:
            profile = np.asarray(self.matrix_[done].sum(axis=0))
        elif member.interests:
            profile = self.vectorizer_.transform([" ".join(member.interests)]).toarray()
        else:
            return list(candidates[:k])
        cand = [self.pos_[i] for i in candidates]
        scores = np.asarray(self.matrix_[cand] @ profile.ravel()).ravel()
        order = sorted(range(len(cand)), key=lambda n: (-scores[n], candidates[n]))
        return [candidates[n] for n in order[:k]]


def _interactions(train: TrainData) -> dict[tuple[str, str], float]:
    """Implicit feedback per (member, item): a completion counts 1, a rating adds (r - 3) / 2."""
    weights: dict[tuple[str, str], float] = {}
    for e in train.events:
        if e.kind == "complete":
            weights[(e.member, e.item)] = weights.get((e.member, e.item), 0.0) + 1.0
    for e in train.events:
        if e.kind == "rate" and (e.member, e.item) in weights and e.value is not None:
            weights[(e.member, e.item)] = max(0.1, weights[(e.member, e.item)] + (e.value - 3) / 2)
    return weights


class ImplicitALSRanker:
    """``implicit``'s alternating least squares on completions (confidence ``1 + alpha * w``).

    Members without training interactions get no list (ALS has no answer for them).
    """

    name = "implicit-als"

    def __init__(self, factors: int = 32, iterations: int = 20, regularization: float = 0.05,
                 alpha: float = 10.0, seed: int = 0) -> None:
        self.factors, self.iterations, self.regularization, self.alpha, self.seed = (
            factors, iterations, regularization, alpha, seed)

    def fit(self, train: TrainData) -> ImplicitALSRanker:
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares

        weights = _interactions(train)
        self.users_ = {u: n for n, u in enumerate(sorted({u for u, _ in weights}))}
        self.items_ = {it.id: n for n, it in enumerate(train.items)}
        rows = [self.users_[u] for u, _ in weights]
        cols = [self.items_[i] for _, i in weights]
        self.user_items_ = sp.csr_matrix((list(weights.values()), (rows, cols)),
                                         shape=(len(self.users_), len(self.items_)), dtype=np.float32)
        self.model_ = AlternatingLeastSquares(
            factors=self.factors, iterations=self.iterations, regularization=self.regularization,
            alpha=self.alpha, random_state=self.seed, num_threads=1)
        if self.user_items_.nnz:
            self.model_.fit(self.user_items_, show_progress=False)
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        u = self.users_.get(member.id)
        if u is None or not candidates:
            return []
        ids = np.array([self.items_[i] for i in candidates])
        found, _ = self.model_.recommend(u, self.user_items_[u], N=min(k, len(ids)), items=ids,
                                         filter_already_liked_items=True)
        names = {n: i for i, n in self.items_.items()}
        return [names[int(n)] for n in found]


class EASERanker:
    """EASE^R (Steck 2019) on completions, in closed form: ``B = -P / diag(P)``, ``P = (XᵀX + λI)⁻¹``,
    zero diagonal; a member's scores are their completions times ``B``. ``λ = 250`` (RecBole's
    default), not tuned here. Members without training completions get no list."""

    name = "ease"

    def __init__(self, l2: float = 250.0) -> None:
        self.l2 = l2

    def fit(self, train: TrainData) -> EASERanker:
        weights = _interactions(train)
        self.items_ = {it.id: n for n, it in enumerate(train.items)}
        users = sorted({u for u, _ in weights})
        self.users_ = {u: n for n, u in enumerate(users)}
        x = np.zeros((len(users), len(self.items_)))
        for (u, i), _w in weights.items():
            x[self.users_[u], self.items_[i]] = 1.0
        gram = x.T @ x + self.l2 * np.eye(x.shape[1])
        p = np.linalg.inv(gram)
        self.b_ = -p / np.diag(p)[None, :]
        np.fill_diagonal(self.b_, 0.0)
        self.x_ = x
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        u = self.users_.get(member.id)
        if u is None or not candidates:
            return []
        scores = self.x_[u] @ self.b_
        return sorted(candidates, key=lambda i: (-scores[self.items_[i]], i))[:k]


class LenskitRanker:
    """A ``lenskit`` top-N pipeline: ``"pop"`` (PopScorer) or ``"item-knn"`` (ItemKNNScorer on
    implicit feedback, 20 neighbours). Item-kNN returns nothing for members without history."""

    def __init__(self, scorer: str = "item-knn") -> None:
        if scorer not in ("pop", "item-knn"):
            raise ValueError(f"scorer must be 'pop' or 'item-knn', got {scorer!r}")
        self.scorer = scorer
        self.name = f"lenskit-{scorer}"

    def fit(self, train: TrainData) -> LenskitRanker:
        import warnings

        import pandas as pd
        from lenskit.basic import PopScorer
        from lenskit.data import from_interactions_df
        from lenskit.knn import ItemKNNConfig, ItemKNNScorer
        from lenskit.pipeline import topn_pipeline

        weights = _interactions(train)
        df = pd.DataFrame({"user_id": [u for u, _ in weights], "item_id": [i for _, i in weights]})
        data = from_interactions_df(df, user_col="user_id", item_col="item_id",
                                    items=[it.id for it in train.items])
        scorer = PopScorer() if self.scorer == "pop" else ItemKNNScorer(ItemKNNConfig(max_nbrs=20, feedback="implicit"))
        self.pipeline_ = topn_pipeline(scorer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline_.train(data)
        self.known_ = {u for u, _ in weights}
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        import warnings

        from lenskit import recommend

        if not candidates:
            return []
        query = member.id if member.id in self.known_ else None
        if query is None and self.scorer != "pop":
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = recommend(self.pipeline_, query, n=k, items=list(candidates))
        return [str(i) for i in found.ids()]


class EngineRanker:
    """The engine: its own store with the training events, ranked by :meth:`Engine.rank`.

    Args:
        base: A store folder with the catalogue already embedded (copied, not changed).
        folder: Where to put this run's store.
        encoder: The encoder the base store was built with.
        curriculum: The curriculum policy (default: the built-in one).
    """

    name = "engine"

    def __init__(self, base: Path, folder: Path, encoder: str = "tfidf", curriculum: Curriculum | None = None,
                 train: bool = True) -> None:
        self.base, self.folder, self.encoder, self.curriculum = Path(base), Path(folder), encoder, curriculum
        self.train = train
        if not train:
            self.name = "engine, untrained"

    def fit(self, train: TrainData) -> EngineRanker:
        from recsys.engine import Engine

        if self.folder.exists():
            shutil.rmtree(self.folder)
        shutil.copytree(self.base, self.folder)
        self.engine_ = Engine.open(self.folder, encoder=self.encoder, curriculum=self.curriculum)
        self.engine_.upsert_members(train.members)
        if train.events:
            self.engine_.record(train.events)
        if self.train:
            # As an operator would after loading history: `recsys train` on the engine's own store.
            from recsys.models.training import NotEnoughHistory

            try:
                self.training_ = self.engine_.train()
            except NotEnoughHistory:
                self.training_ = None
        return self

    def rank(self, member: Member, day: dt.date, candidates: Sequence[str], k: int) -> list[str]:
        allowed = set(candidates)
        hits = self.engine_.rank(member.id, day, k=max(k, 40))
        return [h.item.id for h in hits if h.item.id in allowed][:k]

    def close(self) -> None:
        self.engine_.close()
        shutil.rmtree(self.folder, ignore_errors=True)
