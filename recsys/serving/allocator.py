"""How a process that plans lists treats freed memory: kept for the next list, not handed back.

Planning a group of members allocates arrays (each member's candidate vectors, their products,
the diversity step's similarities), more than 64 MiB of them at times, and frees them when the
group's lists are written. glibc's malloc hands memory at the top of its heap back to the system
once more than a threshold of it is free (at most 64 MiB by its own adjustment), so the next
group pays for the same memory again, a page fault per 4 KiB on first touch: 145 to 186 faults a list
in a batch on the list-costs store, at about 6 µs a fault on this project's virtual machine,
against 16 to 17 with the thresholds below (``evaluation/page_faults.py``).

The setting is the process's, not the engine's: the command line, the HTTP service and the
batch's worker processes apply it when they start; an application that embeds the engine and
plans many lists may call :func:`reuse_freed_memory` once at its own start. It changes how much
freed memory a process keeps (up to ``trim_threshold``), not what it computes.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["reuse_freed_memory", "is_glibc"]

# mallopt(3) parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def reuse_freed_memory(*, mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Ask glibc's malloc to keep freed memory for reuse rather than return it to the system.

    Args:
        mmap_threshold: Allocations at least this large get memory of their own from the system,
            returned when freed (glibc's largest automatic value, fixed here: setting either
            threshold stops glibc adjusting both).
        trim_threshold: Free memory at the top of the heap is returned to the system only beyond
            this much: a planning group's arrays are freed together, and were returned and
            faulted in again group after group under glibc's automatic value.

    Returns:
        Whether the settings took effect: False where the C library is not glibc (macOS,
        Windows, musl), which keeps its own behaviour.
    """
    if not is_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; both are tried, each stands alone.
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    trim_ok = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    return mmap_ok and trim_ok


def is_glibc() -> bool:
    """Whether this process runs on glibc (the C library whose malloc the settings are for)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr, or no such name here
        return False
