"""Operations endpoints, open without a key: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.deps import MetricsDep
from service.metrics import CONTENT_TYPE_LATEST
from service.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=Health, summary="Liveness")
def live() -> Health:
    """The process is up and answering (the store may still be loading)."""
    return Health(status="live")


@router.get(
    "/health/ready",
    response_model=Health,
    summary="Readiness",
    responses={503: {"model": Health, "description": "Still loading the store and model, or loading failed."}},
)
def ready(request: Request):
    """Ready once the store is open, the vector index caught up and the model loaded."""
    readiness = request.app.state.readiness
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
