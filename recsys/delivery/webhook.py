"""Posting JSON messages to a group bot's webhook (企业微信, and bots that take the same JSON).

A push runs unattended at night, so every message gets a few tries with a growing pause, and
the outcome of each is kept for the report rather than raised: one branch's failure must not
stop the others. 企业微信 answers HTTP 200 with ``{"errcode": 0}`` when it accepts a message and
a non-zero ``errcode`` (with ``errmsg``) when it refuses one; a refusal is not retried, since the
same message would be refused again, except "too many messages" (45009: a bot takes 20 a
minute), which is tried again after a minute.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recsys.exceptions import ValidationError

__all__ = ["Delivery", "post_json", "check_webhook", "WECOM_PER_MINUTE"]

#: Messages a 企业微信 group bot takes a minute; more are refused with errcode 45009.
WECOM_PER_MINUTE = 20
#: The code of an answer that is no bot's JSON (HTML from a proxy in the way).
_NOT_A_BOT = "not-json"
#: Refusals that mean "not now" rather than "not this message": 45009, api freq out of limit.
_TOO_FREQUENT = {45009}
#: Refusals of the webhook itself, whatever the message: 93000, invalid webhook url (a key that
#: was removed or mistyped).
_WEBHOOK_REFUSED = {93000, "not-json"}


@dataclass(frozen=True)
class Delivery:
    """What became of one message.

    Attributes:
        ok: The webhook accepted it.
        attempts: How many times it was sent.
        bytes: Size of the body sent.
        detail: The webhook's answer, or why it failed.
        webhook_failed: The failure is the webhook's, not the message's (unreachable after every
            try, an address it does not know, a key it refuses): the next message would fail too.
    """

    ok: bool
    attempts: int
    bytes: int
    detail: str
    webhook_failed: bool = False


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    tries: int = 3,
    pause: float = 1.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    busy_pause: float = 60.0,
) -> Delivery:
    """POST ``payload`` as JSON to ``url``, retrying network errors, 5xx answers and a bot's
    "too many messages" refusal.

    Args:
        tries: Attempts at most.
        pause: Seconds before the second attempt; doubled before each next one.
        timeout: Seconds to wait for an answer.
        busy_pause: Seconds to wait after a "too many messages" refusal (the bot counts a minute).
        sleep: How to wait (tests pass a no-op).

    Raises:
        ValidationError: ``url`` is not an http(s) URL.
    """
    check_webhook(url)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    detail = ""
    for attempt in range(1, tries + 1):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = response.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = f"HTTP {exc.code}"
            if exc.code < 500:
                return Delivery(False, attempt, len(body), detail, webhook_failed=exc.code in (401, 403, 404))
        except (urllib.error.URLError, OSError) as exc:
            detail = f"unreachable: {getattr(exc, 'reason', exc)}"
        else:
            refused, code = _refusal(answer)
            if code not in _TOO_FREQUENT:
                return Delivery(refused is None, attempt, len(body), refused or answer.strip()[:200],
                                webhook_failed=code in _WEBHOOK_REFUSED)
            detail = refused or ""
            if attempt < tries:
                sleep(busy_pause)
            continue
        if attempt < tries:
            sleep(pause * 2 ** (attempt - 1))
    return Delivery(False, tries, len(body), detail, webhook_failed=detail.startswith("unreachable"))


def check_webhook(url: str) -> None:
    """Raise :class:`ValidationError` unless ``url`` is an http(s) URL."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValidationError(f"the webhook must be an http:// or https:// URL, got {url!r}", field="webhook")


def _refusal(answer: str) -> tuple[str | None, Any]:
    """The bot's reason for refusing a message it answered with 200 and its code, or (None,
    None) if it took it."""
    try:
        data = json.loads(answer)
    except ValueError:
        # A bot answers JSON; a page (a proxy's login, a portal's error page) means the message
        # reached something else, and taking it as sent would lose the digest without a word.
        return f"the webhook answered with something other than a bot's JSON: {' '.join(answer.split())[:120]!r}", \
            _NOT_A_BOT
    if isinstance(data, dict) and data.get("errcode", 0) != 0:
        return f"errcode {data.get('errcode')}: {data.get('errmsg', '')}", data.get("errcode")
    return None, None
