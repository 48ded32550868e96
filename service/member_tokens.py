"""Member tokens at the HTTP edge: who a token acts for, and cross-origin access for tokens only.

An organisation key (``Authorization: Bearer rsk_...``) trades for a member token
(``POST /v1/members/{id}/token``); the token (``Authorization: Bearer rsm....`` or ``/m?token=``)
acts for that one member on their own routes: list, path, progress, page, events and enrolments.
Everything else refuses it as it refuses an unknown key (401). Another member's token on a
member's route answers 404, as another organisation's member does for a key.

Browsers on a portal's own origin call those member routes with a token, so they answer
cross-origin requests (CORS) -- but a response is readable cross-origin only when the request
carried a member token, never an organisation key, which must stay on the portal's back end.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recsys import Engine
from recsys.exceptions import AmbiguousIdError, NotFoundError, TokenError
from recsys.records import Member
from recsys.tokens import TOKEN_PREFIX
# The key scheme itself, so the schema offers a key *or* a token on the member routes.
from service.deps import _bearer as key_scheme
from service.deps import EngineDep, KeysDep, get_tenant, scoped
from service.errors import Unauthorized
from service.openapi import MemberIdPath
from service.tenancy import Tenant, visible_member

__all__ = ["is_member_token", "member_from_token", "get_member_access", "MemberAccessDep", "MemberCorsMiddleware",
           "MEMBER_ROUTES", "get_member_engine", "MemberEngineDep", "without_answers"]

_either = HTTPBearer(
    auto_error=False,
    scheme_name="memberToken",
    description="An organisation API key, or a member token from `POST /v1/members/{id}/token` acting for "
    "that member only, sent as `Authorization: Bearer <token>`.",
)

#: The routes a member token may call (and that answer cross-origin requests carrying one).
MEMBER_ROUTES = re.compile(
    r"^/v1/members/[A-Za-z0-9._:-]{1,128}/(daily|path|progress|page|events|(enrolments|quizzes)/[A-Za-z0-9._:-]{1,128})$")


def is_member_token(secret: str | None) -> bool:
    return bool(secret) and secret.startswith(TOKEN_PREFIX + ".")


def member_from_token(request: Request, engine: Engine, token: str) -> Member:
    """The member a valid token acts for (in their enterprise, which the token names).

    Raises:
        Unauthorized: a malformed, tampered, rotated-out or expired token, or one for a member
            no longer stored (or, from before enterprises were named in tokens, for an id that
            several enterprises use now).
    """
    try:
        _, member = engine.token_member(token)
    except TokenError as exc:
        raise Unauthorized(str(exc)) from None
    except (NotFoundError, AmbiguousIdError):
        raise Unauthorized("the member token names a member who is no longer registered") from None
    # For the request log: the member's organisation, and no key.
    request.state.tenant = Tenant(org=member.org, admin=False, key_id="member-token")
    request.state.member_token = True
    return member


def without_answers(request: Request, data: dict) -> dict:
    """``data`` (a list or path as JSON) as a member token may read it: quiz questions without
    their answers, which the member gets back once answered (``POST .../quizzes/{item}``). An
    organisation key reads them whole (a portal may mark its own quizzes)."""
    if not getattr(request.state, "member_token", False):
        return data

    def strip(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "questions" and isinstance(value, list):
                    for q in value:
                        if isinstance(q, dict):
                            q["answer"] = None
                else:
                    strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(data)
    return data


def get_member_access(
    member_id: MemberIdPath,
    request: Request,
    engine: EngineDep,
    keys: KeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_either)],
    _key: Annotated[HTTPAuthorizationCredentials | None, Depends(key_scheme)],
) -> Member:
    """The member of the ``{member_id}`` path, for a member token acting for them or an
    organisation key holding them.

    Raises:
        Unauthorized: no credentials, or an invalid key or token.
        NotFoundError: no such member, one of another organisation, or another member's token
            (answered alike).
    """
    if credentials is not None and is_member_token(credentials.credentials):
        member = member_from_token(request, engine, credentials.credentials)
        if member.id != member_id:
            raise NotFoundError("member", member_id)
        return member
    tenant = get_tenant(request, keys, credentials)
    return visible_member(scoped(engine, tenant.org), tenant, member_id)


MemberAccessDep = Annotated[Member, Depends(get_member_access)]


def get_member_engine(engine: EngineDep, member: MemberAccessDep) -> Engine:
    """The engine as the member's enterprise sees it (a key acting for them is of the same one)."""
    return scoped(engine, member.org)


MemberEngineDep = Annotated[Engine, Depends(get_member_engine)]


class MemberCorsMiddleware:
    """CORS for the member routes, for member tokens only.

    A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) to a member route is
    answered at once: it carries no credentials to judge. The actual response carries
    ``Access-Control-Allow-Origin`` only when its request sent a member token, so a page on
    another origin can read what a token fetched and nothing an organisation key fetched. No
    cookies are involved, so no credentials mode is offered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not MEMBER_ROUTES.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("origin") is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await Response(status_code=204, headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            })(scope, receive, send)
            return
        scheme, _, secret = headers.get("authorization", "").partition(" ")
        token = scheme.lower() == "bearer" and is_member_token(secret.strip())

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and token:
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = "*"
                out["Access-Control-Expose-Headers"] = "X-Request-ID"
            await send(message)

        await self.app(scope, receive, send_with_cors)
