"""The package's shape: layers as folders, small modules, imports that only point down, thin notebooks."""

import ast
import json
import re
from pathlib import Path

import pytest

from buslib.artefacts import ARTEFACTS

PACKAGE = Path(__file__).resolve().parents[1] / "buslib"
NOTEBOOKS = PACKAGE.parent / "notebooks"
# Bottom to top: a module may import from its own layer or any layer below it, never above.
LAYERS = ["profiles", "artefacts", "data", "models", "eval", "infer", "train", "experiments", "report", "predict",
          "cli", "__main__"]


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else -1


def buslib_imports(path: Path) -> list[str]:
    """Absolute names of the buslib modules a file imports."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package += ".__init__"
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[:-node.level]
            names.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("buslib"):
            names.append(node.module)
    return names


def test_at_most_six_top_level_modules_and_none_over_300_lines():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 6, top
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    long = {name: n for name, n in lengths.items() if n > 300}
    assert not long, long


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_point_to_the_same_layer_or_below(path):
    own = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    upward = [name for name in buslib_imports(path) if layer(name) > layer(own)]
    assert not upward, f"{own} imports from a higher layer: {upward}"


def test_every_public_module_declares_all():
    missing = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") and "__all__" not in p.read_text()]
    assert not missing, missing


def notebook_code(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_define_nothing_and_name_no_artefact_file(path):
    for source in notebook_code(path):
        tree = ast.parse(re.sub(r"^[!%].*$", "", source, flags=re.M))
        defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defined, f"{path.name} defines {defined}"
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        named = [a.path for a in ARTEFACTS.values() for text in strings
                 if text not in ARTEFACTS and text.rstrip("/").endswith(Path(a.path).name)]
        assert not named, f"{path.name} names artefact files {named}: use ctx.artefact(key)"
