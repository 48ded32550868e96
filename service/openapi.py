"""What the OpenAPI schema says beyond the models: error responses, path and paging parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query

from recsys.reports.digest import WECOM_MARKDOWN_BYTES, WECOM_TEXT_BYTES
from service.schemas import ID_PATTERN, ErrorBody

__all__ = [
    "error_responses", "ItemIdPath", "MemberIdPath", "Offset", "Limit", "HitCount", "ForMember",
    "Minutes", "Strict", "Sheet", "MessageFormat", "MaxBytes", "TAGS",
]

_WHY = {
    400: "The request could not be read (e.g. a malformed Content-Length or body encoding).",
    401: "No API key, or one that is unknown or revoked.",
    403: "The key may not do this (another organisation's records; shared items without a platform key; "
         "a platform key outside /v1/items).",
    404: "No such record, or one of another organisation (answered exactly alike).",
    409: "Conflicts with what is stored: an event id reused in this enterprise with other content, a member "
         "or item id another unit of this enterprise holds, a stored member's id given to another person "
         "(another name in another branch), or (platform key) a shared item taking the id of an enterprise's "
         "item; or with the state of the record (an activity full or over, a quiz answered already). Ids are "
         "per enterprise: another enterprise's never conflict.",
    413: "The body is over the size limit, or the batch over the record limit; the message names the limit.",
    422: "Invalid input; `details` names each offending record (by 0-based index and id, or by line for a "
         "CSV or workbook body) and field.",
    408: "The request body did not arrive within the time allowed (`RECSYS_BODY_SECONDS`); the connection is closed.",
    503: "The store is busy or not ready, or the server is saturated (code `busy`, with `Retry-After`); retry later.",
}

#: Tags, in the order the documentation shows them.
TAGS = [
    {"name": "items", "description": "Learning content (学习内容): online items and offline activities."},
    {"name": "members", "description": "Party members (党员), their daily study lists and study paths."},
    {"name": "events", "description": "What members did: impressions, progress, completions, ratings ..."},
    {"name": "search", "description": "Free-text search over the content visible to the key."},
    {"name": "coverage", "description": "Coverage for content editors: gaps, exposure, members not reached."},
    {"name": "progress", "description": "Learning records: hours against targets, points, quiz mastery, alerts."},
    {"name": "digests", "description": "A branch's digest of the day for its group chat (no names, no hours)."},
    {"name": "organisations", "description": "Display names of organisations, shown by reports instead of codes."},
    {"name": "operations", "description": "Health checks and Prometheus metrics (no key needed)."},
]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error status codes, all with the error body."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in codes}


ItemIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128, description="Item id.", examples=["dis-012"])]
MemberIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=128, description="Member id.", examples=["m001"])]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Records to skip (paging).", examples=[0])]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size, 1-500.", examples=[50])]
HitCount = Annotated[int, Query(ge=1, le=100, description="How many items, 1-100.", examples=[5])]
ForMember = Annotated[str | None, Query(
    pattern=ID_PATTERN, max_length=128,
    description="If given, only items this member could be offered today (feasible, not completed).",
    examples=["m001"],
)]
Minutes = Annotated[int | None, Query(
    ge=1, le=1440, description="Minutes available (1-1440); default: the member's `daily_minutes`.", examples=[30],
)]
Strict = Annotated[bool, Query(
    description="Refuse the batch (422) if anything looks mistaken (a role or topic no curriculum rule "
    "knows, an event in the future), instead of writing it with `warnings`.", examples=[False],
)]
MessageFormat = Annotated[Literal["json", "text", "markdown"], Query(
    alias="format", description="`json`; `text`, a plain-text message for a WeChat, QQ or 企业微信 group (titles "
    "followed by their links); or `markdown`, 企业微信 group-bot markdown (titles as `[标题](url)` links).",
    examples=["markdown"],
)]
#: 企业微信 group bots refuse text messages over this many bytes (markdown: 4,096).
MaxBytes = Annotated[int | None, Query(
    ge=200, le=1_000_000, description="For text and markdown: at most this many UTF-8 bytes, leaving out whole "
    f"entries from the end (a line says how many). 企业微信 takes {WECOM_TEXT_BYTES} for text, {WECOM_MARKDOWN_BYTES} for markdown.",
    examples=[WECOM_TEXT_BYTES],
)]
Sheet = Annotated[str | None, Query(
    max_length=200, description="For a workbook body (`.xlsx`, `.xls`): the sheet to read (default: the first "
    "holding a table).", examples=["党员名单"],
)]
