"""The write-ahead log copied back into the database file by a thread of its own, not by a commit."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable

__all__ = ["Checkpointer", "BACKSTOP_PAGES"]

log = logging.getLogger(__name__)

#: Log pages at which a commit still checkpoints itself (SQLite's own rule, ``wal_autocheckpoint``):
#: only should the thread fall behind, as in a burst of writes faster than it wakes.
BACKSTOP_PAGES = 8000


class Checkpointer:
    """Checkpoints a WAL database from a thread, soon after each write, so commits do not.

    SQLite's default checkpoint runs inside the commit that takes the log past 1,000 pages, and
    syncs the database file to disk before that commit returns: every few hundred daily lists,
    one request waited 100-250 ms for it (``evaluation/list_costs.py``'s store; ``daily()`` p99 fell
    from 95-125 ms to 64-71 ms with it gone). Here the thread wakes ``every`` seconds after a
    write and checkpoints without waiting for readers or writers (``PASSIVE``); commits keep
    SQLite's own checkpoint at :data:`BACKSTOP_PAGES` only.

    The thread starts with the first write of a process (:meth:`wrote`), so a store that is only
    read starts none, and a process started by ``fork`` starts its own. It is a daemon: a process
    that ends without closing the store loses nothing (what is not checkpointed stays in the log,
    which the next connection reads and SQLite checkpoints when the last one closes).

    Args:
        connect: Opens a connection of its own to the database (the thread's, closed when it stops).
        every: Seconds between a write and its checkpoint, at most (about).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, every: float = 0.5) -> None:
        self._connect = connect
        self.every = every
        self._lock = threading.Lock()
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wrote(self) -> None:
        """Note a committed write: checkpointed within :attr:`every` seconds."""
        self._written.set()
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if (self._thread is None or self._pid != os.getpid()) and not self._stop.is_set():
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="recsys-checkpoint", daemon=True)
                    self._thread.start()

    def close(self) -> None:
        """Checkpoint what is left and stop the thread (a later write starts another)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None or self._pid != os.getpid():
                return
            self._stop.set()
            self._written.set()  # wakes a thread waiting for a write
        thread.join()
        self._stop.clear()

    def _run(self) -> None:
        db = None
        try:
            while True:
                self._written.wait()
                stopping = self._stop.wait(self.every)
                if self._written.is_set():
                    self._written.clear()
                    if db is None:
                        db = self._connect()
                    try:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error as exc:  # busy or gone: the next write, or a commit, tries again
                        log.warning("checkpoint of the store's log failed: %s", exc)
                if stopping:
                    return
        finally:
            if db is not None:
                db.close()
