"""Checks and encodings every backend shares, so that they accept and answer the same."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recsys.exceptions import ConflictError, ValidationError
from recsys.records import Event, Item

__all__ = [
    "RESERVED_META",
    "check_meta",
    "check_vectors",
    "check_impressions",
    "event_content",
    "conflict",
    "dumps",
    "served_item_ids",
]

#: Metadata keys the store keeps for itself (its schema and counters, read with ``revisions()``).
RESERVED_META = frozenset({"schema", "rev", "members_rev", "activity_seq"})


def check_meta(values: Mapping[str, str | None]) -> None:
    """Refuse a metadata write that is not text, or that would overwrite the store's own counters."""
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"metadata keys must be non-empty strings, got {key!r}", source="metadata")
        if key in RESERVED_META:
            raise ValidationError("is kept by the store itself (read it with revisions())",
                                  source="metadata", field=key)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"must be a string, or None to delete it; got {type(value).__name__}",
                                  source="metadata", field=key)


def check_vectors(items: Sequence[Item], vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as a contiguous float32 matrix, checked to hold one row per item."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) != len(items) or (len(items) and vectors.ndim != 2):
        raise ValidationError(
            f"vectors must be a matrix with one row per item: got shape {vectors.shape} for {len(items)} items",
            source="upsert_items", field="vectors",
        )
    return vectors


def check_impressions(events: Sequence[Event]) -> None:
    """Served lists record impressions with ids only: they must never move the activity sequence,
    and an id is what makes recording them again a no-op."""
    for position, e in enumerate(events, 1):
        if e.kind != "impression":
            raise ValidationError(f"put_served records impressions only, got a {e.kind!r} event",
                                  source="put_served", line=position, record=e.id, field="kind")
        if e.id is None:
            raise ValidationError("an impression of a served list needs an id (so a retry is skipped)",
                                  source="put_served", line=position, field="id")


def event_content(e: Event) -> tuple[str, str, str, float | None, float]:
    """What must match for an event with a known id to count as a retry, not a conflict."""
    return (e.member, e.item, e.kind, e.value, e.at.timestamp())


def conflict(event_id: str) -> ConflictError:
    return ConflictError(f"event id {event_id!r} is already recorded with different content")


def dumps(data: Any) -> str:
    """The stored JSON form: compact, keys sorted, Chinese kept readable."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def served_item_ids(payload: Any) -> list[str]:
    """The item ids of a served list's JSON form, in list order."""
    return [entry["item"]["id"] for entry in payload.get("entries", [])]
