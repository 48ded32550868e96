"""One SQLite connection per thread, all closed together: what both SQLite files of a store need."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["ThreadConnections", "read_only_connection"]


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that can only read ``path``. Where its folder cannot be written, SQLite could
    not make the shared-memory file a WAL reader needs, so the file is read as it is
    (``immutable=1``): right for a store nobody may write, which holds all in its main file once
    closed cleanly."""
    frozen = "" if os.access(path.parent, os.W_OK) else "&immutable=1"
    return sqlite3.connect(f"{path.as_uri()}?mode=ro{frozen}", uri=True, timeout=60, isolation_level=None,
                           check_same_thread=False)


class ThreadConnections:
    """Opens a connection the first time a thread asks, and keeps it for that thread.

    sqlite3 connections must not be used by two threads at once; one per thread also lets WAL
    readers run beside the writer.

    Args:
        connect: Opens and configures a new connection.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection; a thread asking again later gets a new one."""
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.ProgrammingError:  # pragma: no cover - closed from another thread
                    pass
            self._all.clear()
        self._local = threading.local()
