"""`summary.md` and `metrics.json` of a report folder, rebuilt from every notebook's latest good outputs."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from ..data.checks import manifest_facts
from ..data.phantom import is_phantom
from ..infer.torch_paths import describe_bf16
from ..profiles import Profile
from .context import REPO_ROOT
from .publish import read_failures, read_run_records
from .targets import targets_markdown

__all__ = ["PACKAGES", "merge_metrics", "environment_facts", "git_commit", "write_summary"]

PACKAGES = ("torch", "torchvision", "fastai", "timm", "grad-cam", "papermill", "plotly", "numpy", "pandas",
            "scikit-learn", "ipywidgets")


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
    """Hardware, software and code version of this machine and checkout."""
    facts = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu cores": str(torch.get_num_threads()),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "bf16 autocast": describe_bf16(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
        "git commit": git_commit(),
    }
    for package in PACKAGES:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def write_summary(out_dir: Path, profile: Profile, data_root: Path) -> Path:
    """`summary.md`: which run made each notebook's outputs (run id, commit, time), failures since, the
    data check, the targets met or missed (not for the smoke profile), the environment, then every notebook's
    tables."""
    records = read_run_records(out_dir)
    failures = read_failures(out_dir)
    total = sum(r["minutes"] for r in records.values())
    parts = [f"# Study report: profile `{profile.name}`", ""]
    if not profile.results_meaningful:
        parts += ["> ⚠️ **SMOKE PROFILE: these numbers are a plumbing check and mean nothing.**", ""]
    if is_phantom(data_root):
        parts += ["> ⚠️ **Run on the SYNTHETIC PHANTOM, not on patient ultrasound.**", ""]
    runs = sorted({r["run_id"] for r in records.values()})
    if len(runs) > 1:
        parts += [f"> Outputs come from {len(runs)} different runs ({', '.join(runs)}): see the table.", ""]
    parts += [f"- Profile: {profile.name} ({profile.description})", f"- Data: `{data_root}`",
              *[f"- {line}" for line in manifest_facts(data_root)],
              f"- Wall time: {total:.1f} min (sum of the notebooks' latest good runs)", "",
              "| notebook | status | minutes | run | commit | finished | seed |", "|---|---|---|---|---|---|---|"]
    for number in sorted(set(records) | set(failures)):
        record, failure = records.get(number), failures.get(number)
        status = "ok" if record else "no good run"
        if failure:
            status = f"FAILED in run {failure['run_id']}: {failure['error'][:100]}" + (
                "; outputs below are from its last good run" if record else "")
        if record:
            parts.append(f"| {record['notebook']} | {status} | {record['minutes']:.1f} | {record['run_id']} | "
                         f"{record['commit']} | {record['finished']} | {record['seed']} |")
        else:
            parts.append(f"| {failure['notebook']} | {status} | - | - | - | - | - |")
    if profile.results_meaningful:
        parts += ["", "## Targets", "", "What the study aims at (issue \"models worth trusting\"), from this report's "
                  "`metrics.json` and run records (`python -m buslib targets`):", "",
                  targets_markdown([out_dir], ["this report"])]
    parts += ["", "## Environment of the latest run", ""] + [f"- {k}: {v}" for k, v in environment_facts().items()]
    for number, record in sorted(records.items()):
        tables = out_dir / f"{number}.tables.md"
        if tables.is_file():
            parts += ["", f"## {record['notebook']}", "", tables.read_text().strip()]
    target = out_dir / "summary.md"
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


def git_commit(repo: Path = REPO_ROOT) -> str:
    """Short commit of the checkout, marked when buslib/ or notebooks/ have uncommitted changes."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "buslib", "notebooks"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
