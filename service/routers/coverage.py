"""Coverage for content editors: ``GET /v1/coverage`` (JSON) and ``GET /coverage`` (an HTML page).

Both cover the key's organisation (its units, its own and shared items). The JSON report is for
any key; the page is for admin keys, as it names members across every branch of the organisation.

A browser cannot send an ``Authorization`` header from the address bar, so ``/coverage`` also
takes the key as ``?key=``. The request log records paths without query strings, so the key is
not written to the log; still, prefer the header where the client can send one, and do not share
page links that carry a key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from recsys.reports.coverage_html import render_html
from service.deps import AdminEngineDep, PageAdminDep, TenantDep, TenantEngineDep
from service.openapi import error_responses
from service.routers.progress import OrgQuery
from service.schemas import FIRST_YEAR, LAST_YEAR, CoverageReportOut, Date
from service.tenancy import visible_org

__all__ = ["router"]

router = APIRouter(tags=["coverage"])

AsOf = Annotated[Date | None, Query(
    description=f"The as-of day (YYYY-MM-DD, years {FIRST_YEAR}-{LAST_YEAR}); default: today in Asia/Shanghai.",
    examples=["2026-12-01"],
)]


@router.get("/v1/coverage", response_model=CoverageReportOut, summary="Coverage report (JSON)",
            responses=error_responses(401, 404, 422))
def coverage(engine: TenantEngineDep, tenant: TenantDep, day: AsOf = None, org: OrgQuery = None) -> dict:
    """What content is missing for which roles and topics, which items nobody is shown, and which
    members are not reached, for the key's organisation (or a unit under it), as of ``day``."""
    scope = visible_org(tenant, org) if org is not None else tenant.org
    return engine.coverage(org=scope, day=day).to_dict()


# No response_class=HTMLResponse: it would document the JSON error bodies as text/html too.
@router.get("/coverage", summary="Coverage report page (admin keys)",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The report as a self-contained page."},
                       **error_responses(401, 403, 404, 422)})
async def coverage_page(
    engine: AdminEngineDep,
    tenant: PageAdminDep,
    day: AsOf = None,
    org: OrgQuery = None,
) -> HTMLResponse:
    """The coverage report of the key's organisation (or a unit under it) as a page: tables that
    sort, filter by unit and activity dates, and download as CSV or one Excel workbook, and charts
    the browser draws (role × topic heatmap, exposure histogram). Admin keys only; the key may be
    given as ``?key=`` for a browser."""

    scope = visible_org(tenant, org) if org is not None else tenant.org

    def render() -> str:
        return render_html(engine.coverage(org=scope, day=day))

    return HTMLResponse(await run_in_threadpool(render))
