"""Storage: the one place that knows how records are kept (all SQL lives here).

One protocol (:class:`Store`), backends chosen by URL with :func:`open_store`:

- a folder path, ``sqlite:///abs/dir`` or ``sqlite://relative/dir``: :class:`SQLiteStore`, the
  embedded default;
- ``memory://``: :class:`MemoryStore`, the reference backend (nothing kept on disk).

Example:
    >>> from recsys.storage import open_store
    >>> store = open_store("memory://")
    >>> store.revisions()
    Revisions(items=0, members=0, activity=0)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from recsys.exceptions import StoreError
from recsys.storage.base import (
    EmbeddingCache,
    History,
    ItemChanges,
    Revisions,
    ServedList,
    Store,
    member_state,
    text_hash,
)
from recsys.storage.embeddings import MemoryEmbeddingCache, SQLiteEmbeddingCache
from recsys.storage.memory import MemoryStore
from recsys.storage.sqlite import SQLiteStore

__all__ = [
    "Store",
    "EmbeddingCache",
    "ItemChanges",
    "Revisions",
    "History",
    "ServedList",
    "SQLiteStore",
    "MemoryStore",
    "SQLiteEmbeddingCache",
    "MemoryEmbeddingCache",
    "open_store",
    "text_hash",
    "member_state",
]

SUPPORTED = "a folder path, sqlite:///absolute/folder, sqlite://relative/folder, or memory://"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_store(url_or_path: str | os.PathLike[str], *, trace: Callable[[str], None] | None = None) -> Store:
    """Open the store a folder path or URL names.

    Args:
        url_or_path: A folder (``str`` or path-like; created if missing), ``sqlite:///abs/dir``,
            ``sqlite://relative/dir``, or ``memory://`` (a new, empty store each call).
        trace: Called with every SQL statement a SQL backend runs (for tests and profiling);
            ignored by ``memory://``.

    Returns:
        The store.

    Raises:
        StoreError: The URL names a backend this version does not have (PostgreSQL among them),
            or the store cannot be opened.

    Example:
        >>> open_store("memory://").url
        'memory://'
    """
    if isinstance(url_or_path, os.PathLike):
        return SQLiteStore(url_or_path, trace=trace)
    if not isinstance(url_or_path, str) or not url_or_path.strip():
        raise StoreError(f"no store given ({url_or_path!r}): give {SUPPORTED}")
    match = _SCHEME.match(url_or_path)
    if match is None:
        return SQLiteStore(url_or_path, trace=trace)
    scheme, rest = match.group(1).lower(), url_or_path[match.end():]
    if scheme == "sqlite":
        if not rest:
            raise StoreError(
                f"{url_or_path!r} names no folder: give sqlite:///absolute/folder or sqlite://relative/folder"
            )
        return SQLiteStore(rest, trace=trace)
    if scheme == "memory":
        if rest:
            raise StoreError(f"{url_or_path!r}: a memory store has no name or path; give memory:// alone")
        return MemoryStore()
    if scheme in ("postgresql", "postgres"):
        raise StoreError(
            f"PostgreSQL stores ({_redacted(url_or_path)}) are not supported by this version of recsys: "
            f"give {SUPPORTED}"
        )
    raise StoreError(f"unknown store URL {_redacted(url_or_path)!r}: give {SUPPORTED}")


def _redacted(url: str) -> str:
    """The URL without its password, fit for an error message or a log."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # a malformed port or host: say nothing of what it holds
        return url.split("://", 1)[0] + "://…"
