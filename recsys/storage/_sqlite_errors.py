"""The one place where SQLite's errors become the library's: a message naming the file and what to do.

Callers of the storage slot catch :class:`~recsys.exceptions.StoreError` (and the service maps it to
a status code); a driver's exception escaping would be a 500 with a message nobody can act on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from recsys.exceptions import ConflictError, StoreError

__all__ = ["sqlite_errors"]

_BUSY = "the store is busy (another process holds a lock on it): try again in a moment"

# Primary result codes (an extended code carries its primary code in the low byte).
_ADVICE = {
    sqlite3.SQLITE_BUSY: _BUSY,
    sqlite3.SQLITE_LOCKED: _BUSY,
    sqlite3.SQLITE_FULL: "the disk is full: free some space and try again",
    sqlite3.SQLITE_NOTADB: "this is not a recsys database: give the store's folder, or move the file away",
    sqlite3.SQLITE_CORRUPT: "the database is damaged: restore the store from a backup",
    sqlite3.SQLITE_READONLY: "the database is read-only: check the permissions of the file and its folder",
    sqlite3.SQLITE_PERM: "access to the database is denied: check the permissions of the file and its folder",
    sqlite3.SQLITE_CANTOPEN: "the database cannot be opened: check that its folder exists and is writable",
    sqlite3.SQLITE_IOERR: "the disk failed to read or write the database: check the disk, then try again",
}


def _advice(exc: sqlite3.Error) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return _ADVICE.get(code & 0xFF)
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return "the store is closed: open it again"
    return None


@contextmanager
def sqlite_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a ``sqlite3.Error`` raised inside the block into a library error about ``path``.

    An integrity error is a write that conflicts with what the database holds, so it becomes a
    :class:`~recsys.exceptions.ConflictError`; every other error a
    :class:`~recsys.exceptions.StoreError`.
    """
    try:
        yield
    except sqlite3.IntegrityError as exc:
        # A conflict is the caller's to resolve and its message reaches HTTP clients: no server path.
        raise ConflictError("the write conflicts with what the store holds; read the record again and retry") from exc
    except sqlite3.Error as exc:
        advice = _advice(exc)
        message = f"{path}: {advice} ({exc})" if advice else f"{path}: {exc}"
        raise StoreError(message) from exc
