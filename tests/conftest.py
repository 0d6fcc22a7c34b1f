"""Shared fixtures: a phantom data folder, an isolated cache, and the real data (or a loud failure)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from buslib.data.locate import BUSI_DIRNAME, find_data_root
from buslib.data.phantom import write_phantom
from buslib.models.bundle import ModelBundle, save_bundle
from buslib.models.registry import create_classifier, get_spec
from buslib.models.u2net import U2Net
from buslib.models.weights import weights_dir

REAL_DATA_SKIP = "real data not found"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    """Keep test caches out of the user's ~/.cache/buslib (notebook kernels inherit it)."""
    weights = weights_dir()  # the offline weights `make setup` fetched stay visible
    cache = tmp_path_factory.mktemp("cache")
    os.environ["BUSLIB_CACHE"] = str(cache)
    if weights.is_dir():
        (cache / "weights").symlink_to(weights)
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
        pytest.skip(f"{REAL_DATA_SKIP}: {err}")


def pytest_terminal_summary(terminalreporter):
    """A loud line when the real-data tests were skipped: green then means 'not tested on data'."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if REAL_DATA_SKIP in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} REAL-DATA TESTS SKIPPED: BUSI and Dataset B were not found",
                                   red=True, bold=True)
        terminalreporter.write_line("Point the tests at the data with BUSLIB_DATA=/path/to/folder (the folder holding "
                                    "Dataset_BUSI_with_GT and DatasetB), or set BUSLIB_REQUIRE_DATA=1 to fail instead.")


@pytest.fixture(scope="session")
def untrained_bundles(tmp_path_factory) -> Path:
    """Classifier and segmenter bundles of untrained networks at 64 px: for predict's plumbing, not its numbers."""
    folder = tmp_path_factory.mktemp("bundles")
    save_bundle(ModelBundle("classifier", "rcdnet", 64, create_classifier("rcdnet", 2, 64).state_dict(),
                            get_spec("rcdnet").stats, 0.5, {"run": "test", "commit": "none"}), folder / "classifier.pt")
    save_bundle(ModelBundle("segmenter", "u2netp", 64, U2Net("u2netp").state_dict(), provenance={"run": "test"}),
                folder / "segmenter.pt")
    return folder
