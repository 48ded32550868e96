"""Who may see and write what: the rules behind every tenant check of the API.

A key acts for one organisation (a dotted path such as ``hxny.fdgs``) and everything under it.
It sees the members of those organisations, and the items :func:`recsys.engine.visible_to` its
organisation: shared ones, its own and those of units above or below it. It writes members and
items of its organisations. Shared items (no organisation) are written only by a platform key,
a key with no organisation, which sees and writes shared items and nothing else; a tenant's key,
admin or not, can neither replace nor remove a shared item, nor claim its id for itself.

Something a key may not see is reported exactly as something that does not exist. Member, item
and event ids are unique per tenant (the enterprise: the top level of the key's organisation),
and every request works in its enterprise's view of the engine (:meth:`recsys.Engine.tenant`),
where another enterprise's ids are not there at all: writing one answers as writing an unused id
does, reading one as reading a missing one. Within an enterprise an id is one record whichever
unit holds it, so a unit writing a sibling unit's id it cannot see gets a 409. Shared items are
seen by every tenant, so their ids are reserved in all of them: a tenant's item taking one is a
403 naming the shared item, a shared item taking a tenant's id a 409 saying an enterprise's item
holds it (see the README, *Tenancy*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.engine import Engine, visible_to
from recsys.exceptions import NotFoundError, ValidationError
from recsys.ingest.loaders import id_clashes
from recsys.records import Item, Member
from service.errors import Conflict, Forbidden, problems_message
from service.keys import org_within

__all__ = [
    "Tenant", "PLATFORM_ROUTES", "visible_item", "visible_member", "visible_org", "check_item_writes", "check_item_removal",
    "check_member_writes", "check_member_ids", "event_problems",
]


@dataclass(frozen=True)
class Tenant:
    """The organisation a request acts for, from its API key.

    Attributes:
        org: The key's organisation; None for a platform key.
        admin: Whether the key may open its organisation's coverage page.
        key_id: The key's public id (for logs).
    """

    org: str | None
    admin: bool
    key_id: str

    @property
    def platform(self) -> bool:
        """A platform key: it writes shared items, and sees nothing of any tenant."""
        return self.org is None

    def sees_member(self, member: Member) -> bool:
        return org_within(member.org, self.org)

    def sees_item(self, item: Item) -> bool:
        return item.org is None if self.org is None else visible_to(item, self.org)

    def may_write_org(self, org: str | None) -> bool:
        """Whether this key may own records in ``org`` (None: shared items, platform keys only)."""
        return self.platform if org is None else org_within(org, self.org)

    def why_not(self, org: str | None) -> str:
        """Why this key may not write a record of ``org`` (for a refusal's message)."""
        if self.platform:
            return f"a platform key writes shared items only (org null), not items of organisation {org!r}"
        if org is None:
            return ("shared items (org null) are written only with a platform key (recsys keys add --platform); "
                    f"give the item this key's organisation {self.org!r}")
        return f"organisation {org!r} is outside this key's organisation {self.org!r}"


#: The routes a platform key may call (templates): the catalogue's, never a tenant's members,
#: events, lists, search or reports (with no organisation it would otherwise see every tenant's).
PLATFORM_ROUTES = frozenset({"/v1/items", "/v1/items/{item_id}"})


def visible_item(engine: Engine, tenant: Tenant, item_id: str) -> Item:
    """The item, if this key can see it.

    Raises:
        NotFoundError: if there is no such item or the key cannot see it (answered alike).
    """
    item = engine.item(item_id)
    if not tenant.sees_item(item):
        raise NotFoundError("item", item_id)
    return item


def visible_member(engine: Engine, tenant: Tenant, member_id: str) -> Member:
    """The member, if they belong to this key's organisation.

    Raises:
        NotFoundError: if there is no such member or they belong to another organisation.
    """
    member = engine.member(member_id)
    if not tenant.sees_member(member):
        raise NotFoundError("member", member_id)
    return member


def visible_org(tenant: Tenant, org: str) -> str:
    """The organisation, if it is the key's own or a unit under it.

    Raises:
        NotFoundError: if it lies outside the key's organisation (answered as a missing one).
    """
    if not org_within(org, tenant.org):
        raise NotFoundError("organisation", org)
    return org


def _problem(index: int, id_: str | None, field: str | None, message: str) -> dict[str, Any]:
    return {"index": index, "id": id_, "field": field, "message": message}


def _raise(forbidden: list[dict[str, Any]], taken: list[dict[str, Any]], kind: str) -> None:
    # Permission problems first: a caller fixing them may find the id conflicts gone too.
    if forbidden:
        n = len(forbidden)
        raise Forbidden(
            f"record {forbidden[0]['index']}, id {forbidden[0]['id']!r}: {forbidden[0]['message']}"
            + (f" (and {n - 1} more)" if n > 1 else "") + "; nothing was written",
            details=forbidden + taken,
        )
    if taken:
        n = len(taken)
        raise Conflict(
            f"record {taken[0]['index']}: {kind} id {taken[0]['id']!r} is already used by another unit "
            f"of this enterprise; choose another id" + (f" (and {n - 1} more)" if n > 1 else "") + "; nothing was written",
            details=taken,
        )


def check_item_writes(tenant: Tenant, items: Sequence[Mapping[str, Any]], existing: Mapping[str, Item]) -> None:
    """Refuse a batch of items any of which this key may not write.

    Args:
        tenant: The caller.
        items: The items of the request (JSON form), in order.
        existing: The stored items of the catalogue, by id.

    Raises:
        Forbidden: an item's organisation is outside the key's, or shared for a tenant's key
            (admin or not), or of an organisation for a platform key, or the item replaces one
            the key can see but not write (a shared one, for a tenant's key).
        Conflict: an item would replace one of another unit of the key's enterprise that the key
            cannot see (``existing`` holds the enterprise's items only).
    """
    forbidden, taken = [], []
    for n, data in enumerate(items):
        id_, org = data["id"], data.get("org")
        if not tenant.may_write_org(org):
            forbidden.append(_problem(n, id_, "org", tenant.why_not(org)))
            continue
        old = existing.get(id_)
        if old is not None and not tenant.may_write_org(old.org):
            if tenant.sees_item(old):
                forbidden.append(_problem(n, id_, "id", f"{_owner(old)}; this key may not replace it"
                                          + (" (only a platform key may)" if old.org is None else "")))
            else:
                taken.append(_problem(n, id_, "id", f"item id {id_!r} is already used by another unit of this enterprise"))
    _raise(forbidden, taken, "item")


def check_item_removal(tenant: Tenant, item: Item) -> None:
    """Refuse to remove an item this key can see but not write.

    Raises:
        Forbidden: the item is shared and the key is not a platform key, or it belongs to an
            organisation above the key's.
    """
    if not tenant.may_write_org(item.org):
        raise Forbidden(f"{_owner(item)}; this key may not remove it"
                        + (" (only a platform key may)" if item.org is None else ""))


def _owner(item: Item) -> str:
    return f"item {item.id!r} is " + ("shared by the platform" if item.org is None else f"owned by {item.org!r}")


def check_member_writes(tenant: Tenant, members: Sequence[Mapping[str, Any]], existing: Mapping[str, Member]) -> None:
    """Refuse a batch of members any of which lies outside the key's organisation.

    Raises:
        Forbidden: a member's organisation is outside the key's.
        Conflict: a member would replace one of another unit of the key's enterprise.
    """
    forbidden, taken = [], []
    for n, data in enumerate(members):
        id_, org = data["id"], data["org"]
        if not org_within(org, tenant.org):
            forbidden.append(_problem(n, id_, "org", tenant.why_not(org)))
            continue
        old = existing.get(id_)
        if old is not None and not tenant.sees_member(old):
            taken.append(_problem(n, id_, "id", f"member id {id_!r} is already used by another unit of this enterprise"))
    _raise(forbidden, taken, "member")


def check_member_ids(records: Sequence[Member], existing: Mapping[str, Member], lines: Sequence[int] | None) -> None:
    """Refuse a batch giving a stored member's id to another person: another name in another
    branch (two units of one enterprise each numbering from 0001), as ``recsys members`` refuses
    it (:func:`~recsys.ingest.loaders.id_clashes`). Written, the new person took over the stored
    member's hours. ``lines`` place the records of an export (None for JSON).

    Raises:
        Conflict: one problem per such record, by index (and line).
    """
    at = list(lines) if lines is not None else list(range(len(records)))
    clashes = id_clashes(records, at, "batch", {(m.tenant, m.id): m for m in existing.values()},
                         both="give both in one PATCH /v1/members/{id}")
    if clashes:
        index = {line: n for n, line in enumerate(at)}
        details = [{**_problem(index[e.line], e.record, "id", e.reason), "line": e.line if lines is not None else None}
                   for e in clashes]
        raise Conflict(problems_message(details, batch=True), details=details)


def event_problems(
    tenant: Tenant, events: Sequence[Mapping[str, Any]], members: Mapping[str, Member], items: Mapping[str, Item]
) -> list[ValidationError]:
    """Events naming members or items this key cannot see, in the words the engine uses for
    unknown ones (so another tenant's ids cannot be told from missing ones).

    Args:
        tenant: The caller.
        events: The batch (JSON form), in order.
        members: The stored members the batch names, by id.
        items: The catalogue, by id.

    Returns:
        One problem per unknown member or item, placed at the event's 1-based line.
    """
    problems = []
    for n, e in enumerate(events, start=1):
        id_ = e.get("id")
        member = members.get(e["member"])
        if member is None or not tenant.sees_member(member):
            problems.append(ValidationError(f"unknown member {e['member']!r}", source="batch", line=n,
                                            record=id_, field="member"))
        item = items.get(e["item"])
        if item is None or not tenant.sees_item(item):
            problems.append(ValidationError(f"unknown item {e['item']!r}", source="batch", line=n,
                                            record=id_, field="item"))
    return problems
