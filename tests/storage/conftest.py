"""The backends the storage contract runs against, PostgreSQL on a real throwaway server.

A new backend adds one entry to ``BACKENDS``; every test of the contract then runs against it too.
The PostgreSQL server is a cluster of its own for the session (``postgres_cluster.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postgres_cluster import PostgresCluster
from recsys.storage import Store, open_store


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A running throwaway PostgreSQL cluster for the whole session."""
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


#: Backend name -> how to open a fresh, empty store of it in a scratch folder (or a new database).
BACKENDS: dict[str, Callable[..., Store]] = {
    "sqlite": lambda folder, postgres: open_store(folder / "store"),
    "memory": lambda folder, postgres: open_store("memory://"),
    "postgresql": lambda folder, postgres: open_store(postgres.new_database()),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path) -> Iterator[Store]:
    """A fresh, empty store of each backend in turn."""
    cluster = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    opened = BACKENDS[request.param](tmp_path, cluster)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def backends(postgres) -> dict[str, Callable[[Path], Store]]:
    """Every backend's opener, for tests that need several fresh stores (property tests)."""
    return {name: (lambda folder, opener=opener: opener(folder, postgres)) for name, opener in BACKENDS.items()}
