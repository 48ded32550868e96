"""Models learnt from a store's events off the request path (``recsys train``): EASE^R, iALS, and
the learned blend of the scorer's features, kept with the store (see :mod:`recsys.models.ranking`
and :mod:`recsys.models.training`)."""

from __future__ import annotations

from recsys.models.ease import EASE
from recsys.models.ranking import LearnedBlend, RankingModel
from recsys.models.training import TrainConfig, TrainReport, train

__all__ = ["EASE", "RankingModel", "LearnedBlend", "TrainConfig", "TrainReport", "train"]
