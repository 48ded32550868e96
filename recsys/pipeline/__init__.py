"""The recommendation pipeline: candidates → filters → scorer → re-ranker → budget fitter.

Each step is a small :class:`Component` with its settings in a frozen config and its work in ``__call__``,
as in LensKit's pipelines; :class:`Recommender` runs them in order over a :class:`PlanContext`
that holds what a step may need (the member's profile, the day, the catalogue and the index).
The filters enforce the hard guarantees (no repeats, feasibility); the scorer and re-ranker only
order what the filters let through; the budget fitter packs the day's minutes.
"""


from __future__ import annotations

from recsys.pipeline.budget import BudgetConfig, BudgetFitter
from recsys.pipeline.candidates import CandidateConfig, CandidateSelector
from recsys.pipeline.component import Component
from recsys.pipeline.context import PlanContext, Pool, rules_context
from recsys.pipeline.diversity import MMRConfig, MMRReranker
from recsys.pipeline.feasibility import FeasibilityFilter
from recsys.pipeline.recommender import Recommender
from recsys.pipeline.rules import due_review, infeasibility
from recsys.pipeline.scoring import Scorer, ScorerConfig, ScoreWeights

__all__ = [
    "Component",
    "CandidateConfig",
    "ScorerConfig",
    "MMRConfig",
    "BudgetConfig",
    "PlanContext",
    "Pool",
    "CandidateSelector",
    "FeasibilityFilter",
    "Scorer",
    "ScoreWeights",
    "MMRReranker",
    "BudgetFitter",
    "Recommender",
    "infeasibility",
    "due_review",
    "rules_context",
]
