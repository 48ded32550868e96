"""The FastAPI application: :func:`create_app` assembles it; its lifespan opens the engine.

Nothing happens at import. ``create_app`` builds the app (routers, error handlers, middleware,
a metrics registry of its own); the engine and the API keys are opened when the app starts, in
``lifespan``, and the index and model are warmed in a background thread so that
``/health/live`` answers at once and ``/health/ready`` turns ready when loading is done.

Run it with ``recsys serve``, or ``uvicorn --factory service.app:create_app`` with the settings
in ``RECSYS_*`` environment variables.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from recsys import Engine, __version__
from recsys.exceptions import ModelError, StoreError
from recsys.records import tenant_of
from recsys.serving.allocator import reuse_freed_memory
from recsys.storage import redacted
from service.deps import reject_unknown_query
from service.errors import install_error_handlers
from service.keys import KeyRing
from service.member_tokens import MemberCorsMiddleware
from service.metrics import Metrics
from service.middleware import (
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    RequestContextMiddleware,
    SingleQueryValuesMiddleware,
)
from service.openapi import TAGS, error_responses
from service.routers import ROUTERS
from service.routers.member_pages import static_files
from service.settings import Settings

__all__ = ["create_app", "Readiness"]

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Personalised learning content for party-member education (党员教育) in state-owned enterprises:
daily study lists that fit the time a member has, multi-day study paths, search and similar items.

**Keys.** Every `/v1` call needs `Authorization: Bearer <key>`; a key (from `recsys keys add ORG`)
acts for one organisation and the units under it. It sees that organisation's members and events,
its own and shared items; anything else answers 404 as if missing. Shared items are written only
with a platform key (`recsys keys add --platform`), which may call `/v1/items` and nothing else.

**Errors** are JSON: `{"error": {"code", "message", "details": [{"index", "id", "field", "message"}]}}`.
Batches are all-or-nothing; `details` lists every rejected record by its 0-based index.
"""


class Readiness:
    """Whether the engine can serve: ``starting``, then ``ready`` or ``failed`` (with ``detail``).

    After the warm-up every readiness probe checks again (:meth:`check`): a store that cannot be
    read now (damaged rows, a database gone away) turns the service not ready, and one repaired
    turns it ready again, with no restart.
    """

    def __init__(self) -> None:
        self.status = "starting"
        self.detail: str | None = "loading the store, index and model"
        self.model_loaded = False
        self.warmed = False

    def ready(self) -> None:
        self.status, self.detail = "ready", None

    def fail(self, detail: str) -> None:
        self.status, self.detail = "failed", detail

    def check(self, engine: Engine) -> None:
        """Read the store now (its counters, and the catalogue of every enterprise's view opened
        so far, the platform's included, brought up to date with the database) and, until it has
        loaded once, the model; set the status from what happened. The detail names what failed,
        never a path (it is open without a key)."""
        try:
            engine.tenant("")  # the platform's, so there is one to read before any enterprise's
            for view in engine.views():
                view.catalogue()
            if not self.model_loaded:
                # Straight to the model: the embedding cache would answer a cached text without loading it.
                model = getattr(engine.encoder, "encoder", engine.encoder)
                model.encode(["党员教育"], query=True)
                self.model_loaded = True
        except Exception as exc:  # noqa: BLE001 - reported through /health/ready, never raised
            log.error("the engine cannot serve: %s", exc, exc_info=exc)
            what = ("the store cannot be read now" if isinstance(exc, StoreError)
                    else "the model cannot be loaded" if isinstance(exc, ModelError) else "loading failed")
            self.fail(f"{what} ({type(exc).__name__}); the server log says why")
        else:
            self.ready()


def _warm_up(engine: Engine, readiness: Readiness, tenants: Iterable[str]) -> None:
    # Requests work in their enterprise's view of the engine (member and item ids are unique per
    # enterprise); those of the keys known now are loaded before the first request.
    for tenant in tenants:
        view = engine.tenant(tenant)
        try:
            # What a first list waits for (the collaborative model, the branches' completions):
            # read now, before the service reports ready, not by a member's first request.
            view.warm()
        except Exception as exc:  # noqa: BLE001 - the check below reports a store that cannot be read
            log.warning("warming the view of %s failed (its first list loads it instead): %s",
                        tenant or "the platform", exc)
    readiness.check(engine)
    readiness.warmed = True
    if readiness.status == "ready":
        log.info("ready: %d shared items, %d enterprises' views, encoder %s", len(engine.tenant("").catalogue()),
                 len(engine.views()) - 1, engine.encoder.name)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the engine and the API keys for the app's lifetime; close the engine at shutdown."""
    settings: Settings = app.state.settings
    reuse_freed_memory()  # the server's process plans a list per request: see recsys.serving.allocator
    # The collaborative model is built again beside the requests, never in one (see Engine.open).
    engine = await anyio.to_thread.run_sync(
        lambda: Engine.open(settings.store, encoder=settings.encoder, background_models=True))
    keys = KeyRing(settings.keys_path)
    if not any(k.active for k in keys.keys()):
        log.warning("no API keys in %s yet: every /v1 call will answer 401; create one with "
                    "'recsys keys add ORG --store %s'", settings.keys_path, redacted(str(settings.store)))
    app.state.keys = keys
    app.state.engine = engine
    readiness = app.state.readiness
    tenants = sorted({tenant_of(k.org) for k in keys.keys() if k.active and k.org})
    warm = threading.Thread(target=_warm_up, args=(engine, readiness, tenants), name="recsys-warm-up", daemon=True)
    warm.start()
    try:
        yield
    finally:
        # Closing the engine under a warm-up still running would pull the store from under it.
        await anyio.to_thread.run_sync(warm.join)
        app.state.engine = None
        await anyio.to_thread.run_sync(engine.close)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the HTTP API over the store named in ``settings``.

    Args:
        settings: Store, encoder, keys file and limits; default: read from ``RECSYS_*``
            environment variables.

    Returns:
        The app; the engine is opened when it starts (its lifespan), not here.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = create_app(Settings(store="recsys-data", encoder="tfidf"))  # doctest: +SKIP
        >>> with TestClient(app) as client:                                     # doctest: +SKIP
        ...     client.get("/health/ready").json()
    """
    settings = settings if settings is not None else Settings()
    # /docs and /redoc serve Swagger UI and ReDoc from the package's files, so they work on an
    # intranet with no way out to a CDN.
    app = FastAPIOffline(
        title="recsys",
        version=__version__,
        summary="Learning-content recommendation for party-member education",
        description=_DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Operation ids from the function names (put_items, daily ...) for generated clients.
        generate_unique_id_function=lambda route: route.name,
        dependencies=[Depends(reject_unknown_query)],
    )
    metrics = Metrics()
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.readiness = Readiness()
    app.state.engine = None
    app.state.keys = None
    install_error_handlers(app)
    for router in ROUTERS:
        # Every route but the operations' is subject to the body timeout and the concurrency limit.
        limited = router.tags != ["operations"]
        app.include_router(router, responses=error_responses(408, 503) if limited else None)
    # The member's page, its script and style, and the portal widget: nothing from a CDN.
    app.mount("/static", static_files(), name="static")
    # The last added runs first: ids and logs wrap everything, the size limit included; a body is
    # read whole (or refused) before its request takes a place of the concurrency limit.
    app.add_middleware(MemberCorsMiddleware)
    app.add_middleware(ConcurrencyLimitMiddleware, limit=settings.max_concurrent, wait=settings.queue_seconds)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_seconds)
    app.add_middleware(SingleQueryValuesMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
