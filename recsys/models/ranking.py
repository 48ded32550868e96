"""The trained ranking model a store keeps: the collaborative signals learnt off the request path,
and the learned blend of the scorer's features.

One :class:`RankingModel` holds, over the items anyone took up (the positions of its
:class:`~recsys.pipeline.collaborative.CollaborativeModel`):

- the item-kNN co-completion and role-aware popularity (the collaborative model itself, so a
  request never builds it);
- EASE^R weights (:mod:`recsys.models.ease`), sparse;
- iALS item factors (``implicit``'s alternating least squares); a member's vector is solved at
  request time from their own history (a ``factors × factors`` system), so nothing about any
  member is stored and a new event counts at once;
- the learned blend (:class:`LearnedBlend`), or None where the hand-set weights order lists.

It is written with ``np.savez`` (no pickles) as the store artefact ``ranking`` (see
:meth:`recsys.storage.Store.put_artefact`) by ``recsys train``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.exceptions import ModelError
from recsys.pipeline.collaborative import CollaborativeModel, _gather, _get_sparse, _put_sparse

__all__ = ["RankingModel", "LearnedBlend", "ARTEFACT", "FORMAT"]

log = logging.getLogger(__name__)

#: The store artefact the model is kept under.
ARTEFACT = "ranking"
#: Bumped when the stored layout changes: an older layout is ignored (lists fall back to the
#: hand-set weights) until ``recsys train`` runs again.
FORMAT = 1


@dataclass(frozen=True)
class LearnedBlend:
    """A model of "the member takes this item up" over the scorer's preference features: logistic
    (one weight per feature) or, given ``trees``, gradient-boosted trees (LightGBM), which can
    weigh a feature differently by the others (a started item by how close it is to the
    member's interests, say). ``recsys train`` keeps the trees only where they beat the logistic
    model on held-out members.

    Attributes:
        features: The scorer's signal names, in the order of ``coef``.
        coef: One weight per feature (on the features as the scorer computes them); unused
            where ``trees`` is given.
        intercept: The constant (does not change an order; kept for the probability).
        scale: How far the learned order spreads against the plan's own terms, in spreads of the
            hand-set preference score (chosen on validation by ``recsys train``).
        need_scale: The factor on curriculum need (required topics behind pace) that goes with
            ``scale``: 1 keeps need's hand-set weight however far the order spreads (best for
            predicting completions), ``scale`` keeps need's weight against preference as in the
            hand-set blend (best for required-topic progress); see ``TrainConfig.need_spread``.
        trees: A LightGBM model in its own text format, over ``features`` in that order (None:
            the logistic model). The trees read each feature as its place among the member's
            candidates (:func:`standing`), not its value: the collaborative models are fitted
            again on every event for serving, which moves their values, and a tree's cut on a
            value learnt before that no longer falls where it did.
    """

    features: tuple[str, ...]
    coef: np.ndarray
    intercept: float = 0.0
    scale: float = 1.0
    need_scale: float = 1.0
    trees: str | None = None

    @cached_property
    def _booster(self) -> Any:
        import lightgbm

        return lightgbm.Booster(model_str=self.trees)

    def logit(self, signals: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The model's logit for ``n`` candidates from their signals (a missing signal reads 0)."""
        if self.trees is not None:
            zero = np.zeros(n)
            x = np.column_stack([np.broadcast_to(np.asarray(signals.get(f, zero), dtype=np.float64), n)
                                 for f in self.features]) if n else np.zeros((0, len(self.features)))
            # One thread: a list's hundred-odd candidates are less work than waking a second.
            return np.asarray(self._booster.predict(standing(x), raw_score=True, num_threads=1),
                              dtype=np.float64) if n else zero
        out = np.full(n, float(self.intercept))
        for name, w in zip(self.features, self.coef.tolist()):
            if name in signals:
                out = out + w * np.asarray(signals[name], dtype=np.float64)
        return out

    def apply(self, signals: Mapping[str, np.ndarray], hand: np.ndarray) -> np.ndarray:
        """The learned order on the hand-set blend's scale: the logit's standard score mapped to
        the mean and spread of ``hand`` over the same candidates, so the plan's own terms (need,
        activities of the day, reviews, rotation) weigh against it as they did against ``hand``."""
        n = len(hand)
        logit = self.logit(signals, n)
        spread = logit.std()
        if n < 2 or spread < 1e-12:
            return np.asarray(hand, dtype=np.float64)
        scale = max(float(np.std(hand)), 1e-3) * self.scale
        return float(np.mean(hand)) + (logit - logit.mean()) / spread * scale


def standing(x: np.ndarray) -> np.ndarray:
    """Each column of one member's candidates (rows) as the candidates' places on it, from 0 (the
    lowest) to 1 (the highest), ties sharing their mean place; 0.5 for a single candidate."""
    n = len(x)
    if n < 2:
        return np.full(np.shape(x), 0.5)
    from scipy.stats import rankdata

    return (rankdata(x, axis=0, method="average") - 1.0) / (n - 1)


