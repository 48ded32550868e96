"""``/v1/events``: what members did with items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from recsys.exceptions import ValidationError
from recsys.ingest.loaders import combine, parse_records
from recsys.records import Event
from service.deps import EngineDep, MetricsDep, TenantDep, limit_batch
from service.openapi import error_responses
from service.schemas import EventIn, EventsResult, as_json
from service.tenancy import event_problems

__all__ = ["router"]

router = APIRouter(prefix="/v1/events", tags=["events"])

_EXAMPLES = {
    "history": {
        "summary": "一次完成、一次评分",
        "value": [
            {"id": "m001-20261201-01", "member": "m001", "item": "dis-012", "kind": "complete",
             "at": "2026-12-01T20:15:00+08:00"},
            {"id": "m001-20261201-02", "member": "m001", "item": "dis-012", "kind": "rate", "value": 5,
             "at": "2026-12-01T20:16:00+08:00"},
        ],
    },
}


@router.post(
    "",
    response_model=EventsResult,
    summary="Record events (batch, idempotent on id)",
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 409, 413, 422),
)
def post_events(
    events: Annotated[list[EventIn], Body(description="The events; all are recorded or none.",
                                           openapi_examples=_EXAMPLES)],
    engine: EngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
) -> EventsResult:
    """Record events, all or nothing. An event whose `id` is already recorded with the same
    content is a retry and is counted once; the same id with other content is a 409. Once this
    answers 200 the events are on disk. Members and items the key cannot see are reported as
    unknown, as missing ones are."""
    records = [as_json(e) for e in events]
    members = engine.find_members(r["member"] for r in records)
    problems = event_problems(tenant, records, members, engine.catalogue())
    try:
        batch = parse_records(enumerate(records, start=1), Event)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        # Every problem of the batch at once, in batch order, so one round trip fixes them all.
        raise combine(sorted(problems, key=lambda p: p.line or 0))
    recorded = engine.record(batch)
    metrics.events.labels("new").inc(recorded)
    metrics.events.labels("duplicate").inc(len(batch) - recorded)
    return EventsResult(received=len(batch), recorded=recorded, duplicates=len(batch) - recorded)
