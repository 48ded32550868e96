"""``/v1/credits``: opening balances, the hours members studied this year before go-live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from recsys.credits import OpeningBalance
from recsys.exceptions import ValidationError
from recsys.ingest.loaders import combine, parse_records
from service.bodies import check_warnings
from service.deps import TenantEngineDep, MetricsDep, TenantDep, limit_batch
from service.openapi import error_responses
from service.schemas import OpeningBalanceIn, WriteResult, as_json

__all__ = ["router"]

router = APIRouter(tags=["progress"])

_EXAMPLES = {
    "balances": {
        "summary": "两名党员的期初学时",
        "value": [
            {"member": "m001", "year": 2026, "hours": 41.5, "note": "截至10月底学习台账"},
            {"member": "m002", "year": 2026, "hours": 6, "topic": "安全生产", "note": "安全培训记录"},
        ],
    },
}


@router.post(
    "/v1/credits",
    response_model=WriteResult,
    summary="Record opening balances (batch)",
    response_model_exclude_defaults=True,
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 413, 422),
)
def post_credits(
    balances: Annotated[list[OpeningBalanceIn], Body(description="The balances; all are written or none.",
                                                     openapi_examples=_EXAMPLES)],
    request: Request,
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
) -> WriteResult:
    """Hours members of the key's organisation studied this year before records began. They
    count toward the ledger and the pace as entries of kind `opening_balance` (no points). A
    balance replaces an earlier one of the same member, year and topic. Members the key cannot
    see are reported as unknown, as missing ones are."""
    records = [as_json(b) for b in balances]
    members = engine.find_members(r["member"] for r in records)
    unknown = [ValidationError(f"unknown member {r['member']!r}", line=n, record=r["member"], field="member")
               for n, r in enumerate(records, start=1)
               if r["member"] not in members or not tenant.sees_member(members[r["member"]])]
    if unknown:
        raise combine(unknown)
    warnings = check_warnings(request, parse_records(enumerate(records, start=1), OpeningBalance), engine.curriculum,
                              strict=False)
    written = engine.record_balances(records)
    metrics.writes.labels("opening_balance").inc(written)
    return WriteResult(written=written, warnings=warnings)
