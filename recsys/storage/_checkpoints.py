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
#: Seconds an idle thread waits for a write before it looks whether its store is still open.
_IDLE_SECONDS = 30.0


class Checkpointer:
    """Checkpoints a WAL database from a thread, soon after each write, so commits do not.

    SQLite's default checkpoint runs inside the commit that takes the log past 1,000 pages, and
    syncs the database file to disk before that commit returns: every few hundred daily lists one
    request waited 100-250 ms for it (on the store of ``evaluation/list_costs.py``, 300 requests
    one after another: ``daily()`` p99 40-61 ms and slowest 167-190 ms before, 32-34 ms and 38-49
    ms with this). Here the thread wakes ``every`` seconds after a write and checkpoints without
    waiting for readers or writers (``PASSIVE``); commits keep SQLite's own checkpoint at
    :data:`BACKSTOP_PAGES` only.

    The thread starts with the first write of a process (:meth:`wrote`; opening a writable store
    writes, a read-only one never does), and a process started by ``fork`` starts its own. It is a
    daemon: a process that ends without closing the store loses nothing (what is not checkpointed
    stays in the log, which the next connection reads). A store collected without being closed
    ends its thread (``alive``), within :data:`_IDLE_SECONDS`.

    Args:
        connect: Opens a connection of its own to the database (the thread's, closed when it
            stops), or returns None if the store is gone.
        alive: Whether the store is still there.
        every: Seconds between a write and its checkpoint, at most (about).
        where: The database, as a failed checkpoint's warning names it.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection | None], alive: Callable[[], bool], *,
                 every: float = 0.5, where: object = "the store") -> None:
        self._connect = connect
        self._alive = alive
        self._where = where
        self.every = every
        self._lock = threading.Lock()
        self._written = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wrote(self) -> None:
        """Note a committed write: checkpointed within :attr:`every` seconds."""
        self._written.set()
        if not self._running():
            with self._lock:
                if not self._running() and not self._stop.is_set():
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._run, name="recsys-checkpoint", daemon=True)
                    self._thread.start()

    def _running(self) -> bool:
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

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

    @property
    def thread(self) -> threading.Thread | None:
        """The thread of this process, while it runs."""
        return self._thread if self._running() else None

    def _run(self) -> None:
        db = None
        try:
            while True:
                if not self._written.wait(_IDLE_SECONDS):
                    if not self._alive():  # the store is gone, never closed
                        return
                    continue
                self._stop.wait(self.every)
                self._written.clear()
                try:
                    db = db or self._connect()
                    if db is None:
                        return
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy, or the file gone: the next write, or a commit, tries again
                    log.warning("%s: checkpoint of the database's log failed (%s); the next write tries again",
                                self._where, exc)
                # Asked after the checkpoint, not before it: a close that came between the wait and
                # the clear above had its wake-up cleared, and waiting for another write would
                # leave it joining this thread for good.
                if self._stop.is_set():
                    return
        finally:
            if db is not None:
                db.close()
