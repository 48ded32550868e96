"""``/v1/orgs``: display names of organisations, which reports, digests and alerts show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from recsys.exceptions import ValidationError
from recsys.ingest.loaders import combine
from recsys.orgs import OrgName
from service.bodies import tabular_body, tabular_route
from service.deps import TenantEngineDep, MetricsDep, TenantDep, limit_batch
from service.keys import org_within
from service.openapi import Sheet, error_responses
from service.schemas import OrgNameIn, OrgNamesOut, WriteResult, as_json

__all__ = ["router"]

router = APIRouter(tags=["organisations"], route_class=tabular_route(OrgName))

_EXAMPLES = {
    "names": {
        "summary": "一个党委和它的两个支部",
        "value": [
            {"org": "hxny.fdgs", "name": "发电公司党委"},
            {"org": "hxny.fdgs.zb-yunxing", "name": "运行党支部"},
            {"org": "hxny.fdgs.zb-jianxiu", "name": "检修党支部"},
        ],
    },
}


@router.put(
    "/v1/orgs",
    response_model=WriteResult,
    summary="Set display names of organisations (batch)",
    response_model_exclude_defaults=True,
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 413, 422),
    openapi_extra=tabular_body("组织编码,组织名称\nhxny.fdgs,发电公司党委\nhxny.fdgs.zb-yunxing,运行党支部\n"),
)
def put_org_names(
    names: Annotated[list[OrgNameIn], Body(description="The names; all are written or none.",
                                           openapi_examples=_EXAMPLES)],
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
    sheet: Sheet = None,
) -> WriteResult:
    """Name the key's organisation and the units under it: coverage, digests, alerts and
    progress then show 运行党支部 instead of `hxny.fdgs.zb-yunxing`. A name replaces an earlier
    one of the same code. The body may also be a `text/csv`, `.xlsx` or `.xls` export with the columns
    `org, name` (or 组织编码, 组织名称)."""
    records = [as_json(n) for n in names]
    outside = [ValidationError(f"organisation {r['org']!r} is outside this key's organisation {tenant.org!r}",
                               line=n, record=r["org"], field="org")
               for n, r in enumerate(records, start=1) if not org_within(r["org"], tenant.org)]
    if outside:
        raise combine(outside)
    written = engine.set_org_names(records)
    metrics.writes.labels("org_name").inc(written)
    return WriteResult(written=written)


@router.get("/v1/orgs", response_model=OrgNamesOut, summary="Display names of organisations",
            responses=error_responses(401, 422))
def get_org_names(engine: TenantEngineDep, tenant: TenantDep) -> OrgNamesOut:
    """The display names of the key's organisation and the units under it, by code."""
    names = engine.org_names()
    return OrgNamesOut(names={org: name for org, name in names.items() if org_within(org, tenant.org)})
