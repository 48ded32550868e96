"""``/v1/search``: free-text search over the content the key can see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import ForMemberDep, TenantDep, TenantEngineDep
from service.openapi import HitCount, error_responses
from service.schemas import NOT_BLANK, SearchResult

__all__ = ["router"]

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("", response_model=SearchResult, summary="Search items by text", responses=error_responses(401, 404, 422))
def search(
    engine: TenantEngineDep,
    tenant: TenantDep,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=NOT_BLANK,
                            description="The query text (1-500 characters).", examples=["有限空间作业安全"])],
    member: ForMemberDep,
    k: HitCount = 10,
) -> dict:
    """Items whose content best matches the query, best first, among shared items and those of
    the key's organisation."""
    hits = engine.search(q, k, member=member, org=tenant.org)
    return {"query": q, "hits": [h.to_dict() for h in hits]}
