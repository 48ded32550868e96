"""A process that plans lists keeps freed memory for reuse: measured by the kernel's count of page
faults, in a fresh interpreter each time (the setting is the process's, for good)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recsys.serving.allocator import is_glibc, reuse_freed_memory

pytestmark = pytest.mark.skipif(not is_glibc(), reason="the setting is glibc's malloc")

# A planning group's pattern: a hundred 1 MiB arrays alive at once, then all freed, round after
# round. Under glibc's own thresholds the freed top of the heap goes back to the system each
# round and is faulted in again.
_ROUNDS = """
import json, resource, sys
import numpy as np
from recsys.serving.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    arrays = [np.ones(1 << 17) for _ in range(100)]
    del arrays
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _rounds(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _ROUNDS, mode], capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def test_freed_memory_is_reused_round_after_round():
    default, reused = _rounds("default"), _rounds("reuse")
    assert reused["applied"] is True
    pages = 100 * (1 << 20) // 4096  # what a round touches
    # The first round faults its pages in either way; after it, glibc's defaults fault most of
    # them in again every round, and the setting none.
    assert min(default["faults"][2:]) > pages // 2
    assert max(reused["faults"][2:]) < pages // 20


def test_it_says_when_it_cannot_apply(monkeypatch):
    monkeypatch.setattr("os.confstr", lambda name: "musl 1.2")
    assert is_glibc() is False
    assert reuse_freed_memory() is False
