"""Shared fixtures: a phantom data folder, an isolated cache, and the real data (or a loud failure)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from buslib.locate import BUSI_DIRNAME, find_data_root
from buslib.phantom import write_phantom


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    """Keep test caches out of the user's ~/.cache/buslib (notebook kernels inherit it)."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["BUSLIB_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def phantom_root(tmp_path_factory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("phantom"), seed=1)


@pytest.fixture
def phantom_copy(phantom_root, tmp_path) -> Path:
    """A private copy of the phantom that a test may damage."""
    return Path(shutil.copytree(phantom_root, tmp_path / "data"))


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The real BUSI + Dataset B folder; skipped when absent unless BUSLIB_REQUIRE_DATA=1 (CI), then failed."""
    try:
        return find_data_root(None, BUSI_DIRNAME)
    except FileNotFoundError as err:
        if os.environ.get("BUSLIB_REQUIRE_DATA") == "1":
            pytest.fail(f"BUSLIB_REQUIRE_DATA=1 but the real data is missing: {err}")
        pytest.skip(f"real data not found: {err}")
