"""API keys: each bound to one organisation, kept hashed in a JSON file.

A key looks like ``rsk_<id>_<secret>``: ``id`` is public (it names the key in listings and
revocations), ``secret`` is 256 random bits. The file holds only the SHA-256 of the whole key, so
reading it does not reveal a usable key; with that much entropy a plain hash is enough (no
password stretching needed).

The file is rewritten atomically (a temporary file renamed over it) under an exclusive lock, so
two ``recsys keys`` commands never lose each other's changes, and a running service, which
re-reads the file when it changes, never sees half of it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from recsys.exceptions import NotFoundError, StoreError, ValidationError

__all__ = ["ApiKey", "KeyRing", "org_within", "KEY_PREFIX"]

KEY_PREFIX = "rsk"
_ORG = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_KEY = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,}})")
_FORMAT_VERSION = 1


def org_within(org: str | None, scope: str | None) -> bool:
    """Whether organisation ``org`` is ``scope`` itself or a unit under it.

    Organisations are dotted paths: ``hxny.fdgs.zb-yunxing`` is within ``hxny`` and within
    ``hxny.fdgs``, but not within ``hxny.fd`` (the match is on whole path segments). No
    organisation (None: shared content, or the platform) is within none and holds none.
    """
    if org is None or scope is None:
        return False
    return org == scope or org.startswith(scope + ".")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One API key as stored: never the key itself, only its hash.

    Attributes:
        id: Public identifier, shown in listings and accepted by ``recsys keys revoke``.
        org: The organisation the key acts for; it covers every unit under it. None for a
            platform key: the one kind of key that writes shared items (items with no
            organisation), and nothing else.
        admin: Whether the key may also open the coverage page of its organisation.
        sha256: Hex SHA-256 of the full key.
        created: When the key was made (ISO datetime, UTC).
        revoked: When it was revoked, or None while it is valid.
    """

    id: str
    org: str | None
    admin: bool
    sha256: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    @property
    def platform(self) -> bool:
        """Whether this is a platform key (no organisation): it writes shared items only."""
        return self.org is None

    def public(self) -> dict[str, Any]:
        """The key's description without its hash (for listings)."""
        return {"id": self.id, "org": self.org, "admin": self.admin, "created": self.created,
                "revoked": self.revoked}


class KeyRing:
    """The API keys file: create, revoke, list and check keys.

    Checking a key re-reads the file when it has changed on disk, so keys created or revoked by
    ``recsys keys`` take effect in a running service (every worker) without a restart.

    Args:
        path: The JSON file; it need not exist yet.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    # -- reading -----------------------------------------------------------------------------

    def _read(self) -> dict[str, ApiKey]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"cannot read the API keys file {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
            keys = [ApiKey(**k) for k in data["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"the API keys file {self.path} is damaged: {exc}") from exc
        return {k.id: k for k in keys}

    def _current(self) -> dict[str, ApiKey]:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            # A rename gives the file a new inode, so every rewrite is seen, however quick.
            if stamp != self._stamp:
                self._keys = self._read() if stamp is not None else {}
                self._stamp = stamp
            return self._keys

    def keys(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        return sorted(self._current().values(), key=lambda k: k.created)  # stable: file order on ties

    def authenticate(self, key: str) -> ApiKey | None:
        """The active key matching ``key``, or None for a malformed, unknown or revoked one."""
        match = _KEY.fullmatch(key)
        if match is None:
            return None
        found = self._current().get(match.group(1))
        if found is None or not hmac.compare_digest(found.sha256, _digest(key)):
            return None
        return found if found.active else None

    # -- writing -----------------------------------------------------------------------------

    def add(self, org: str | None, *, admin: bool = False) -> tuple[ApiKey, str]:
        """Create a key for ``org``, or a platform key (``org=None``).

        A platform key belongs to no organisation: it is the only key that creates, replaces or
        removes shared items, and it sees no tenant's members, events or items.

        Returns:
            The stored record and the key itself, which is shown this once and never stored.

        Raises:
            ValidationError: if ``org`` is not an organisation id, or a platform key is asked to
                be an admin key (the admin flag is about an organisation's pages).
        """
        if org is None and admin:
            raise ValidationError("a platform key has no organisation, so it cannot be an admin key; "
                                  "give ORG for an admin key or --platform alone", field="admin")
        if org is not None and (not isinstance(org, str) or not _ORG.fullmatch(org)):
            raise ValidationError(
                f"organisation must be 1-128 characters of letters, digits and . _ : -, got {org!r}",
                field="org",
            )
        with self._editing() as keys:
            key_id = secrets.token_hex(6)
            while key_id in keys:
                key_id = secrets.token_hex(6)
            key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKey(id=key_id, org=org, admin=admin, sha256=_digest(key), created=_now())
            keys[key_id] = record
        return record, key

    def revoke(self, key_or_id: str) -> ApiKey:
        """Revoke a key, given the key itself or its public id. Revoking twice is harmless.

        Raises:
            NotFoundError: if no such key exists.
        """
        match = _KEY.fullmatch(key_or_id)
        key_id = match.group(1) if match else key_or_id
        with self._editing() as keys:
            found = keys.get(key_id)
            if found is None or (match is not None and not hmac.compare_digest(found.sha256, _digest(key_or_id))):
                raise NotFoundError("API key", key_id)
            if found.active:
                found = keys[key_id] = replace(found, revoked=_now())
        return found

    @contextmanager
    def _editing(self) -> Iterator[dict[str, ApiKey]]:
        """Read, let the caller change, and write back the keys, holding an exclusive file lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                keys = dict(self._read())
                yield keys
                self._write(keys)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, keys: dict[str, ApiKey]) -> None:
        data = {"version": _FORMAT_VERSION, "keys": [asdict(k) for k in sorted(keys.values(), key=lambda k: k.created)]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)  # hashes only, but nobody else needs to read them
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        # The rename is durable only once the folder entry is on disk.
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
