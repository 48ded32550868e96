"""Member tokens: short-lived signed passes that act for one member only.

A portal's back end holds an organisation's API key; a member's browser must never see it. The
back end trades the key for a token naming one member, and the member's page (or the portal
widget) uses that token for the member's own list, path, progress and events.

A token is ``rsm.<payload>.<signature>``: the payload is base64url JSON naming the member and the
expiry (Unix seconds); the signature is HMAC-SHA256 of the payload under a secret kept in the
store's metadata, so every service process over the store checks the same tokens. Rotating the
secret refuses every token signed before. Signatures are compared with
:func:`hmac.compare_digest`, in constant time.

Example:
    >>> tokens = MemberTokens(store)                           # doctest: +SKIP
    >>> token, expires = tokens.issue("m001", hours=12)        # doctest: +SKIP
    >>> tokens.verify(token).member                            # doctest: +SKIP
    'm001'
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from recsys.exceptions import TokenError, ValidationError
from recsys.pseudonyms import store_secret
from recsys.storage import Store
from recsys.storage.base import REMOVAL_PREFIX

__all__ = ["MemberTokens", "TokenClaims", "TOKEN_PREFIX", "DEFAULT_TOKEN_HOURS", "MAX_TOKEN_HOURS"]

TOKEN_PREFIX = "rsm"
#: A token lives 12 hours unless asked otherwise: a working day and an evening's study.
DEFAULT_TOKEN_HOURS = 12.0
#: And never more than a week: a leaked link stops working within days, not months.
MAX_TOKEN_HOURS = 7 * 24.0
#: The store metadata key holding the signing secret (hex).
SECRET_META = "member_token_secret"
#: Longest token accepted before any decoding (a member id is at most 128 characters).
_MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says.

    Attributes:
        member: The member the token acts for.
        expires: When it stops being accepted (UTC).
        tenant: The member's enterprise, for a token issued by an enterprise's view of the store
            (member ids are unique per enterprise); None for one issued without (see
            :meth:`recsys.Engine.tenant`).
    """

    member: str
    expires: dt.datetime
    tenant: str | None = None
    issued: dt.datetime | None = None

    def issued_before(self, when: dt.datetime) -> bool:
        """Whether the token may have been issued before ``when``: a token from before tokens
        said when they were issued counts from the earliest it could have been. Both times are
        kept to the millisecond, so one issued in the millisecond of ``when`` counts as before
        (a link issued just before a removal came out equal to it, and opened for the next
        holder of the id)."""
        issued = self.issued or self.expires - dt.timedelta(hours=MAX_TOKEN_HOURS)
        return issued <= when


def removal_meta(tenant: str, member: str) -> str:
    """The store metadata key holding when a member was last removed (UTC seconds): a token
    issued before then is not the new member's, who may have been given the same id since."""
    return f"{REMOVAL_PREFIX}{tenant}:{member}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class MemberTokens:
    """Issue and check member tokens under the store's secret.

    Args:
        store: The store holding the secret in its metadata.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def _secret(self, *, create: bool) -> bytes | None:
        return store_secret(self.store, SECRET_META, create=create)

    def rotate(self) -> None:
        """Replace the secret: every token issued before is refused from now on."""
        self.store.set_meta({SECRET_META: secrets.token_hex(32)})

    def issue(self, member: str, *, hours: float = DEFAULT_TOKEN_HOURS,
              now: dt.datetime | None = None, tenant: str | None = None) -> tuple[str, dt.datetime]:
        """A token acting for ``member`` for ``hours``.

        Args:
            member: The member id (the caller checks it exists and may be acted for).
            hours: Lifetime, more than 0 and at most :data:`MAX_TOKEN_HOURS`.
            now: The issue time (default: now); for tests.
            tenant: The member's enterprise, carried in the token (member ids repeat across
                enterprises); None for a token of a store without enterprises to tell apart.

        Returns:
            The token and its expiry (UTC, whole seconds).

        Raises:
            ValidationError: a lifetime out of range.
        """
        if not 0 < hours <= MAX_TOKEN_HOURS:
            raise ValidationError(f"a token lives more than 0 and at most {MAX_TOKEN_HOURS:g} hours (7 days), "
                                  f"got {hours:g}", field="hours")
        now = now or _now()
        expires = (now + dt.timedelta(hours=hours)).replace(microsecond=0)
        claims: dict[str, object] = {"m": member, "exp": int(expires.timestamp()), "iat": round(now.timestamp(), 3)}
        if tenant is not None:
            claims["t"] = tenant
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        secret = self._secret(create=True)
        return f"{TOKEN_PREFIX}.{payload}.{self._sign(secret, payload)}", expires

    @staticmethod
    def _sign(secret: bytes, payload: str) -> str:
        return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())

    def verify(self, token: str, *, now: dt.datetime | None = None) -> TokenClaims:
        """The claims of a valid token.

        The signature is checked (in constant time) before anything in the payload is read, so a
        forged payload is never parsed.

        Raises:
            TokenError: malformed, signed with another or a retired secret, or expired.
        """
        parts = token.split(".") if len(token) <= _MAX_TOKEN_LENGTH else []
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise TokenError("the member token is malformed: ask the portal for a new link")
        _, payload, signature = parts
        secret = self._secret(create=False)
        expected = self._sign(secret, payload) if secret is not None else ""
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")) or not expected:
            raise TokenError("the member token is not valid (altered, or its secret was rotated): "
                             "ask the portal for a new link")
        try:
            data = json.loads(_unb64(payload))
            member, expires = str(data["m"]), dt.datetime.fromtimestamp(int(data["exp"]), dt.timezone.utc)
            tenant = None if data.get("t") is None else str(data["t"])
            issued = None if data.get("iat") is None else dt.datetime.fromtimestamp(float(data["iat"]), dt.timezone.utc)
        except (ValueError, KeyError, TypeError) as exc:  # signed by us, so only a bug gets here
            raise TokenError("the member token is malformed: ask the portal for a new link") from exc
        if (now or _now()) >= expires:
            raise TokenError(f"the member token expired at {expires.isoformat()}: ask the portal for a new link")
        return TokenClaims(member=member, expires=expires, tenant=tenant, issued=issued)
