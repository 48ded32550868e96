"""A member's own page and what it calls: tokens, the page's data, events and enrolments.

``POST /v1/members/{id}/token`` takes an organisation key; everything else here (the page's
data, events, enrolments, answering a quiz) also takes the member token it returns (see :mod:`service.member_tokens`). ``GET /m?token=`` serves the page,
``/static/`` its script and style (and the portal widget, ``/static/recsys-widget.js``): every
file the page needs comes from the service itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from recsys.exceptions import NotFoundError, ValidationError
from recsys.pipeline.explain import number_text
from recsys.ingest.loaders import combine, parse_records
from recsys.records import TZ, Event
from recsys.serving.search import visible_to
from service.deps import EngineDep, MetricsDep, TenantEngineDep, VisibleMemberDep, shared_link
from service.errors import Unauthorized
from service.member_tokens import MemberAccessDep, MemberEngineDep, member_from_token
from service.openapi import ItemIdPath, error_responses
from service.schemas import (
    EnrolmentOut,
    EventsResult,
    MemberEventIn,
    MemberTokenIn,
    MemberTokenOut,
    QuizAnswersIn,
    QuizResultOut,
    as_json,
)

__all__ = ["router", "STATIC_DIR", "static_files", "PAGE_HEADERS", "offline_page"]

router = APIRouter(tags=["member page"])

#: The page, its script and style, and the portal widget.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: How far back a member's own event may be dated (a page may send what it held offline), and
#: how far ahead (clocks differ).
_MEMBER_PAST = dt.timedelta(days=30)
_SKEW = dt.timedelta(minutes=5)

#: Headers of the member's page: nothing may load from, or be sent to, another origin; the token
#: in its address is not passed on as a referrer; a shared computer keeps no copy.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


@router.post("/v1/members/{member_id}/token", response_model=MemberTokenOut, summary="A token acting for one member",
             responses=error_responses(400, 401, 404, 422))
def member_token(
    member: VisibleMemberDep,
    engine: TenantEngineDep,
    body: Annotated[MemberTokenIn | None, Body(description="The lifetime; default 12 hours.")] = None,
) -> MemberTokenOut:
    """Trade the organisation key for a short-lived token (default 12 h, at most 7 days) that acts
    for this member only: their list, path, progress, page, events and enrolments. Give the token
    to the member's browser (`/m?token=`, or the portal widget); never the key. Tokens are
    refused once expired, and all at once after `recsys keys rotate-token-secret`."""
    hours = body.hours if body is not None else MemberTokenIn().hours
    token, expires = engine.member_token(member.id, hours=hours)
    return MemberTokenOut(member=member.id, token=token, expires=expires, page=f"/m?token={token}")


@router.get("/v1/members/{member_id}/page", summary="What the member's page shows",
            responses=error_responses(401, 404, 422))
def member_page(member: MemberAccessDep, engine: MemberEngineDep) -> dict:
    """Today's list as served (stored, impressions recorded), activities ahead with seats left,
    this year's hours against the target with the pace, points, and quizzes due for review.
    Takes the member's token or an organisation key."""
    return engine.member_page(member.id)


@router.post("/v1/members/{member_id}/events", response_model=EventsResult, summary="Record the member's own events",
             response_model_exclude_defaults=True, responses=error_responses(400, 401, 404, 409, 422))
