"""The study runner: check the inputs, execute the numbered notebooks with papermill in a fresh run folder,
publish each notebook that succeeded into reports/<profile>/, and rebuild the summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill as pm
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbconvert import HTMLExporter

from ..data.checks import check_data_root
from ..data.images import DataError
from ..profiles import resolve_profile
from .context import REPO_ROOT, resolve_data_root
from .publish import RUNS_DIR, publish_failure, publish_success, stage_inputs
from .summary import git_commit, merge_metrics, write_summary

__all__ = ["NOTEBOOKS_DIR", "KERNEL_NAME", "NotebookRun", "StudyRun", "select_notebooks", "ensure_kernel",
           "export_html", "check_inputs", "run_study"]

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "buslib"


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
    run_id: str
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
    """The notebook as a self-contained HTML page that loads nothing from the network; widgets show their
    static fallback."""
    node = nbformat.read(notebook, as_version=4)
    node.metadata.pop("widgets", None)  # no widget manager to fetch from a CDN
    for cell in node.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                data.pop("application/vnd.jupyter.widget-view+json", None)
    # No script from a CDN: the notebooks use no LaTeX (MathJax) and, without widget views, no require.js.
    html, _ = HTMLExporter(mathjax_url="", require_js_url="").from_notebook_node(node)
    target = notebook.with_suffix(".html")
    target.write_text(html)
    return target


def check_inputs(data_root: Path) -> None:
    """Both datasets read and decoded in full (seconds): a DataError lists every problem before anything runs."""
    problems = [check.summary() for check in check_data_root(data_root) if not check.ok]
    if problems:
        raise DataError("the data fail their checks, nothing was run or written:\n" + "\n".join(problems))


def run_study(profile: str = "auto", only: list[str] | None = None, data_dir: str = "",
              reports_dir: Path | None = None, seed: int = 0, notebooks_dir: Path = NOTEBOOKS_DIR,
              seeds: int | None = None, keep_checkpoints: bool | None = None) -> StudyRun:
    """Check the inputs, then execute the notebooks in order in a fresh run folder, publishing each one that
    succeeds; stop at the first failure, keeping its executed copy as `<name>.failed.ipynb`."""
    overrides = {"seeds": seeds} if seeds else {}
    if keep_checkpoints is not None:
        overrides["keep_checkpoints"] = keep_checkpoints
    resolved = resolve_profile(profile, **overrides)
    data_root = resolve_data_root(data_dir)
    notebooks = select_notebooks(only, notebooks_dir)
    check_inputs(data_root)
    out_dir = Path(reports_dir or REPO_ROOT / "reports") / resolved.name
    study = StudyRun(resolved.name, out_dir, time.strftime("%Y%m%d-%H%M%S"))
    staging = out_dir / RUNS_DIR / study.run_id
    staging.mkdir(parents=True)
    stage_inputs(out_dir, staging, {nb.name[:2] for nb in notebooks})
    kernel, commit = ensure_kernel(), git_commit()
    try:
        for notebook in notebooks:
            run = _execute(notebook, staging, kernel, notebooks_dir, resolved.name, data_root, seed, seeds or 0)
            study.runs.append(run)
            record = {"notebook": run.name, "run_id": study.run_id, "commit": commit, "profile": resolved.name,
                      "seed": seed, "seeds": resolved.seeds, "seg_seeds": resolved.seg_seeds, "data": str(data_root),
                      "minutes": run.seconds / 60, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            if run.ok:
                publish_success(staging, out_dir, notebook.name[:2], record, resolved.keep_checkpoints)
            else:
                publish_failure(staging, out_dir, staging / notebook.name, record | {"error": run.error})
                print(f"[buslib] {notebook.name} failed: {run.error}; see "
                      f"{out_dir / (notebook.stem + '.failed.ipynb')}", flush=True)
                break
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not any((out_dir / RUNS_DIR).iterdir()):
            (out_dir / RUNS_DIR).rmdir()
    merge_metrics(out_dir)
    write_summary(out_dir, resolved, data_root)
    return study


def _execute(notebook: Path, staging: Path, kernel: str, notebooks_dir: Path, profile: str, data_root: Path,
             seed: int, seeds: int) -> NotebookRun:
    """One notebook through papermill, its cell output streamed to this console, then exported to HTML.
    `seeds` 0 leaves the notebooks their profile's numbers of training seeds."""
    target = staging / notebook.name
    print(f"[buslib] running {notebook.name} (profile {profile})", flush=True)
    start = time.perf_counter()
    try:
        offered = dict(PROFILE=profile, DATA_DIR=str(data_root), OUT_DIR=str(staging), SEED=seed, SEEDS=seeds)
        declared = pm.inspect_notebook(notebook)
        pm.execute_notebook(notebook, target, kernel_name=kernel, cwd=str(notebooks_dir), progress_bar=False,
                            stdout_file=sys.stdout, stderr_file=sys.stderr,
                            parameters={k: v for k, v in offered.items() if k in declared})
        run = NotebookRun(notebook.stem, time.perf_counter() - start, True)
    except pm.PapermillExecutionError as err:
        run = NotebookRun(notebook.stem, time.perf_counter() - start, False, f"{err.ename}: {err.evalue}")
    except Exception as err:  # the kernel died, a cell timed out, the notebook could not be read
        run = NotebookRun(notebook.stem, time.perf_counter() - start, False, f"{type(err).__name__}: {err}")
    if target.exists():
        export_html(target)
    print(f"[buslib] {notebook.name}: {'ok' if run.ok else 'FAILED'} in {run.seconds / 60:.1f} min", flush=True)
    return run
