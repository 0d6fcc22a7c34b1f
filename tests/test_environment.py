"""pyproject.toml is the one source of dependencies; environment.yml must agree with it."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    return pyproject, environment


def test_environment_yml_python_matches_requires_python():
    pyproject, environment = load()
    pythons = [d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"]
    assert pyproject["project"]["requires-python"] == ">=3.11,<3.12"


def test_environment_yml_installs_the_package_with_dev_extra_and_nothing_else():
    pyproject, environment = load()
    pip_sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [["-e .[dev]"]], "dependencies belong in pyproject.toml, not environment.yml"
    assert "dev" in pyproject["project"]["optional-dependencies"]
    conda_packages = {d.split("=")[0] for d in environment["dependencies"] if isinstance(d, str)}
    assert conda_packages == {"python", "pip"}


def test_torch_and_torchvision_are_pinned_to_the_pair_that_works_on_cpu():
    pyproject, _ = load()
    deps = pyproject["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    assert version("torch").split("+")[0] == "2.14.1"
    assert version("torchvision").split("+")[0] == "0.29.1"