def member_events(
    request: Request,
    member: MemberAccessDep,
    engine: MemberEngineDep,
    metrics: MetricsDep,
    events: Annotated[list[MemberEventIn], Body(description="The member's events; all are recorded or none.",
                                                 max_length=100)],
) -> EventsResult:
    """What the member did (start, complete, skip, dislike, rate ...), for the member of the path
    only. Takes the member's token or an organisation key. Items the member cannot see are
    reported as unknown, as missing ones are. With a member token, a quiz with questions is
    completed only by answering it (`POST /v1/members/{id}/quizzes/{item}`, scored on the server):
    a `quiz` or `complete` event of one is refused; and an offline activity is attended as the
    organiser records it, so a `complete` or `progress` event of one is refused."""
    now = dt.datetime.now(TZ)
    catalogue = engine.catalogue()
    by_token = getattr(request.state, "member_token", False)
    records, problems = [], []
    # A retry of an event with an id and no time is the event first recorded, at its time (the
    # time given by default is the moment of each try: a retry on a weak network was a conflict).
    untimed = {own_event_id(member.id, e.id) for e in events if e.id is not None and e.at is None}
    first = {r.id: r for r in engine.events(member.id) if r.id in untimed} if untimed else {}
    for n, e in enumerate(events, start=1):
        data = as_json(e)
        if data.get("id") is not None:
            data["id"] = own_event_id(member.id, data["id"])
        earlier = first.get(data.get("id"))
        if earlier is not None and data.get("at") is None and (earlier.item, earlier.kind, earlier.value) == (
                data["item"], data["kind"], data.get("value")):
            data["at"] = earlier.at.isoformat()
        elif e.at is not None and not now - _MEMBER_PAST <= (e.at if e.at.tzinfo else e.at.replace(tzinfo=TZ)) <= now + _SKEW:
            # A member's own record is of what they do now (a page may send it a few days late):
            # a link in a chat must not rewrite another year's hours.
            problems.append(ValidationError(f"must be within the last {_MEMBER_PAST.days} days and not in the future, "
                                            f"got {data['at']!r}", source="batch", line=n, record=data.get("id"),
                                            field="at"))
        data.update(member=member.id, at=data.get("at") or now.isoformat())
        item = catalogue.get(data["item"])
        if item is None or not visible_to(item, member.org):
            problems.append(ValidationError(f"unknown item {data['item']!r}", source="batch", line=n,
                                            record=data.get("id"), field="item"))
        elif by_token and item.questions and data.get("kind") in ("quiz", "complete"):
            # A score the member gives themselves, or hours without answering: the portal's key
            # may still record a quiz taken elsewhere.
            problems.append(ValidationError(
                f"item {item.id!r} is a quiz with questions: it is completed by answering it "
                f"(POST /v1/members/{member.id}/quizzes/{item.id}), which scores the answers",
                source="batch", line=n, record=data.get("id"), field="kind"))
        elif by_token and not item.online and data.get("kind") in ("complete", "progress"):
            # Attendance is the organiser's to record (``attend``, with the organisation's key or
            # an import): a member's own token credited itself an activity's hours before it
            # took place, and for one whose seats were all taken.
            problems.append(ValidationError(
                f"item {item.id!r} is an offline activity: its attendance is recorded by the organiser, "
                f"not on the member's own route", source="batch", line=n, record=data.get("id"), field="kind"))
        records.append(data)
    try:
        batch = parse_records(enumerate(records, start=1), Event)
    except ValidationError as exc:
        problems.extend(exc.problems or [exc])
    if problems:
        raise combine(sorted(problems, key=lambda p: p.line or 0))
    recorded = engine.record(batch)
    metrics.events.labels("new").inc(recorded)
    metrics.events.labels("duplicate").inc(len(batch) - recorded)
    return EventsResult(received=len(batch), recorded=recorded, duplicates=len(batch) - recorded)


def own_event_id(member: str, given: str) -> str:
    """The id an event sent on a member's own route is kept under: ``<member>:<given>``, or a
    digest of the two where that would pass the 128 characters of an id or the member's id has a
    ``:`` of its own (``a`` + ``b:c`` and ``a:b`` + ``c`` must not meet). An id read back from the
    member's events, already the member's, is kept as it is. Ids are unique per enterprise:
    without this, a member's token could take the id the portal later gives another member's
    event (the portal's event then refused as a conflict) or an impression's."""
    own = f"{member}:{given}"
    if ":" not in member and given.startswith(f"{member}:"):
        return given
    if ":" in member or len(own) > 128:
        return "own-" + hashlib.blake2b(f"{member}\x1f{given}".encode(), digest_size=20).hexdigest()
    return own


def _enrolment(engine, member, item_id: str, changed: bool) -> EnrolmentOut:
    return EnrolmentOut(member=member.id, item=item_id, enrolled=item_id in engine.enrolled(member.id),
                        changed=changed, seats_left=engine.seats_left(item_id))


def _visible_item(engine, member, item_id: str):
    item = engine.item(item_id)
    if not visible_to(item, member.org):
        raise NotFoundError("item", item_id)
    return item


@router.put("/v1/members/{member_id}/enrolments/{item_id}", response_model=EnrolmentOut,
            summary="Enrol the member in an activity (报名)", responses=error_responses(401, 404, 409, 422))
def enroll(member: MemberAccessDep, item_id: ItemIdPath, engine: MemberEngineDep) -> EnrolmentOut:
    """Take a seat in an offline activity for the member. A 409 says why not: the activity is
    full or over, or the member does not attend offline activities. Enrolling again is a no-op."""
    item = _visible_item(engine, member, item_id)
    return _enrolment(engine, member, item.id, engine.enroll(member.id, item.id))


@router.delete("/v1/members/{member_id}/enrolments/{item_id}", response_model=EnrolmentOut,
               summary="Withdraw the member from an activity (取消报名)", responses=error_responses(401, 404, 422))
def withdraw(member: MemberAccessDep, item_id: ItemIdPath, engine: MemberEngineDep) -> EnrolmentOut:
    """Give the member's seat back (recorded as an `enroll` event with value 0)."""
    item = _visible_item(engine, member, item_id)
    return _enrolment(engine, member, item.id, engine.withdraw(member.id, item.id))


