"""Operations endpoints, open without a key: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.deps import MetricsDep
from service.metrics import CONTENT_TYPE_LATEST
from service.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["operations"])

#: How long a readiness probe waits for the store before answering with what it knew.
_CHECK_SECONDS = 2.0


@router.get("/health/live", response_model=Health, summary="Liveness")
def live() -> Health:
    """The process is up and answering (the store may still be loading)."""
    return Health(status="live")


@router.get(
    "/health/ready",
    response_model=Health,
    summary="Readiness",
    responses={503: {"model": Health, "description": "Still loading, or the store or model cannot be used now."}},
)
async def ready(request: Request):
    """Ready once the store is open, the vector index caught up and the model loaded, and while
    the store can be read: each call reads it again (a store damaged or gone away since is not
    ready; repaired, it is ready again)."""
    readiness = request.app.state.readiness
    engine = getattr(request.app.state, "engine", None)
    if readiness.warmed and engine is not None:
        # A write holding the engine for long leaves the last answer standing rather than a
        # probe hanging behind it.
        with anyio.move_on_after(_CHECK_SECONDS):
            await anyio.to_thread.run_sync(readiness.check, engine, abandon_on_cancel=True)
    health = Health(status=readiness.status, detail=readiness.detail)
    if health.status != "ready":
        return JSONResponse(health.model_dump(), status_code=503)
    return health


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format: requests and latencies by route, study-list "
                     "sizes, events ingested.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Counters and histograms of this process, in the Prometheus text format."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
