"""Shared fixtures: a seeded rng, small hand-built catalogues, and engines on temporary stores."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from corpus import EXTERNAL, QUIZ_BANK
from factories import SAMPLE, make_item
from recsys import Engine, Item, Member

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _external(path: Path) -> Path:
    # CI always has ../shared beside the project: a missing file is a broken set-up, and a skip
    # would let the tests on real data pass without running.
    if not path.exists():
        pytest.fail(f"{path} is missing: the third-party data of ../shared/external must sit beside the project")
    return path


@pytest.fixture(scope="session")
def quiz_bank() -> Path:
    """The real party-history question bank, read where it lies."""
    return _external(QUIZ_BANK)


@pytest.fixture(scope="session")
def msrec_toy() -> Path:
    """The folder of Microsoft Recommenders' metric-test fixture and expected values."""
    return _external(EXTERNAL / "msrec_toy" / "expected_values.json").parent


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture
def sample_items() -> list[Item]:
    return [make_item(i, t, b, topics=tp) for i, t, b, tp in SAMPLE]


@pytest.fixture
def sample_member() -> Member:
    return Member(id="m1", name="张伟", org="hxny.fdgs.zb-yunxing", roles=("member", "frontline"))


@pytest.fixture
def engine(tmp_path, sample_items, sample_member):
    """A model-free engine holding the five sample items and one member."""
    eng = Engine.open(tmp_path / "store", encoder="tfidf")
    eng.add_items(sample_items)
    eng.upsert_members([sample_member])
    yield eng
    eng.close()