@dataclass
class RankingModel:
    """What ``recsys train`` learns from a store (see the module docstring).

    Attributes:
        collaborative: Item-kNN co-completion and role-aware popularity.
        ease: EASE^R weights over the collaborative model's positions (None: not learnt).
        item_factors: iALS item factors over the same positions (None: not learnt).
        ials_l2: iALS regularization.
        ials_alpha: iALS confidence scale.
        blend: The learned blend, or None.
        cold_blend: The learned blend for members without positive history (fitted on members
            planned as if they had none), or None: the hand-set weights then. ``blend`` is
            learnt on members with history and leans on signals a newcomer lacks (their history's
            topics, co-completion, EASE^R), against store-wide popularity, which is most of what a
            newcomer's list has to go on.
        activity: The store's activity sequence the model was trained up to.
        info: What training measured (JSON-able), for ``recsys train`` and the README.
    """

    collaborative: CollaborativeModel
    ease: sp.csr_matrix | None = None
    item_factors: np.ndarray | None = None
    ials_l2: float = 0.05
    ials_alpha: float = 10.0
    blend: LearnedBlend | None = None
    cold_blend: LearnedBlend | None = None
    activity: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._gram = None
        if self.item_factors is not None:
            y = self.item_factors.astype(np.float64)
            self._gram = y.T @ y

    # -- scores ------------------------------------------------------------------------------

    def scores_at(self, history: Mapping[str, float], pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EASE^R and iALS scores of the items at model positions ``pos`` (-1: unknown, 0) for a
        member's positive history (item id to weight)."""
        pos = np.asarray(pos, dtype=np.int64)
        rows, weights = self._history(history)
        return self._ease_at(rows, pos), self._ials_at(rows, weights, pos)

    def top_at(self, history: Mapping[str, float], n: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Model positions of the ``n`` best EASE^R items, then the ``n`` best iALS items, for a
        member's history (``exclude``: positions left out, such as what they completed)."""
        rows, weights = self._history(history)
        size = len(self.collaborative.item_ids_)
        out = []
        if not len(rows) or n < 1 or not size:
            return np.zeros(0, dtype=np.int64)
        for vec in (self._ease_vector(rows), self._ials_vector(rows, weights)):
            if vec is None:
                continue
            vec = vec.copy()
            vec[rows] = -np.inf
            if exclude is not None and len(exclude):
                vec[exclude] = -np.inf
            cols = np.flatnonzero(np.isfinite(vec) & (vec > 0))
            out.append(cols[np.lexsort((cols, -vec[cols]))][:n])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def _history(self, history: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        index = self.collaborative.item_index_
        known = sorted((index[i], w) for i, w in history.items() if w > 0 and i in index)
        return (np.array([r for r, _ in known], dtype=np.int64), np.array([w for _, w in known], dtype=np.float64))

    def _ease_vector(self, rows: np.ndarray) -> np.ndarray | None:
        if self.ease is None:
            return None
        _, col, val = _gather(self.ease, rows)
        # As floats even when no weight is read (numpy counts an empty input as integers).
        return np.bincount(col, weights=val.astype(np.float64), minlength=self.ease.shape[1]).astype(np.float64)

    def _ease_at(self, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        vec = self._ease_vector(rows) if len(rows) else None
        if vec is None:
            return np.zeros(len(pos))
        return np.where(pos >= 0, vec[np.maximum(pos, 0)], 0.0)

    def _user_vector(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        """The member's iALS vector, solved as ALS solves a user: ``(YᵀY + Yₕᵀ(C-I)Yₕ + λI) u =
        Yₕᵀ C 1`` with confidence ``c = 1 + alpha * w`` on the history."""
        if self.item_factors is None or not len(rows):
            return None
        y = self.item_factors[rows].astype(np.float64)
        conf = 1.0 + self.ials_alpha * np.minimum(weights, 1.0)
        a = self._gram + (y.T * (conf - 1.0)) @ y + self.ials_l2 * np.eye(y.shape[1])
        return np.linalg.solve(a, y.T @ conf)

    def _ials_vector(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        u = self._user_vector(rows, weights)
        return None if u is None else self.item_factors.astype(np.float64) @ u

    def _ials_at(self, rows: np.ndarray, weights: np.ndarray, pos: np.ndarray) -> np.ndarray:
        u = self._user_vector(rows, weights)
        if u is None:
            return np.zeros(len(pos))
        return np.where(pos >= 0, self.item_factors[np.maximum(pos, 0)].astype(np.float64) @ u, 0.0)

    # -- persistence -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as an ``.npz`` (no pickles)."""
        c = self.collaborative
        arrays: dict[str, np.ndarray] = {
            "format": np.array([FORMAT]),
            **c.to_arrays(),
            "params": np.array([c.neighbours, c.shrinkage, c.role_prior, c.n_pairs_, self.ials_l2, self.ials_alpha,
                                self.activity], dtype=np.float64),
            "info": np.array(json.dumps(self.info, ensure_ascii=False)),
        }
        if self.ease is not None:
            _put_sparse(arrays, "ease", self.ease)
        if self.item_factors is not None:
            arrays["item_factors"] = self.item_factors.astype(np.float32)
        for name, blend in (("blend", self.blend), ("cold_blend", self.cold_blend)):
            if blend is not None:
                arrays[f"{name}_features"] = np.array(blend.features, dtype=str)
                settings = [blend.intercept, blend.scale, blend.need_scale]
                if blend.trees is None:
                    arrays[f"{name}_coef"] = np.append(blend.coef.astype(np.float64), settings)
                else:
                    # Under their own keys, not ``_coef``: a recsys that predates trees reads no
                    # blend (the hand-set weights), rather than zero weights with a stretched need.
                    arrays[f"{name}_trees"] = np.array(blend.trees)
                    arrays[f"{name}_trees_sha256"] = np.array(_digest(blend.trees))
                    arrays[f"{name}_trees_settings"] = np.array(settings, dtype=np.float64)
        out = io.BytesIO()
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RankingModel:
        """Read a model written by :meth:`to_bytes`.

        Raises:
            ModelError: the bytes are not a ranking model of this format.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if int(z["format"][0]) != FORMAT:
                    raise ModelError(f"the stored ranking model has format {int(z['format'][0])}, this recsys "
                                     f"reads {FORMAT}: run `recsys train` again")
                neighbours, shrinkage, role_prior, n_pairs, l2, alpha, activity = z["params"].tolist()
                c = CollaborativeModel.from_arrays(z, neighbours=int(neighbours), shrinkage=shrinkage,
                                                   role_prior=role_prior, n_pairs=int(n_pairs))
                blends: dict[str, LearnedBlend | None] = {}
                for name in ("blend", "cold_blend"):
                    features = tuple(str(f) for f in z[f"{name}_features"].tolist()) if f"{name}_features" in z else ()
                    if f"{name}_coef" in z:
                        coef = z[f"{name}_coef"]
                        blends[name] = LearnedBlend(features, coef[:-3], float(coef[-3]), float(coef[-2]), float(coef[-1]))
                    elif f"{name}_trees" in z:
                        trees = str(z[f"{name}_trees"])
                        if _digest(trees) != str(z[f"{name}_trees_sha256"]):
                            raise ModelError("the stored ranking model's trees do not match their checksum: "
                                             "run `recsys train` again")
                        intercept, scale, need_scale = z[f"{name}_trees_settings"].tolist()
                        blends[name] = _load_trees(LearnedBlend(features, np.zeros(len(features)), intercept, scale,
                                                                need_scale, trees))
                return cls(
                    collaborative=c,
                    ease=_get_sparse(z, "ease") if "ease_data" in z else None,
                    item_factors=z["item_factors"] if "item_factors" in z else None,
                    ials_l2=l2, ials_alpha=alpha, blend=blends.get("blend"), cold_blend=blends.get("cold_blend"),
                    activity=int(activity),
                    info=json.loads(str(z["info"])),
                )
        except ModelError:
            raise
        # Damaged bytes fail in the zip reader, numpy's or zlib in as many ways (a flipped bit
        # can claim an encrypted entry or a lone .npy): each is a model that cannot be read.
        except (OSError, ValueError, KeyError, EOFError, TypeError, RuntimeError, NotImplementedError,
                zipfile.BadZipFile, zlib.error) as exc:
            raise ModelError(f"the stored ranking model cannot be read ({exc}): run `recsys train` again") from exc


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _load_trees(blend: LearnedBlend) -> LearnedBlend | None:
    """Read a blend's trees now, so a model that cannot be used is refused when the store opens
    (lists then keep the hand-set weights), never in the middle of a request. (Their checksum is
    checked before: LightGBM ends the whole process on a model text cut short, where it should
    raise.) Where LightGBM cannot be loaded, that blend alone is dropped, with a warning: the
    rest of the model (EASE^R, iALS, co-completion) still serves."""
    try:
        blend._booster
    except (ImportError, OSError) as exc:  # not installed, or its OpenMP runtime missing
        log.warning("the stored ranking model's blend is gradient-boosted trees, and lightgbm cannot be "
                    "loaded here (%s): this process orders lists by the hand-set weights; install "
                    "'recsys[trees]' on every process serving the store", exc)
        return None
    except Exception as exc:  # lightgbm raises its own error on a damaged model text
        raise ModelError(f"the stored ranking model's trees cannot be read ({exc}): run `recsys train` again") from exc
    return blend


def fit_ials(x: sp.csr_matrix, factors: int, iterations: int, l2: float, alpha: float, seed: int) -> np.ndarray | None:
    """iALS item factors of ``x`` (members × items, weights in [0, 1]) with ``implicit``."""
    if not x.nnz:
        return None
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit asks for it: BLAS threads fight its own loop
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, regularization=l2, alpha=alpha,
                                        random_state=seed, num_threads=1)
        model.fit(sp.csr_matrix(x, dtype=np.float32), show_progress=False)
    return np.asarray(model.item_factors, dtype=np.float32)

