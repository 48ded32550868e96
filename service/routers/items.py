"""``/v1/items``: learning content, and items similar to one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from recsys.ingest.loaders import as_records
from recsys.records import Item
from service.bodies import check_warnings, tabular_body, tabular_route
from service.deps import TenantEngineDep, ForMemberDep, MetricsDep, TenantDep, VisibleItemDep, limit_batch
from service.openapi import HitCount, Limit, Offset, Sheet, Strict, error_responses
from service.schemas import ItemIn, ItemOut, ItemPage, ItemPatch, SimilarResult, WriteResult, as_json
from service.tenancy import check_item_removal, check_item_writes

__all__ = ["router"]

router = APIRouter(prefix="/v1/items", tags=["items"], route_class=tabular_route(Item))

_EXAMPLES = {
    "online": {
        "summary": "两篇线上内容",
        "value": [
            {"id": "dis-012", "title": "廉洁从业“十不准”解读", "body": "结合国企采购、招投标等关键环节，逐条解读廉洁从业规定。",
             "kind": "article", "minutes": 15, "topics": ["廉洁从业"], "published": "2026-10-08", "org": "hxny"},
            {"id": "bus-031", "title": "有限空间作业安全要点", "body": "先通风、再检测、后作业。", "kind": "video",
             "minutes": 8, "topics": ["安全生产"], "roles": ["frontline"], "published": "2026-11-02", "org": "hxny"},
        ],
    },
    "offline": {
        "summary": "一项线下活动",
        "value": [
            {"id": "off-101", "title": "主题党日：参观山西省革命烈士陵园", "kind": "activity", "mode": "offline",
             "minutes": 150, "topics": ["党史"], "published": "2026-11-20", "org": "hxny.fdgs",
             "schedule": {"starts": "2026-12-09T09:00:00", "ends": "2026-12-09T11:30:00",
                          "location": "太原·山西省革命烈士陵园", "capacity": 40}},
        ],
    },
}


@router.put(
    "",
    response_model=WriteResult,
    summary="Insert or replace items (batch)",
    response_model_exclude_defaults=True,  # `warnings` only when there are some
    dependencies=[Depends(limit_batch)],
    responses=error_responses(400, 401, 403, 409, 413, 422),
    openapi_extra=tabular_body("id,title,kind,minutes,topics,published\ndis-012,廉洁从业“十不准”解读,文章,15,廉洁从业,2026/10/8\n"),
)
def put_items(
    items: Annotated[list[ItemIn], Body(description="The items; all are written or none.", openapi_examples=_EXAMPLES)],
    request: Request,
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
    strict: Strict = False,
    sheet: Sheet = None,
) -> WriteResult:
    """Insert or replace items by id, embedding those whose text changed. All or nothing: one bad
    record rejects the batch with every problem listed. Items are searchable once this returns.

    The body may also be an export, as `recsys ingest` reads it: `text/csv` (UTF-8 or GBK,
    detected, or `charset=` in the Content-Type) or an Excel workbook (`?sheet=`, default the
    first), with dates like 2026/12/1 and Chinese names for kinds and roles; problems are then
    named by line."""
    records = [as_json(it) for it in items]
    check_item_writes(tenant, records, engine.catalogue())
    records = as_records(records, Item)
    warnings = check_warnings(request, records, engine.curriculum, strict=strict)
    written = engine.add_items(records)
    metrics.writes.labels("item").inc(written)
    return WriteResult(written=written, warnings=warnings)


@router.get("", response_model=ItemPage, summary="List items", responses=error_responses(401, 422))
def list_items(engine: TenantEngineDep, tenant: TenantDep, offset: Offset = 0, limit: Limit = 50) -> ItemPage:
    """The items this key can see (shared ones and its organisations'), by id, one page at a time."""
    catalogue = engine.catalogue()
    ids = sorted(it.id for it in catalogue.values() if tenant.sees_item(it))
    page = [ItemOut.model_validate(catalogue[i].to_dict()) for i in ids[offset:offset + limit]]
    return ItemPage(items=page, total=len(ids), offset=offset, limit=limit)


@router.get("/{item_id}", response_model=ItemOut, summary="Get an item", responses=error_responses(401, 404, 422))
def get_item(item: VisibleItemDep) -> dict:
    """One item, if this key can see it."""
    return item.to_dict()


@router.patch(
    "/{item_id}",
    response_model=ItemOut,
    summary="Change some fields of an item",
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def patch_item(
    item: VisibleItemDep,
    changes: Annotated[ItemPatch, Body(description="The fields to change; the others keep their values.",
                                       openapi_examples={"link": {"summary": "补上课程链接、延长下架日期", "value": {
                                           "url": "https://dangjian.example.com/course/dis-012",
                                           "expires": "2027-06-30"}}})],
    engine: TenantEngineDep,
    tenant: TenantDep,
    metrics: MetricsDep,
) -> dict:
    """Change the fields named in the body and keep the others (a `PUT` replaces the whole item).
    A field set to null is cleared where the item allows it (`expires`, `url`, `schedule` ...).
    The result is checked as a `PUT` of it would be, with the same write rules: shared items
    only with a platform key, and `org` within the key's organisation. Returns the item as stored."""
    updated = item.with_changes(as_json(changes))
    check_item_writes(tenant, [updated.to_dict()], {item.id: item})
    engine.add_items([updated])
    metrics.writes.labels("item").inc()
    return updated.to_dict()


@router.delete(
    "/{item_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an item",
    responses=error_responses(401, 403, 404, 422),
)
def delete_item(item: VisibleItemDep, engine: TenantEngineDep, tenant: TenantDep, metrics: MetricsDep) -> Response:
    """Remove an item from the catalogue; its events stay, as history. Shared items need a
    platform key (`recsys keys add --platform`); items of an organisation above the key's cannot be removed with it."""
    check_item_removal(tenant, item)
    engine.remove_item(item.id)
    metrics.writes.labels("item_removed").inc()
    return Response(status_code=204)


@router.get(
    "/{item_id}/similar",
    response_model=SimilarResult,
    summary="Items similar to an item",
    responses=error_responses(401, 404, 422),
)
def similar_items(
    item: VisibleItemDep,
    engine: TenantEngineDep,
    tenant: TenantDep,
    member: ForMemberDep,
    k: HitCount = 10,
) -> dict:
    """The items closest in content to this one (itself excluded), among those the key can see."""
    hits = engine.similar(item.id, k, member=member, org=tenant.org)
    return {"item": item.id, "hits": [h.to_dict() for h in hits]}
