"""Run the numbered notebooks with papermill into reports/<profile>/ and summarise the run."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat
import papermill as pm
import torch
from nbconvert import HTMLExporter

from .context import REPO_ROOT, resolve_data_root
from .locate import BUSI_DIRNAME, DATASET_B_DIRNAME
from .manifest import verify_manifest
from .phantom import is_phantom
from .profiles import resolve_profile

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "buslib"
PACKAGES = ("torch", "torchvision", "fastai", "timm", "grad-cam", "papermill", "plotly", "numpy", "pandas",
            "scikit-learn", "ipywidgets")


@dataclass
class NotebookRun:
    name: str
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class StudyRun:
    profile: str
    out_dir: Path
    runs: list[NotebookRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)


def select_notebooks(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Numbered notebooks in order; `only` keeps those whose number prefix is listed (e.g. ['01', '03'])."""
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = set(only) - {nb.name[:2] for nb in notebooks}
        if unknown:
            raise ValueError(f"no notebook numbered {sorted(unknown)} in {folder}")
        notebooks = [nb for nb in notebooks if nb.name[:2] in only]
    return notebooks


def ensure_kernel() -> str:
    """Register this interpreter as the Jupyter kernel 'buslib' inside its own environment."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
                    "--display-name", "Python (buslib)"], check=True, capture_output=True)
    return KERNEL_NAME


def export_html(notebook: Path) -> Path:
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    target.write_text(html)
    return target


def run_study(profile: str = "auto", only: list[str] | None = None, data_dir: str = "",
              reports_dir: Path | None = None, seed: int = 0, notebooks_dir: Path = NOTEBOOKS_DIR) -> StudyRun:
    """Execute the notebooks in order; stop at the first failure, keeping its executed copy."""
    resolved = resolve_profile(profile)
    data_root = resolve_data_root(data_dir)
    out_dir = Path(reports_dir or REPO_ROOT / "reports") / resolved.name
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel = ensure_kernel()
    study = StudyRun(resolved.name, out_dir)
    for notebook in select_notebooks(only, notebooks_dir):
        target = out_dir / notebook.name
        clear_previous_outputs(out_dir, notebook.name[:2])
        print(f"[buslib] running {notebook.name} (profile {resolved.name}) -> {target}", flush=True)
        start = time.perf_counter()
        try:
            pm.execute_notebook(notebook, target, kernel_name=kernel, cwd=str(notebooks_dir),
                                parameters=dict(PROFILE=resolved.name, DATA_DIR=str(data_root),
                                                OUT_DIR=str(out_dir), SEED=seed))
            study.runs.append(NotebookRun(notebook.stem, time.perf_counter() - start, True))
        except pm.PapermillExecutionError as err:
            study.runs.append(NotebookRun(notebook.stem, time.perf_counter() - start, False,
                                          f"{err.ename}: {err.evalue}"))
        if target.exists():
            export_html(target)
        if not study.runs[-1].ok:
            print(f"[buslib] {notebook.name} failed: {study.runs[-1].error}; see {target}", flush=True)
            break
    merge_metrics(out_dir)
    write_summary(study, data_root, seed)
    return study


def clear_previous_outputs(out_dir: Path, number: str) -> None:
    """Remove what an earlier run of notebook `number` left, so a report never mixes two runs."""
    for path in [*out_dir.glob(f"{number}[._]*"), *(out_dir / "figures").glob(f"{number}_*")]:
        path.unlink()


def merge_metrics(out_dir: Path) -> Path:
    """Merge every `<notebook>.metrics.json` into one flat `metrics.json`; keys must not collide."""
    merged: dict[str, float] = {}
    for path in sorted(out_dir.glob("*.metrics.json")):
        for key, value in json.loads(path.read_text()).items():
            if key in merged:
                raise ValueError(f"metric '{key}' recorded by two notebooks (again in {path.name})")
            merged[key] = value
    target = out_dir / "metrics.json"
    target.write_text(json.dumps(merged, indent=1, sort_keys=True))
    return target


def environment_facts() -> dict[str, str]:
    """Hardware, software and code version of this run."""
    facts = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu cores": str(torch.get_num_threads()),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "git commit": _git_commit(),
    }
    for package in PACKAGES:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def data_facts(data_root: Path) -> list[str]:
    """One line per dataset: manifest check result, or why there is none."""
    if is_phantom(data_root):
        return [f"`{data_root}`: SYNTHETIC PHANTOM, no manifest"]
    lines = []
    for name in (BUSI_DIRNAME, DATASET_B_DIRNAME):
        folder = data_root / name
        if not folder.is_dir():
            lines.append(f"{name}: absent")
            continue
        report = verify_manifest(folder)
        lines.append(report.summary() if report else f"{name}: no manifest beside it")
    return lines


def write_summary(study: StudyRun, data_root: Path, seed: int) -> Path:
    """`summary.md`: identity of the run, notebook status and wall time, then every notebook's tables."""
    profile = resolve_profile(study.profile)
    total = sum(r.seconds for r in study.runs)
    parts = [f"# Study report: profile `{profile.name}`", ""]
    if not profile.results_meaningful:
        parts += ["> ⚠️ **SMOKE PROFILE: these numbers are a plumbing check and mean nothing.**", ""]
    if is_phantom(data_root):
        parts += ["> ⚠️ **Run on the SYNTHETIC PHANTOM, not on patient ultrasound.**", ""]
    parts += [f"- Profile: {profile.name} ({profile.description})", f"- Seed: {seed}",
              f"- Data: `{data_root}`", *[f"- {line}" for line in data_facts(data_root)],
              f"- Wall time: {total / 60:.1f} min", "", "| notebook | status | minutes |", "|---|---|---|"]
    parts += [f"| {r.name} | {'ok' if r.ok else 'FAILED: ' + r.error[:120]} | {r.seconds / 60:.1f} |"
              for r in study.runs]
    parts += ["", "## Environment", ""] + [f"- {k}: {v}" for k, v in environment_facts().items()]
    for run in study.runs:
        tables = study.out_dir / f"{run.name[:2]}.tables.md"
        if tables.is_file():
            parts += ["", f"## {run.name}", "", tables.read_text().strip()]
    target = study.out_dir / "summary.md"
    target.write_text("\n".join(parts) + "\n")
    return target


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "buslib", "notebooks"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
