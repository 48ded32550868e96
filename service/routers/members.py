"""``/v1/members``: party members, their daily study lists and their study paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from recsys.ingest.loaders import as_records
from recsys.records import Member
from recsys.serving.event_pages import MAX_EVENT_PAGE
from recsys.serving.text import format_list
from service.bodies import body_lines, check_warnings, tabular_body, tabular_route
from service.deps import MetricsDep, TenantDep, TenantEngineDep, VisibleMemberDep, limit_batch
from service.member_tokens import MemberAccessDep, MemberEngineDep, without_answers
from service.keys import org_within
from service.openapi import Limit, MaxBytes, MessageFormat, Minutes, Offset, Sheet, Strict, error_responses
from service.schemas import (
    FIRST_YEAR,
    ID_PATTERN,
    LAST_YEAR,
    Date,
    EventPageOut,
    MemberIn,
    MemberOut,
    MemberPage,
    MemberPatch,
    MemberRemovalOut,
    StudyListOut,
    StudyPathOut,
    WriteResult,
    as_json,
)
from service.tenancy import check_member_ids, check_member_writes

__all__ = ["router", "MAX_PATH_DAYS"]

router = APIRouter(prefix="/v1/members", tags=["members"], route_class=tabular_route(Member))

#: Longest path served over HTTP: each day is a full planning run, so this bounds a request's cost.
MAX_PATH_DAYS = 31

_EXAMPLES = {
    "members": {
        "summary": "两名党员",
        "value": [
            {"id": "m001", "name": "李志刚", "roles": ["member", "branch_secretary"], "org": "hxny.fdgs.zb-yunxing",
             "interests": ["党务工作", "安全生产"], "location": "太原", "daily_minutes": 40, "joined": "2003-12-18"},
            {"id": "m017", "name": "王桂兰", "roles": ["member", "retired"], "org": "hxny.fdgs.zb-yunxing",
             "interests": ["党史"], "offline": False, "daily_minutes": 20, "situation": "infirm"},
        ],
    },
}

_TEXT_EXAMPLE = (
    "李志刚 2026-12-01 · 共 35/40 分钟\n"
    "1. 《廉洁从业“十不准”解读》 https://dangjian.example.com/course/dis-012 15分钟 · 文章\n"
    "   - 您所在岗位（支部书记）的必修主题：廉洁从业，本年度还差 4.6 学时\n"
    "2. 《有限空间作业安全要点》 20分钟 · 视频\n"
    "   - 本支部党员近期完成较多"
)

@router.put(
    "",
    response_model=WriteResult,
    summary="Insert or replace members (batch)",
    response_model_exclude_defaults=True,  # `warnings` only when there are some
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 403, 409, 413, 422),
    openapi_extra=tabular_body("id,name,roles,org,offline,daily_minutes,joined\n"
                               "m001,李志刚,党员、支部书记,hxny.fdgs.zb-yunxing,是,40,2003/12/18\n"),
)
def put_members(
    members: Annotated[list[MemberIn], Body(description="The members; all are written or none.",
                                             openapi_examples=_EXAMPLES)],
    request: Request,
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
    strict: Strict = False,
    sheet: Sheet = None,
) -> WriteResult:
    """Insert or replace members by id. Every member must belong to the key's organisation or a
    unit under it. All or nothing. A record giving a stored member's id to another person (another
    name in another branch: two units each numbering from 0001) is refused with 409; a member
    renamed, or moved, keeps the id (both at once: `PATCH /v1/members/{id}`). The body may also be
    a `text/csv`, `.xlsx` or `.xls` export, read as `PUT /v1/items` reads one (roles as
    党员、支部书记, situations as 流动党员, yes/no as 是/否)."""
    records = [as_json(m) for m in members]
    existing = engine.find_members(r["id"] for r in records)
    check_member_writes(tenant, records, existing)
    records = as_records(records, Member)
    check_member_ids(records, existing, body_lines(request))
    warnings = check_warnings(request, records, engine.curriculum, strict=strict)
    written = engine.upsert_members(records)
    metrics.writes.labels("member").inc(written)
    return WriteResult(written=written, warnings=warnings)


@router.get("", response_model=MemberPage, summary="List members", responses=error_responses(401, 422))
def list_members(
    engine: TenantEngineDep,
    tenant: TenantDep,
    offset: Offset = 0,
    limit: Limit = 50,
    org: Annotated[str | None, Query(
        pattern=ID_PATTERN, max_length=128,
        description="Only members of this organisation and the units under it (within the key's).",
        examples=["hxny.fdgs.zb-yunxing"],
    )] = None,
) -> MemberPage:
    """The members of the key's organisation (and units under it), by id, one page at a time."""
    found = [m for m in engine.members() if tenant.sees_member(m) and (org is None or org_within(m.org, org))]
    page = [MemberOut.model_validate(m.to_dict()) for m in found[offset:offset + limit]]
    return MemberPage(members=page, total=len(found), offset=offset, limit=limit)


@router.get("/{member_id}", response_model=MemberOut, summary="Get a member",
            responses=error_responses(401, 404, 422))
def get_member(member: VisibleMemberDep) -> dict:
    """One member of the key's organisation."""
    return member.to_dict()