@router.post("/v1/members/{member_id}/quizzes/{item_id}", response_model=QuizResultOut,
             summary="Answer a quiz (答题)", responses=error_responses(400, 401, 404, 409, 422))
def answer_quiz(member: MemberAccessDep, item_id: ItemIdPath, engine: MemberEngineDep, metrics: MetricsDep,
                body: Annotated[QuizAnswersIn, Body(description="The answers, by question id.")]) -> QuizResultOut:
    """Score the member's answers on the server and record the score as a `quiz` event, which
    completes the item and feeds the mastery estimate. The questions a member's page shows carry
    no answers; the right ones come back here, once answered. Takes the member's token or an
    organisation key; an id sent again with the same answers is recorded once (a retry)."""
    item = _visible_item(engine, member, item_id)
    event_id = own_event_id(member.id, body.id) if body.id is not None else None
    result = engine.answer_quiz(member.id, item.id, body.answers, event_id=event_id)
    metrics.events.labels("new" if result.recorded else "duplicate").inc()
    return QuizResultOut(**result.to_dict())


_REFUSED = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>链接已失效</title>
<link rel="stylesheet" href="/static/recsys-member.css"></head>
<body><main class="refused"><h1>链接已失效</h1><p>{why}</p>
<p>请回到推送链接的群或所在单位的党建平台，重新打开“每日学习”；也可请党支部重新发送链接。</p></main></body></html>"""


@router.get("/m", summary="The member's page (HTML)", include_in_schema=True,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The page; its script reads the token from the address."},
                       401: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "A missing, invalid or expired token."},
                       **error_responses(422)})
@shared_link
def page(
    request: Request,
    engine: EngineDep,
    token: Annotated[str | None, Query(max_length=512, description="A member token.")] = None,
) -> HTMLResponse:
    """The member's daily page: mobile first, in Chinese, with every script and style served
    from this service. Open it with a token (`/m?token=`), or embed it in an `<iframe>`."""
    try:
        if not token:
            raise Unauthorized("这个链接缺少登录凭据。")
        member_from_token(request, engine, token)
    except Unauthorized:
        why = "这个链接缺少登录凭据。" if not token else "这个链接已过期或无效。"
        return HTMLResponse(_REFUSED.format(why=why), status_code=401, headers=PAGE_HEADERS)
    return HTMLResponse((STATIC_DIR / "member.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)


def offline_page(document: dict) -> str:
    """The member's page as one self-contained file: the page's style and the component's script
    inlined, and ``document`` (:meth:`recsys.Engine.member_page`) inside it, so it opens without
    a server (its buttons are off). For ``recsys page MEMBER --html``."""
    css = (STATIC_DIR / "recsys-member.css").read_text(encoding="utf-8")
    # Inline, a "</script" (the usage comment has one) would end the script element early.
    script = (STATIC_DIR / "recsys-widget.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    data = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    name = document["member"]["name"]
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>每日学习 · {html.escape(name)} · {document["day"]}</title>
<style id="recsys-css">
{css}
</style>
<script type="application/json" id="recsys-data">{data}</script>
<script>
{script}
</script>
</head>
<body class="member-page">
<recsys-daily view="full" offline></recsys-daily>
{_plain_page(document)}
</body>
</html>
"""


def _plain_page(document: dict) -> str:
    """The page's list as plain HTML for a viewer that runs no script (a chat app's file viewer,
    a locked-down browser): without it the file showed its title alone."""
    e = html.escape

    def line(entry: dict) -> str:
        item = entry["item"]
        reasons = "；".join(entry["reasons"])
        return (f"<li><strong>《{e(item['title'])}》</strong> {item['minutes']}分钟 · {e(item['kind_name'])}"
                + (f"<br><small>{e(reasons)}</small>" if reasons else "") + "</li>")

    member, hours = document["member"], document["hours"]
    parts = [f"<h1>{e(member['name'])} · {e(document['day'])} 每日学习</h1>",
             f"<p>今日安排 {document['minutes']}/{document['budget']} 分钟；本年度已学 {hours['hours']} 学时"
             + (f"（目标 {number_text(hours['target'])} 学时，{e(hours['status_name'])}）" if hours["target"] else "") + "</p>"]
    parts.append("<ol>" + "".join(line(x) for x in document["entries"]) + "</ol>" if document["entries"]
                 else "".join(f"<p>{e(n)}</p>" for n in document["notes"]))
    if document["upcoming"]:
        parts.append("<h2>近期活动</h2><ul>" + "".join(line(x) for x in document["upcoming"]) + "</ul>")
    return "<noscript>" + "".join(parts) + "</noscript>"
