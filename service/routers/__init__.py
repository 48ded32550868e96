"""One router per resource: items, members (with their lists and paths), events, search, and
the operations endpoints (health, metrics), learning records and digests."""

from __future__ import annotations

from service.routers import (
    coverage,
    credits,
    digests,
    events,
    items,
    member_pages,
    members,
    operations,
    orgs,
    progress,
    search,
)

__all__ = ["ROUTERS"]

ROUTERS = (items.router, members.router, events.router, search.router, operations.router, coverage.router, progress.router, credits.router, digests.router,
           orgs.router, member_pages.router)
