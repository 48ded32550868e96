"""Dependencies of the routes, as ``Annotated`` aliases (``EngineDep``, ``TenantDep`` ...).

Each reads what the lifespan put on ``app.state``; tests swap any of them through
``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from recsys import Engine
from service.errors import NotReady, PayloadTooLarge, Unauthorized
from service.keys import KeyRing
from service.metrics import Metrics
from service.settings import Settings
from service.tenancy import Tenant

__all__ = [
    "get_settings", "get_engine", "get_keys", "get_metrics", "get_tenant", "limit_batch", "reject_unknown_query",
    "SettingsDep", "EngineDep", "KeysDep", "MetricsDep", "TenantDep",
]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `recsys keys add ORG`, sent as `Authorization: Bearer <key>`. "
    "It acts for its organisation and every unit under it.",
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
    key = keys.authenticate(credentials.credentials)
    if key is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    tenant = Tenant(org=key.org, admin=key.admin, key_id=key.id)
    request.state.tenant = tenant  # for the request log
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


def _query_names(dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    # A key sent as a query parameter (the coverage page's ?key=) is a security scheme, not a field.
    if isinstance(dependant.call, APIKeyQuery):
        names.add(dependant.call.model.name)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the endpoint does not take, so that a typo (``limt=5``) is a 422
    naming it rather than a silently ignored option.

    Raises:
        RequestValidationError: naming each unknown parameter.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
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
    """Refuse a batch of more than ``settings.max_batch`` records with a 413 naming the limit.

    Runs before the body is validated record by record, so an oversized batch costs no more than
    its parse. Depends on the tenant so an unauthenticated caller gets 401 first.
    """
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: body validation reports it
    if isinstance(body, list) and len(body) > settings.max_batch:
        raise PayloadTooLarge(
            f"the batch has {len(body)} records and the limit is {settings.max_batch}; "
            "split it into smaller batches"
        )

