"""The backends the storage contract runs against.

A new backend (PostgreSQL, later) adds one entry to ``BACKENDS``; every test of the contract then
runs against it too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recsys.storage import Store, open_store

#: Backend name -> how to open a fresh, empty store of it in a scratch folder.
BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda folder: open_store(folder / "store"),
    "memory": lambda folder: open_store("memory://"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path) -> Store:
    """A fresh, empty store of each backend in turn."""
    opened = BACKENDS[request.param](tmp_path)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def backends() -> dict[str, Callable[[Path], Store]]:
    """Every backend's opener, for tests that need several fresh stores (property tests)."""
    return BACKENDS
