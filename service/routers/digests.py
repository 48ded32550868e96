"""``/v1/orgs/{org}/digest``: an organisation's daily digest for its group chat."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from recsys.reports.digest import WECOM_MARKDOWN_BYTES, WECOM_TEXT_BYTES, format_digest
from service.deps import TenantEngineDep, TenantDep
from service.openapi import MaxBytes, MessageFormat, error_responses
from service.routers.progress import Day, OrgPath
from service.schemas import DigestOut
from service.tenancy import visible_org

__all__ = ["router"]

router = APIRouter(tags=["digests"])

_EXAMPLE = (
    "**hxny.fdgs.zb-yunxing · 12月1日学习提示**\n今日已为 6/6 名党员生成学习清单。\n\n**今日推荐学习**\n"
    "1. 《廉洁从业“十不准”解读》 15分钟 · 文章（3人）\n\n**近期活动（可报名）**\n"
    "> 12月9日 14:00 太原·发电公司集控楼《冬季机组跳闸与厂用电中断应急演练》，剩余 40 个名额"
)


@router.get(
    "/v1/orgs/{org}/digest",
    response_model=DigestOut,
    summary="An organisation's digest of the day, for its group chat",
    responses={
        200: {"description": "The digest as JSON, or with `format=text|markdown` as a message.",
              "content": {"text/plain": {"schema": {"type": "string"}, "example": _EXAMPLE}}},
        **error_responses(401, 404, 422),
    },
)
def digest(
    org: OrgPath,
    engine: TenantEngineDep,
    tenant: TenantDep,
    day: Day = None,
    format_: MessageFormat = "json",
    max_bytes: MaxBytes = None,
):
    """The items of the day's lists across the organisation's members (with how many got each),
    the offline activities of the next two weeks with seats left, and how many members have a
    list. It names no member and shows no one's hours, so it can go to the branch's group.
    A message keeps within what a 企业微信 group bot takes of its format unless `max_bytes`
    says otherwise (text 2,048 bytes, markdown 4,096)."""
    found = engine.digest(visible_org(tenant, org), day=day)
    if format_ == "json":
        return found.to_dict()
    markdown = format_ == "markdown"
    limit = max_bytes or (WECOM_MARKDOWN_BYTES if markdown else WECOM_TEXT_BYTES)
    return PlainTextResponse(format_digest(found, markdown=markdown, max_bytes=limit))