@router.patch(
    "/{member_id}",
    response_model=MemberOut,
    summary="Change some fields of a member",
    responses=error_responses(400, 401, 403, 404, 422),
)
def patch_member(
    member: VisibleMemberDep,
    changes: Annotated[MemberPatch, Body(description="The fields to change; the others keep their values.",
                                         openapi_examples={"interests": {"summary": "调整关注主题和每日学习时间", "value": {
                                             "interests": ["党史", "安全生产"], "daily_minutes": 20}}})],
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
) -> dict:
    """Change the fields named in the body and keep the others (a `PUT` replaces the whole
    member: one that omits `interests` empties them). A field set to null is cleared where a
    member allows it (`location`, `joined`); changing `situation` alone sets `offline` from it.
    The result is checked as a `PUT` of it would be; a new `org` must be within the key's."""
    updated = member.with_changes(as_json(changes))
    check_member_writes(tenant, [updated.to_dict()], {member.id: member})
    engine.upsert_members([updated])
    metrics.writes.labels("member").inc()
    return updated.to_dict()


@router.delete(
    "/{member_id}",
    response_model=MemberRemovalOut,
    summary="Remove a member (transferred out)",
    responses=error_responses(401, 404, 422),
)
def delete_member(
    member: VisibleMemberDep,
    engine: TenantEngineDep,
    metrics: MetricsDep,
    keep_history: Annotated[bool, Query(
        description="Keep the member's events for statistics under a pseudonym (a stable id that does not "
        "lead back to the member) instead of deleting them.", examples=[False],
    )] = False,
) -> dict:
    """Remove a member who left the organisation, with their stored daily lists and opening
    balances. Their events are deleted too, as the personal-information law expects of data no
    longer needed, unless `keep_history=true` keeps them anonymised. All or nothing."""
    removed = engine.remove_member(member.id, keep_history=keep_history)
    metrics.writes.labels("member_removed").inc()
    return removed.to_dict()


@router.get(
    "/{member_id}/events",
    response_model=EventPageOut,
    summary="A member's events, one page at a time (for audits)",
    responses=error_responses(401, 404, 422),
)
def list_member_events(
    member: MemberAccessDep,
    engine: MemberEngineDep,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENT_PAGE, description=f"Page size, 1-{MAX_EVENT_PAGE}.",
                                examples=[100])] = 100,
    offset: Offset = 0,
    cursor: Annotated[str | None, Query(
        max_length=200, description="The `next_cursor` of the page before (instead of `offset`).",
    )] = None,
) -> dict:
    """Everything recorded of the member (impressions of served lists included), oldest first,
    ties in the order recorded. Takes the member's own token too: a member may see what is
    recorded of them. Page with `offset`, or with `cursor` set to the `next_cursor` of
    the page before, which neither repeats nor skips events recorded while paging."""
    return engine.member_events(member.id, limit=limit, offset=offset, cursor=cursor).to_dict()


@router.get(
    "/{member_id}/daily",
    response_model=StudyListOut,
    summary="A member's study list for a day",
    responses={
        200: {
            "description": "The list as JSON, or with `format=text|markdown` as a message for the member alone "
                           "(it names them and their hours left; a group gets the branch digest).",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _TEXT_EXAMPLE}},
        },
        **error_responses(401, 404, 422),
    },
)
def daily(
    member: MemberAccessDep,
    engine: MemberEngineDep,
    metrics: MetricsDep,
    request: Request,
    day: Annotated[Date | None, Query(
        description=f"The day (YYYY-MM-DD, years {FIRST_YEAR}-{LAST_YEAR}); default: today in Asia/Shanghai.",
        examples=["2026-12-01"],
    )] = None,
    minutes: Minutes = None,
    preview: Annotated[bool, Query(
        description="Compute the list without storing it or recording impressions (the cool-down does not "
        "start): for showing an editor or a portal page what a member would get.", examples=[True],
    )] = False,
    format_: MessageFormat = "json",
    max_bytes: MaxBytes = None,
):
    """The member's study list: items that fit the time, never repeat, and say why they were
    chosen. Served lists are recorded as impressions; asking again the same day gives the same
    list unless the member's events changed. With `preview=true` nothing is stored or recorded."""
    lst = engine.daily(member.id, day=day, minutes=minutes, preview=preview)
    metrics.observe_list("daily", len(lst.entries), lst.minutes)
    if format_ != "json":
        return PlainTextResponse(format_list(lst, title=f"{member.name} {lst.day.isoformat()}",
                                             markdown=format_ == "markdown", max_bytes=max_bytes))
    return without_answers(request, lst.to_dict())


@router.get(
    "/{member_id}/path",
    response_model=StudyPathOut,
    summary="A member's multi-day study path",
    responses=error_responses(401, 404, 422),
)
def path(
    member: MemberAccessDep,
    engine: MemberEngineDep,
    metrics: MetricsDep,
    request: Request,
    start: Annotated[Date | None, Query(
        description=f"First day (YYYY-MM-DD, years {FIRST_YEAR}-{LAST_YEAR}); default: today.",
        examples=["2026-12-01"],
    )] = None,
    days: Annotated[int, Query(ge=1, le=MAX_PATH_DAYS, description=f"Number of days, 1-{MAX_PATH_DAYS}.",
                               examples=[7])] = 7,
    minutes: Minutes = None,
) -> dict:
    """A plan of one list a day: no item twice, prerequisites first, levels rising, offline
    activities on their dates with online preparation before them. A plan is not recorded."""
    plan = engine.path(member.id, start=start, days=days, minutes=minutes)
    for d in plan.days:
        metrics.observe_list("path_day", len(d.entries), d.minutes)
    return without_answers(request, plan.to_dict())
