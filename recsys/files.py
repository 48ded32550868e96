"""Files written whole or not at all: a crash or a full disk never leaves half a file where a
good one stood (an index, last week's report)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "write_file"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` beside ``path``, then rename over it.

    Raises:
        OSError: the folder is missing or not writable, or the disk is full (``path`` is then
            as it was).
    """
    path = Path(path)
    # mkstemp makes a file only its owner may read: the file keeps the mode of the one it
    # replaces, or a new file's usual one, so a report stays readable to a web server or a colleague.
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_file(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all (see :func:`atomic_write`)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(raw))


def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` can only be read by changing
    it, which other threads would see): from ``/proc`` on Linux, else the usual 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022

