"""Learning records: a member's progress, an organisation's progress by branch, alerts, and
content feedback for editors.

Each answers only within the key's organisation: another tenant's member or organisation is
answered with the same 404 as a missing one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path, Query

from recsys.records import TZ
from service.deps import TenantDep, TenantEngineDep
from service.member_tokens import MemberAccessDep, MemberEngineDep
from service.openapi import error_responses
from service.schemas import (
    FIRST_YEAR,
    ID_PATTERN,
    LAST_YEAR,
    AlertsOut,
    ContentFeedbackOut,
    Date,
    MemberProgressOut,
    OrgProgressOut,
)
from service.tenancy import visible_org

__all__ = ["router"]

router = APIRouter(tags=["progress"])

Day = Annotated[Date | None, Query(
    description=f"The day (YYYY-MM-DD, years {FIRST_YEAR}-{LAST_YEAR}); default: today in Asia/Shanghai. "
    "Records count up to its end; the year of the day is the year reported.",
    examples=["2026-12-01"],
)]
OrgQuery = Annotated[str | None, Query(
    pattern=ID_PATTERN, max_length=128,
    description="Only this organisation (within the key's); default: the key's organisation.",
    examples=["hxny.fdgs.zb-yunxing"],
)]
OrgPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128, description="Organisation (dotted path).",
                              examples=["hxny.fdgs.zb-yunxing"])]


@router.get("/v1/members/{member_id}/progress", response_model=MemberProgressOut,
            summary="A member's learning records", responses=error_responses(401, 404, 422))
def member_progress(member: MemberAccessDep, engine: MemberEngineDep, day: Day = None) -> dict:
    """The member's hours this year against their role's target (pace, projection, by topic,
    kind, mode and month, each entry with the event that earned it), their points (each traced
    to its events), the quiz-based mastery per topic and the quizzes waiting for review."""
    return engine.progress(member.id, day=day).to_dict()


@router.get("/v1/orgs/{org}/progress", response_model=OrgProgressOut,
            summary="An organisation's progress by branch", responses=error_responses(401, 404, 422))
def org_progress(org: OrgPath, engine: TenantEngineDep, tenant: TenantDep, day: Day = None) -> dict:
    """Hours against targets, members behind pace and a points leaderboard for each branch of the
    organisation (the key's own or a unit under it)."""
    return engine.org_progress(visible_org(tenant, org), day=day).to_dict()


@router.get("/v1/alerts", response_model=AlertsOut, summary="Alerts for party-affairs workers",
            responses=error_responses(401, 404, 422))
def alerts(
    engine: TenantEngineDep,
    tenant: TenantDep,
    day: Day = None,
    org: OrgQuery = None,
) -> dict:
    """Members behind pace on their hours, members with no study for 30 days, mobile members with
    no contact for six months, and branches with no themed party day this month."""
    scope = visible_org(tenant, org) if org is not None else tenant.org
    found = engine.alerts(scope, day=day)
    day = day or dt.datetime.now(TZ).date()
    return {"org": scope, "day": day.isoformat(), "counts": dict(Counter(a.kind for a in found)),
            "alerts": [a.to_dict() for a in found]}


@router.get("/v1/content-feedback", response_model=ContentFeedbackOut, summary="Items to fix or retire, per role",
            responses=error_responses(401, 404, 422))
def content_feedback(engine: TenantEngineDep, tenant: TenantDep, org: OrgQuery = None) -> dict:
    """Items the organisation's members of a role rarely finish, often skip or rate low, counted
    per member, so editors can fix or retire them. Only items the key can see are listed."""
    scope = visible_org(tenant, org) if org is not None else tenant.org
    items = engine.catalogue()
    flags = [f for f in engine.content_feedback(scope) if f.item in items and tenant.sees_item(items[f.item])]
    return {"org": scope, "flags": [f.to_dict() for f in flags]}
