"""``/v1/events``: what members did with items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from recsys.exceptions import ValidationError
from recsys.ingest.loaders import combine, parse_records
from recsys.records import Event
from service.bodies import body_lines, check_warnings, tabular_body, tabular_route
from service.deps import TenantEngineDep, MetricsDep, TenantDep, limit_batch
from service.errors import TABLE_SOURCE
from service.openapi import Sheet, Strict, error_responses
from service.schemas import EventIn, EventsResult, as_json
from service.tenancy import event_problems

__all__ = ["router"]

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=tabular_route(Event))

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
    response_model_exclude_defaults=True,  # `warnings` only when there are some
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 409, 413, 422),
    openapi_extra=tabular_body("id,member,item,kind,at\nm001-20261201-01,m001,dis-012,完成,2026/12/1 20:15\n"),
)
def post_events(
    events: Annotated[list[EventIn], Body(description="The events; all are recorded or none.",
                                           openapi_examples=_EXAMPLES)],
    request: Request,
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
    strict: Strict = False,
    sheet: Sheet = None,
) -> EventsResult:
    """Record events, all or nothing. An event whose `id` is already recorded in the member's
    enterprise with the same content is a retry and is counted once; the same id with other
    content is a 409. Another enterprise's ids are its own: using one is neither. Once this
    answers 200 the events are on disk. Members and items the key cannot see are reported as
    unknown, as missing ones are. The body may also be a `text/csv`, `.xlsx` or `.xls` export
    (kinds as 完成/报名/参加, times as 2026/12/1 20:15), its problems named by line."""
    records = [as_json(e) for e in events]
    members = engine.find_members(r["member"] for r in records)
    problems = event_problems(tenant, records, members, engine.catalogue())
    try:
        batch = parse_records(enumerate(records, start=1), Event)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        # Every problem of the batch at once, in batch order, so one round trip fixes them all.
        raise combine(_on_lines(sorted(problems, key=lambda p: p.line or 0), body_lines(request)))
    warnings = check_warnings(request, batch, engine.curriculum, strict=strict,
                              also=lambda lines, source: engine.event_warnings(batch, lines=lines, source=source))
    recorded = engine.record(batch)
    metrics.events.labels("new").inc(recorded)
    metrics.events.labels("duplicate").inc(len(batch) - recorded)
    return EventsResult(received=len(batch), recorded=recorded, duplicates=len(batch) - recorded, warnings=warnings)


def _on_lines(problems: list[ValidationError], lines: list[int] | None) -> list[ValidationError]:
    """Problems placed by batch position, moved to the export's lines when the body was one."""
    if lines is None:
        return problems
    return [ValidationError(p.reason, source=TABLE_SOURCE, line=lines[p.line - 1] if p.line else None,
                            record=p.record, field=p.field) for p in problems]
