"""Dependencies of the routes, as ``Annotated`` aliases (``EngineDep``, ``TenantDep`` ...).

Each reads what the lifespan put on ``app.state``; tests swap any of them through
``app.dependency_overrides``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from recsys import Engine
from recsys.records import Item, Member
from service.bodies import raise_body_problems
from service.errors import Forbidden, NotReady, PayloadTooLarge, Unauthorized
from service.keys import KeyRing
from service.metrics import Metrics
from service.openapi import ForMember, ItemIdPath, MemberIdPath
from service.settings import Settings
from service.tenancy import PLATFORM_ROUTES, Tenant, visible_item, visible_member

__all__ = [
    "get_settings", "get_engine", "get_keys", "get_metrics", "get_tenant", "get_page_admin",
    "get_visible_member", "get_visible_item", "get_for_member", "limit_batch", "reject_unknown_query",
    "SettingsDep", "EngineDep", "KeysDep", "MetricsDep", "TenantDep", "PageAdminDep",
    "VisibleMemberDep", "VisibleItemDep", "ForMemberDep", "scoped", "get_tenant_engine", "get_admin_engine",
    "TenantEngineDep", "AdminEngineDep",
]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `recsys keys add ORG`, sent as `Authorization: Bearer <key>`. "
    "It acts for its organisation and every unit under it.",
)

#: The key as ``?key=``: a security scheme of its own, so the schema says header *or* query.
_query_key = APIKeyQuery(
    name="key", auto_error=False, scheme_name="pageKey",
    description="The admin API key as `?key=`, for a browser that cannot send `Authorization: Bearer <key>`; "
    "the header wins when both are sent.",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise NotReady("the service is starting: the store is not open yet; try again shortly")
    return engine


def get_keys(request: Request) -> KeyRing:
    keys = getattr(request.app.state, "keys", None)
    if keys is None:
        raise NotReady("the service is starting: the API keys are not loaded yet; try again shortly")
    return keys


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
KeysDep = Annotated[KeyRing, Depends(get_keys)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def get_tenant(
    request: Request,
    keys: KeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Tenant:
    """The organisation the request acts for, from its bearer key.

    Raises:
        Unauthorized: no key, a malformed, unknown or revoked one.
    """
    if credentials is None:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    return _authenticate(request, keys, credentials.credentials)


def get_page_admin(
    request: Request,
    keys: KeysDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_query_key)],
) -> Tenant:
    """The admin tenant of a page request, from its bearer header or its ``key`` query parameter
    (a browser cannot send a header from the address bar).

    Raises:
        Unauthorized: no key, or an unknown or revoked one.
        Forbidden: a valid key without the admin flag.
    """
    secret = credentials.credentials if credentials is not None else key
    if not secret:
        raise Unauthorized("an admin API key is required: send 'Authorization: Bearer <key>' or add ?key=<key>")
    tenant = _authenticate(request, keys, secret)
    if not tenant.admin:
        raise Forbidden("the coverage page is for admin keys; this key may use GET /v1/coverage")
    return tenant


def _authenticate(request: Request, keys: KeyRing, secret: str) -> Tenant:
    found = keys.authenticate(secret)
    if found is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    tenant = Tenant(org=found.org, admin=found.admin, key_id=found.id)
    request.state.tenant = tenant  # for the request log, a refused non-admin key included
    route = getattr(request.scope.get("route"), "path", None)
    if tenant.platform and route not in PLATFORM_ROUTES:
        raise Forbidden("a platform key writes and reads shared items only (/v1/items); "
                        "use an organisation's key for members, events, lists, search and reports")
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]
PageAdminDep = Annotated[Tenant, Depends(get_page_admin)]


def scoped(engine: Engine, org: str | None) -> Engine:
    """The engine as the key's enterprise sees it (:meth:`recsys.Engine.tenant`); the platform's
    view of shared items for a platform key. Member and item ids are unique per enterprise, so
    every route works in one: another enterprise's ids are not there at all."""
    return engine.tenant(org or "")


def get_tenant_engine(engine: EngineDep, tenant: TenantDep) -> Engine:
    return scoped(engine, tenant.org)


def get_admin_engine(engine: EngineDep, tenant: PageAdminDep) -> Engine:
    return scoped(engine, tenant.org)


TenantEngineDep = Annotated[Engine, Depends(get_tenant_engine)]
AdminEngineDep = Annotated[Engine, Depends(get_admin_engine)]


# The path parameters live here, not in the handlers, so every route under /{member_id} or
# /{item_id} checks visibility the same way: another tenant's record answers the same 404 as a
# missing one, and no handler can forget the check.
def get_visible_member(member_id: MemberIdPath, engine: EngineDep, tenant: TenantDep) -> Member:
    """The member of the ``{member_id}`` path, if the key's organisation holds them.

    Raises:
        NotFoundError: no such member, or one of another organisation (answered alike).
    """
    return visible_member(scoped(engine, tenant.org), tenant, member_id)


def get_visible_item(item_id: ItemIdPath, engine: EngineDep, tenant: TenantDep) -> Item:
    """The item of the ``{item_id}`` path, if the key can see it.

    Raises:
        NotFoundError: no such item, or one the key cannot see (answered alike).
    """
    return visible_item(scoped(engine, tenant.org), tenant, item_id)


def get_for_member(engine: EngineDep, tenant: TenantDep, member: ForMember = None) -> str | None:
    """The ``?member=`` a search is filtered for, once checked visible to the key (None if not given).

    Raises:
        NotFoundError: no such member, or one of another organisation (answered alike).
    """
    if member is not None:
        visible_member(scoped(engine, tenant.org), tenant, member)
    return member


VisibleMemberDep = Annotated[Member, Depends(get_visible_member)]
VisibleItemDep = Annotated[Item, Depends(get_visible_item)]
ForMemberDep = Annotated[str | None, Depends(get_for_member)]


def _query_names(dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    # A key sent as a query parameter (the coverage page's ?key=) is a security scheme, not a field.
    if isinstance(dependant.call, APIKeyQuery):
        names.add(dependant.call.model.name)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def shared_link(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a page people open from a shared link (``/m?token=``): chat apps add parameters of
    their own to a forwarded link (``from=groupmessage&isappinstalled=0``), so it takes them
    rather than refuse the member with a JSON error. Put it under the route decorator."""
    endpoint.shared_link = True  # type: ignore[attr-defined]
    return endpoint


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the endpoint does not take, so that a typo (``limt=5``) is a 422
    naming it rather than a silently ignored option (pages marked :func:`shared_link` excepted).

    Raises:
        RequestValidationError: naming each unknown parameter.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or getattr(getattr(route, "endpoint", None), "shared_link", False):
        return
    known = _query_names(dependant)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "msg": "this endpoint takes no such parameter"
             + (f"; it takes {', '.join(sorted(known))}" if known else ""), "input": None}
            for name in dict.fromkeys(unknown)
        ])


async def limit_batch(request: Request, settings: SettingsDep, tenant: TenantDep) -> None:
    """Refuse an export body that could not be read (every problem named by its line), and a
    batch of more than ``settings.max_batch`` records with a 413 naming the limit.

    Runs before the body is validated record by record, so an oversized batch costs no more than
    its parse. Depends on the tenant so an unauthenticated caller gets 401 first.
    """
    raise_body_problems(request)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: body validation reports it
    if isinstance(body, list) and len(body) > settings.max_batch:
        raise PayloadTooLarge(
            f"the batch has {len(body)} records and the limit is {settings.max_batch}; "
            "split it into smaller batches"
        )

