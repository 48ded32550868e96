"""Who may see and write what: the rules behind every tenant check of the API.

A key acts for one organisation (a dotted path such as ``hxny.fdgs``) and everything under it.
It sees the members of those organisations, and the items :func:`recsys.engine.visible_to` its
organisation: shared ones, its own and those of units above or below it. It writes members and
items of its organisations; only an admin key writes shared items.

Something a key may not see is reported exactly as something that does not exist, so ids of
other tenants cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys.engine import Engine, visible_to
from recsys.exceptions import NotFoundError, ValidationError
from recsys.records import Item, Member
from service.errors import Conflict, Forbidden
from service.keys import org_within

__all__ = [
    "Tenant", "visible_item", "visible_member", "visible_org", "check_item_writes", "check_item_removal",
    "check_member_writes", "event_problems",
]


@dataclass(frozen=True)
class Tenant:
    """The organisation a request acts for, from its API key.

    Attributes:
        org: The key's organisation.
        admin: Whether the key may write shared items.
        key_id: The key's public id (for logs).
    """

    org: str
    admin: bool
    key_id: str

    def sees_member(self, member: Member) -> bool:
        return org_within(member.org, self.org)

    def sees_item(self, item: Item) -> bool:
        return visible_to(item, self.org)

    def may_write_org(self, org: str | None) -> bool:
        """Whether this key may own records in ``org`` (None: shared items)."""
        return self.admin if org is None else org_within(org, self.org)


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
            f"record {taken[0]['index']}: {kind} id {taken[0]['id']!r} is already used by another "
            f"organisation; choose another id" + (f" (and {n - 1} more)" if n > 1 else "") + "; nothing was written",
            details=taken,
        )


def check_item_writes(tenant: Tenant, items: Sequence[Mapping[str, Any]], existing: Mapping[str, Item]) -> None:
    """Refuse a batch of items any of which this key may not write.

    Args:
        tenant: The caller.
        items: The items of the request (JSON form), in order.
        existing: The stored items of the catalogue, by id.

    Raises:
        Forbidden: an item's organisation is outside the key's, or shared for a non-admin key, or
            the item replaces one the key can see but not write.
        Conflict: an item would replace another tenant's item (one the key cannot see).
    """
    forbidden, taken = [], []
    for n, data in enumerate(items):
        id_, org = data["id"], data.get("org")
        if not tenant.may_write_org(org):
            why = ("only an admin key may write shared items (org null)" if org is None
                   else f"organisation {org!r} is outside this key's organisation {tenant.org!r}")
            forbidden.append(_problem(n, id_, "org", why))
            continue
        old = existing.get(id_)
        if old is not None and not tenant.may_write_org(old.org):
            if tenant.sees_item(old):
                owner = "shared" if old.org is None else f"owned by {old.org!r}"
                forbidden.append(_problem(n, id_, "id", f"item {id_!r} is {owner}; this key may not replace it"))
            else:
                taken.append(_problem(n, id_, "id", f"item id {id_!r} is already used by another organisation"))
    _raise(forbidden, taken, "item")


def check_item_removal(tenant: Tenant, item: Item) -> None:
    """Refuse to remove an item this key can see but not write.

    Raises:
        Forbidden: the item is shared and the key is not an admin, or it belongs to an
            organisation above the key's.
    """
    if not tenant.may_write_org(item.org):
        owner = "shared" if item.org is None else f"owned by {item.org!r}"
        raise Forbidden(f"item {item.id!r} is {owner}; this key may not remove it")


def check_member_writes(tenant: Tenant, members: Sequence[Mapping[str, Any]], existing: Mapping[str, Member]) -> None:
    """Refuse a batch of members any of which lies outside the key's organisation.

    Raises:
        Forbidden: a member's organisation is outside the key's.
        Conflict: a member would replace another tenant's member.
    """
    forbidden, taken = [], []
    for n, data in enumerate(members):
        id_, org = data["id"], data["org"]
        if not org_within(org, tenant.org):
            forbidden.append(_problem(n, id_, "org", f"organisation {org!r} is outside this key's organisation {tenant.org!r}"))
            continue
        old = existing.get(id_)
        if old is not None and not tenant.sees_member(old):
            taken.append(_problem(n, id_, "id", f"member id {id_!r} is already used by another organisation"))
    _raise(forbidden, taken, "member")


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
