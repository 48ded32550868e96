"""Storage: the one place that knows how records are kept (all SQL lives here).

One protocol (:class:`Store`), backends chosen by URL with :func:`open_store`:

- a folder path, ``sqlite:///abs/dir`` or ``sqlite://relative/dir``: :class:`SQLiteStore`, the
  embedded default;
- ``memory://``: :class:`MemoryStore`, the reference backend (nothing kept on disk);
- ``postgresql://user[:password]@host[:port]/dbname`` (or ``postgres://``):
  :class:`recsys.storage.postgres.PostgresStore`, the store several processes share (needs the
  ``postgres`` extra; imported only when such a URL is opened).

Example:
    >>> from recsys.storage import open_store
    >>> store = open_store("memory://")
    >>> store.revisions()
    Revisions(items=0, members=0, activity=0, models=0, roster=0)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from recsys.exceptions import StoreError
from recsys.storage._shared import redacted
from recsys.storage.base import (
    Artefact,
    EmbeddingCache,
    EventColumns,
    History,
    ItemChanges,
    MemberRemoval,
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
    "EventColumns",
    "ServedList",
    "MemberRemoval",
    "Artefact",
    "SQLiteStore",
    "MemoryStore",
    "SQLiteEmbeddingCache",
    "MemoryEmbeddingCache",
    "open_store",
    "store_folder",
    "redacted",
    "text_hash",
    "member_state",
]

SUPPORTED = (
    "a folder path, sqlite:///absolute/folder, sqlite://relative/folder, memory://, "
    "or postgresql://user@host:port/dbname"
)

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def store_folder(url_or_path: str | os.PathLike[str]) -> Path | None:
    """The folder a store keeps its files in (a folder path or ``sqlite://`` URL), or None for a
    store without one (``postgresql://``, ``memory://``). Opens nothing.

    Example:
        >>> store_folder("sqlite:///srv/recsys"), store_folder("postgresql://u@db/recsys")
        (PosixPath('/srv/recsys'), None)
    """
    if isinstance(url_or_path, os.PathLike):
        return Path(url_or_path)
    match = _SCHEME.match(url_or_path)
    if match is None:
        return Path(url_or_path)
    if match.group(1).lower() == "sqlite" and url_or_path[match.end():]:
        return Path(url_or_path[match.end():])
    return None


def open_store(url_or_path: str | os.PathLike[str], *, trace: Callable[[str], None] | None = None,
               read_only: bool = False) -> Store:
    """Open the store a folder path or URL names.

    Args:
        url_or_path: A folder (``str`` or path-like; created if missing), ``sqlite:///abs/dir``,
            ``sqlite://relative/dir``, ``memory://`` (a new, empty store each call), or
            ``postgresql://user[:password]@host[:port]/dbname`` (the database must exist).
        trace: Called with every SQL statement the SQLite backend runs (for tests and
            profiling); ignored by the others.
        read_only: Open an existing folder store for reading only (see :class:`SQLiteStore`);
            ignored by the others (give a PostgreSQL role that may only read instead).

    Returns:
        The store.

    Raises:
        StoreError: The URL names a backend this version does not have, or the store cannot be
            opened (a message about a PostgreSQL URL never holds its password).
        MissingExtraError: A PostgreSQL URL, without the ``postgres`` extra installed.

    Example:
        >>> open_store("memory://").url
        'memory://'
    """
    if isinstance(url_or_path, os.PathLike):
        return SQLiteStore(url_or_path, trace=trace, read_only=read_only)
    if not isinstance(url_or_path, str) or not url_or_path.strip():
        raise StoreError(f"no store given ({url_or_path!r}): give {SUPPORTED}")
    match = _SCHEME.match(url_or_path)
    if match is None:
        return SQLiteStore(url_or_path, trace=trace, read_only=read_only)
    scheme, rest = match.group(1).lower(), url_or_path[match.end():]
    if scheme == "sqlite":
        if not rest:
            raise StoreError(
                f"{url_or_path!r} names no folder: give sqlite:///absolute/folder or sqlite://relative/folder"
            )
        return SQLiteStore(rest, trace=trace, read_only=read_only)
    if scheme == "memory":
        if rest:
            raise StoreError(f"{url_or_path!r}: a memory store has no name or path; give memory:// alone")
        return MemoryStore()
    if scheme in ("postgresql", "postgres"):
        from recsys.storage.postgres import PostgresStore  # the driver only when it is needed

        return PostgresStore(url_or_path)
    raise StoreError(f"unknown store URL {redacted(url_or_path)!r}: give {SUPPORTED}")

