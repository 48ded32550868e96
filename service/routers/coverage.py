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

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials

from recsys.reports.coverage_html import render_html
from service.deps import EngineDep, KeysDep, TenantDep, _bearer
from service.errors import Forbidden, Unauthorized
from service.openapi import error_responses
from service.schemas import FIRST_YEAR, LAST_YEAR, CoverageReportOut, Date
from service.tenancy import Tenant

__all__ = ["router"]

router = APIRouter(tags=["coverage"])

AsOf = Annotated[Date | None, Query(
    description=f"The as-of day (YYYY-MM-DD, years {FIRST_YEAR}-{LAST_YEAR}); default: today in Asia/Shanghai.",
    examples=["2026-12-01"],
)]


#: The key as ``?key=``: a security scheme of its own, so the schema says header *or* query.
_query_key = APIKeyQuery(
    name="key", auto_error=False, scheme_name="pageKey",
    description="The admin API key as `?key=`, for a browser that cannot send `Authorization: Bearer <key>`; "
    "the header wins when both are sent.",
)


def admin_from_header_or_query(
    request: Request,
    keys: KeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_query_key)],
) -> Tenant:
    """The admin tenant of the request, from its bearer header or its ``key`` query parameter.

    Raises:
        Unauthorized: no key, or an unknown or revoked one.
        Forbidden: a valid key without the admin flag.
    """
    secret = credentials.credentials if credentials is not None else key
    if not secret:
        raise Unauthorized("an admin API key is required: send 'Authorization: Bearer <key>' or add ?key=<key>")
    found = keys.authenticate(secret)
    if found is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    tenant = Tenant(org=found.org, admin=found.admin, key_id=found.id)
    request.state.tenant = tenant  # for the request log
    if not found.admin:
        raise Forbidden("the coverage page is for admin keys; this key may use GET /v1/coverage")
    return tenant


@router.get("/v1/coverage", response_model=CoverageReportOut, summary="Coverage report (JSON)",
            responses=error_responses(401, 422))
def coverage(engine: EngineDep, tenant: TenantDep, day: AsOf = None) -> dict:
    """What content is missing for which roles and topics, which items nobody is shown, and which
    members are not reached, for the key's organisation, as of ``day``."""
    return engine.coverage(org=tenant.org, day=day).to_dict()


# No response_class=HTMLResponse: it would document the JSON error bodies as text/html too.
@router.get("/coverage", summary="Coverage report page (admin keys)",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The report as a self-contained page."},
                       **error_responses(401, 403, 422)})
async def coverage_page(
    engine: EngineDep,
    tenant: Annotated[Tenant, Depends(admin_from_header_or_query)],
    day: AsOf = None,
) -> HTMLResponse:
    """The coverage report of the key's organisation as a page with charts (role × topic heatmap,
    exposure histogram, members not reached by branch). Admin keys only; the key may be given as
    ``?key=`` for a browser."""

    def render() -> str:
        return render_html(engine.coverage(org=tenant.org, day=day))

    return HTMLResponse(await run_in_threadpool(render))
