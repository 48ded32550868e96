"""The nightly push: every branch's digest of the day to its group chat's webhook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsys.delivery.webhook import Delivery, check_webhook, post_json
from recsys.reports.digest import wecom_message
from recsys.reports.progress import in_org

if TYPE_CHECKING:
    from recsys.engine import Engine

__all__ = ["BranchPush", "push_digests"]


@dataclass(frozen=True)
class BranchPush:
    """One branch's message and what became of it."""

    branch: str
    members: int
    with_list: int
    delivery: Delivery

    def summary(self) -> str:
        state = "sent" if self.delivery.ok else "FAILED"
        return (f"{self.branch}: {state} ({self.with_list}/{self.members} members with a list, "
                f"{self.delivery.bytes} bytes, {self.delivery.attempts} attempt"
                f"{'s' * (self.delivery.attempts != 1)}) {self.delivery.detail}").rstrip()


def push_digests(
    engine: Engine,
    url: str,
    *,
    day: dt.date | None = None,
    org: str | None = None,
    post: Callable[[str, dict[str, Any]], Delivery] = post_json,
) -> list[BranchPush]:
    """Make the day's lists of every member (of ``org``) that has none yet, then post each
    branch's digest as a 企业微信 group-bot markdown message.

    Args:
        engine: The engine.
        url: The webhook (one group for all branches; a portal with one group per branch calls
            this once per branch with ``org``).
        day: The day (default: today, Asia/Shanghai).
        org: Only the branches of this organisation.
        post: How to send a message (default: :func:`recsys.delivery.webhook.post_json`).

    Returns:
        One :class:`BranchPush` per branch, by branch code; a failed branch does not stop the rest.

    Raises:
        NotFoundError: if ``org`` has no members.
        ValidationError: for a malformed day or URL.
    """
    check_webhook(url)
    engine.batch(day=day, org=org)  # resumable: members served already are skipped
    branches = sorted({m.org for m in engine.members() if org is None or in_org(m, org)})
    out = []
    for branch in branches:
        digest = engine.digest(branch, day=day)
        out.append(BranchPush(branch, digest.members, digest.with_list, post(url, wecom_message(digest))))
    return out
