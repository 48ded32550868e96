"""Shared fixtures: a seeded rng, small hand-built catalogues, and engines on temporary stores."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest

from corpus import EXTERNAL, QUIZ_BANK
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


def make_item(id_: str, title: str, body: str = "", **fields) -> Item:
    """An online article unless told otherwise; only the fields a test cares about need naming."""
    fields.setdefault("kind", "article")
    fields.setdefault("minutes", 10)
    fields.setdefault("published", dt.date(2026, 1, 1))
    return Item(id=id_, title=title, body=body, **fields)


SAMPLE = [
    ("safety", "安全生产月活动要点", "开展隐患排查治理，落实安全生产责任制，有限空间作业先通风、再检测、后作业。", ("安全生产",)),
    ("integrity", "廉洁从业警示教育", "某国企采购负责人收受供应商礼品礼金，违反中央八项规定精神，受到党纪处分。", ("廉洁从业",)),
    ("history", "中共一大的召开", "1921年7月，中国共产党第一次全国代表大会在上海召开，最后一天转移到嘉兴南湖红船上举行。", ("党史",)),
    ("secrecy", "保密工作常识", "涉密文件不得通过微信、QQ等互联网工具传递，涉密计算机严禁连接互联网。", ("保密",)),
    ("reform", "国企改革三年行动", "完善中国特色现代企业制度，推进混合所有制改革，健全市场化经营机制。", ("国企改革",)),
]


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
