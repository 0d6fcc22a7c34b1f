"""Atomic study runs: notebooks execute in a fresh run folder; only a notebook that succeeded replaces its
published outputs in reports/<profile>/, so a failed run never destroys the last good report.

Which files belong to notebook NN: `NN.*` and `NN_*` in the report folder, `figures/NN_*`,
`checkpoints/NN_*`, and the hand-over files `buslib.artefacts` lists for it (e.g. 01's split table).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..artefacts import ARTEFACTS, CHECKPOINTS

__all__ = ["RUNS_DIR", "notebook_outputs", "stage_inputs", "publish_success", "publish_failure",
           "read_run_records", "read_failures"]

RUNS_DIR = ".runs"  # fresh run folders live here while a study runs (git-ignored)


def notebook_outputs(folder: Path, number: str) -> list[Path]:
    """Every file under `folder` that notebook `number` wrote (failed copies included)."""
    found = [*folder.glob(f"{number}[._]*"), *(folder / "figures").glob(f"{number}_*"),
             *(folder / CHECKPOINTS).glob(f"{number}_*")]
    found += [folder / a.path for a in ARTEFACTS.values()
              if a.notebook == number and (folder / a.path).is_file()]
    return sorted({p for p in found if p.is_file()})


def stage_inputs(published: Path, staging: Path, running: set[str]) -> None:
    """Copy into `staging` the hand-over files of notebooks that this run does not execute."""
    for artefact in ARTEFACTS.values():
        source = published / artefact.path
        if artefact.notebook in running or not source.exists():
            continue
        target = staging / artefact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def publish_success(staging: Path, published: Path, number: str, record: dict, keep_checkpoints: bool) -> None:
    """Replace notebook `number`'s published outputs by the run folder's, and write its run record."""
    for old in notebook_outputs(published, number):
        old.unlink()
    for new in notebook_outputs(staging, number):
        relative = new.relative_to(staging)
        if relative.parts[0] == CHECKPOINTS and not keep_checkpoints:
            continue
        target = published / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(new, target)  # later notebooks of this run still read it from the run folder
    (published / f"{number}.run.json").write_text(json.dumps(record, indent=1))


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no copy of large weights) where the file system allows it, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def publish_failure(staging: Path, published: Path, executed: Path, record: dict) -> None:
    """Keep a failed notebook's executed copy (and HTML) beside the good outputs as `<name>.failed.*`,
    with `NN.failed.json`; its previous good outputs stay as they were."""
    number = executed.name[:2]
    for suffix in (".ipynb", ".html"):
        source = executed.with_suffix(suffix)
        if source.is_file():
            shutil.move(source, published / f"{executed.stem}.failed{suffix}")
    (published / f"{number}.failed.json").write_text(json.dumps(record, indent=1))


def read_run_records(folder: Path) -> dict[str, dict]:
    """Notebook number -> record of the run that made its published outputs."""
    return {p.name[:2]: json.loads(p.read_text()) for p in sorted(folder.glob("[0-9][0-9].run.json"))}


def read_failures(folder: Path) -> dict[str, dict]:
    """Notebook number -> record of a failed run since its last good one."""
    return {p.name[:2]: json.loads(p.read_text()) for p in sorted(folder.glob("[0-9][0-9].failed.json"))}
