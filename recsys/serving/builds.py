"""The collaborative model built in a process of its own, beside a service planning lists.

A build reads every positive event of the store into Python (rows, pairs, indexes) before its
matrix work: on a thread of the serving process it holds the interpreter's lock for most of its
seconds, and the requests planned meanwhile waited on it (33–94 ms at 100,000 members and a
million events, against 12–13 ms after it). A child process started for the build holds nothing
of the server's, runs at a lower priority so that requests come first on a busy machine, and
gives its memory back when it ends.

The child is a fresh interpreter running this module (``python -m recsys.serving.builds``), not
a fork of a threaded server nor a ``multiprocessing`` spawn (which would run the parent's main
script again). It reads what to build from its standard input (the store's URL, a PostgreSQL
password included, never on a command line another user can list), opens the store for reading
and writes the model's bytes (:meth:`CollaborativeModel.to_bytes`) to its standard output; the
same bytes as a build in the process (``tests/pipeline/test_collaborative.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import numpy as np

from recsys.exceptions import StoreError
from recsys.pipeline.collaborative import POSITIVE_KINDS, CollaborativeModel

__all__ = ["APART_FROM", "Builds", "build_apart", "fit_collaborative", "opens_elsewhere"]

#: From this many events of activity (:attr:`Revisions.activity`) a build beside the requests
#: runs in a process of its own: below, it takes less than starting one (about 0.7 s).
APART_FROM = 100_000

#: How much lower the child's scheduling priority is than the server's.
_NICENESS = 10


def fit_collaborative(store, key: tuple[int, int]) -> CollaborativeModel:
    """The collaborative model of ``store``'s events up to activity ``key[0]``, with the members'
    roles as the store holds them (``key[1]``: the roster revision it was read at)."""
    return CollaborativeModel().fit(store.interactions(key[0], POSITIVE_KINDS), store.member_roles())


def opens_elsewhere(url: str) -> bool:
    """Whether another process can open the store at ``url``: not one in memory (a child would
    open a new, empty one), nor a PostgreSQL URL whose password was left out (a store's own
    ``url`` shows ``***`` in its place; :meth:`recsys.Engine.open` keeps the URL as given)."""
    if url.startswith("memory:"):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # read: a malformed port raises
        return parts.password != "***"
    except ValueError:
        return False


def build_apart(url: str, tenant: str | None, key: tuple[int, int], *, timeout: float = 3600.0) -> bytes:
    """The collaborative model of the store at ``url`` (the enterprise ``tenant``'s view, or the
    whole store) for ``key``, built in a child process, as the bytes the store keeps (its roster
    revision beside it): :meth:`Builds.run` of builds nothing else stops.

    Raises:
        StoreError: see :meth:`Builds.run`.
    """
    return Builds().run(url, tenant, key, timeout=timeout)


class Builds:
    """The builds in a process of their own of one owner (a World): :meth:`stop` ends the one
    running and starts no other, so that closing an engine does not wait for a build nobody will
    use (one at a million events took about four seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._stopped = False

    def run(self, url: str, tenant: str | None, key: tuple[int, int], *, timeout: float = 3600.0) -> bytes:
        """:func:`build_apart`.

        Raises:
            StoreError: the child could not read the store, or ended without a model (its last
                line of errors is given); it ran past ``timeout`` seconds or was stopped (it is
                killed); or no process could be started.
        """
        request = json.dumps({"url": url, "tenant": tenant, "key": list(key)}).encode()
        # The child finds the library where this process found it (a checkout on PYTHONPATH,
        # say: "" is this process's working directory), and nothing from its own (-P).
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.abspath(p) for p in sys.path))
        with self._lock:
            if self._stopped:
                raise StoreError("the collaborative model is not built: its owner is closing")
            try:
                child = self._child = subprocess.Popen(
                    [sys.executable, "-P", "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, env=env)
            except (OSError, subprocess.SubprocessError) as exc:
                raise StoreError(f"no process could be started to build the collaborative model: {exc}") from exc
        try:
            out, err = child.communicate(request, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            child.kill()
            child.communicate()
            raise StoreError(f"the process building the collaborative model ran past {timeout:.0f} s and was "
                             "stopped") from exc
        finally:
            with self._lock:
                self._child = None
        if child.returncode != 0 or not out:
            lines = err.decode(errors="replace").strip().splitlines()
            raise StoreError(f"the process building the collaborative model ended with {child.returncode}: "
                             f"{lines[-1] if lines else 'no message'}")
        return out

    def stop(self) -> None:
        """Kill the build running, if any, and refuse the next ones."""
        with self._lock:
            self._stopped = True
            if self._child is not None and self._child.poll() is None:
                self._child.kill()


def _main() -> int:
    """The child: build what the standard input asks for, write the bytes to standard output."""
    from recsys.storage import open_store
    from recsys.storage.tenant import TenantStore

    _end_with_parent()
    try:
        os.nice(_NICENESS)
    except OSError:  # not allowed here: the build still runs, at the server's priority
        pass
    try:
        asked = json.loads(sys.stdin.buffer.read())
        url, tenant, key = str(asked["url"]), asked.get("tenant"), (int(asked["key"][0]), int(asked["key"][1]))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        print(f"the request on standard input is not {{\"url\", \"tenant\", \"key\"}} as JSON ({exc!r})",
              file=sys.stderr)
        return 2
    try:
        store = open_store(url, read_only=True)
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        view = TenantStore(store, tenant) if tenant is not None else store
        model = fit_collaborative(view, key)
        data = model.to_bytes(roster_revision=np.array([key[1]], dtype=np.int64))
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        store.close()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _end_with_parent() -> None:
    """Be stopped when the process that started this one ends (a server killed): a build
    nobody waits for would go on reading the store. Linux only; elsewhere the build runs out.
    Linux tells of the end of the starting *thread*: a World's own, which waits for the child."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return
    parent = os.getppid()
    prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent ended before the request above took effect
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(_main())
