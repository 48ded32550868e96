"""The nightly push: every branch's digest of the day to its group chat's webhook.

A group bot takes 20 messages a minute, so a push to one webhook is paced to that. What was
sent is kept in the store (per day and webhook), so running the push again after a failure sends
only what did not arrive: a group never reads the same digest twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsys.delivery.webhook import WECOM_PER_MINUTE, Delivery, check_webhook, post_json
from recsys.reports.digest import wecom_message
from recsys.exceptions import NotFoundError, ValidationError
from recsys.orgs import within
from recsys.records import tenant_of
from recsys.serving.requests import as_day
from recsys.storage.base import PUSH_SENT_PREFIX

if TYPE_CHECKING:
    from recsys.engine import Engine

__all__ = ["BranchPush", "push_digests"]


@dataclass(frozen=True)
class BranchPush:
    """One branch's message and what became of it.

    Attributes:
        skipped: Not sent, because it was sent to this webhook for this day before.
    """

    branch: str
    members: int
    with_list: int
    delivery: Delivery
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"{self.branch}: already sent for this day, not sent again (--again sends it again)"
        if not self.delivery.ok and not self.delivery.attempts:
            return f"{self.branch}: NOT SENT, {self.delivery.detail}"
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
    again: bool = False,
    per_minute: int = WECOM_PER_MINUTE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    workers: int | str | None = None,
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
        again: Send also the branches whose digest this webhook was sent for the day before.
        per_minute: Messages sent at most in any minute (a group bot refuses more).
        clock, sleep: Time and waiting, for tests.
        workers: Processes of this machine the lists are planned on, or ``"auto"`` (see
            :meth:`Engine.batch`).

    Returns:
        One :class:`BranchPush` per branch, by branch code; a failed branch does not stop the rest.

    Raises:
        NotFoundError: if ``org`` has no members.
        ValidationError: for a malformed day or URL.
    """
    check_webhook(url)
    day = as_day(day)
    if org is None:
        # One group chat is one enterprise's: another's branches posted to it leak their study.
        enterprises = sorted({tenant_of(code) for code, _ in engine.store.member_orgs()})
        if len(enterprises) > 1:
            raise ValidationError(
                f"the store holds {len(enterprises)} enterprises ({', '.join(enterprises[:5])}"
                f"{' ...' if len(enterprises) > 5 else ''}): name the organisation whose branches this "
                f"webhook's group is for (--org {enterprises[0]})", field="org")
    engine.batch(day=day, org=org, workers=workers)  # resumable: members served already are skipped
    # From the organisation column: a damaged member record is the batch's to name, not a stop.
    branches = sorted({code for code, _ in engine.store.member_orgs() if org is None or within(code, org)})
    # The webhook's key is a secret: the store keeps a digest of the URL, not the URL.
    key = f"{PUSH_SENT_PREFIX}{day.isoformat()}:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}"
    sent = set(json.loads(engine.store.get_meta(key) or "[]"))
    recent: deque[float] = deque()  # when the messages of the last minute went
    out: list[BranchPush] = []
    gone: str | None = None  # why the webhook failed, once it has: the rest are not tried
    for branch in branches:
        # Decided before the digest is built: a branch not sent now needs none.
        if branch in sent and not again:
            out.append(BranchPush(branch, 0, 0, Delivery(True, 0, 0, ""), skipped=True))
            continue
        if gone is not None:  # hundreds of branches would each wait out the same failure
            out.append(BranchPush(branch, 0, 0, Delivery(False, 0, 0, gone)))
            continue
        try:
            digest = engine.digest(branch, day=day)
        except NotFoundError:  # every member record of the branch is damaged (the batch named them)
            out.append(BranchPush(branch, 0, 0, Delivery(False, 0, 0, "not sent: no member record of it can be read")))
            continue
        _wait_for_room(recent, per_minute, clock, sleep)
        delivery = post(url, wecom_message(digest))
        recent.append(clock())
        if delivery.ok:
            # With what another push to this webhook recorded meanwhile (another --org, say).
            sent |= {branch, *json.loads(engine.store.get_meta(key) or "[]")}
            engine.store.set_meta({key: json.dumps(sorted(sent), ensure_ascii=False)})
        elif delivery.webhook_failed:
            gone = f"not tried: the webhook failed for {branch} ({delivery.detail}); run the push again once it works"
        out.append(BranchPush(branch, digest.members, digest.with_list, delivery))
    return out


def _wait_for_room(recent: deque[float], per_minute: int, clock: Callable[[], float],
                   sleep: Callable[[float], None]) -> None:
    """Wait until fewer than ``per_minute`` messages went in the last 60 seconds."""
    while recent and clock() - recent[0] >= 60:
        recent.popleft()
    if len(recent) >= per_minute:
        sleep(60 - (clock() - recent[0]))
        recent.popleft()
