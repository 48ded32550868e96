"""Pseudonyms for members who left: their events stay for statistics, their identity does not.

A pseudonym is ``anon:`` and the first 24 hex digits of HMAC-SHA256 of the member id under a
secret kept in the store's metadata. The same member id always gets the same pseudonym in a
store (so statistics that count distinct learners stay right), and without the secret the id
cannot be found again from it, not even by hashing every likely id (as a plain hash could be).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from recsys.records import PSEUDONYM_PREFIX
from recsys.storage import Store

__all__ = ["pseudonym", "store_secret", "PSEUDONYM_PREFIX", "PSEUDONYM_SECRET_META"]

#: The store metadata key holding the pseudonyms' secret (hex). Apart from the token secret, so
#: rotating that (to refuse leaked tokens) does not split a removed member's history in two.
PSEUDONYM_SECRET_META = "pseudonym_secret"


def store_secret(store: Store, key: str, *, create: bool = True) -> bytes | None:
    """A secret kept in the store's metadata under ``key``, made on first use if ``create``.

    Every process over the store gets the same one: a new secret is stored only if none is
    (:meth:`~recsys.storage.Store.keep_meta`), so of processes making it at once all end with
    the first one's.
    """
    value = store.get_meta(key)
    if value is None and create:
        value = store.keep_meta(key, secrets.token_hex(32))
    return None if value is None else bytes.fromhex(value)


def pseudonym(store: Store, member: str) -> str:
    """The stable, non-reversible id a removed member's events are kept under in ``store``.

    Example:
        >>> pseudonym(store, "m001")                 # doctest: +SKIP
        'anon:4f0c2a9e1b7d5c3a8e6f0b1d'
    """
    secret = store_secret(store, PSEUDONYM_SECRET_META) or b""  # never empty: made above
    return PSEUDONYM_PREFIX + hmac.new(secret, member.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
