"""Turn a notebook's parameter cell into a study context: profile, data, output folder, seed, record."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.io as pio
from fastai.torch_core import set_seed
from IPython.display import Markdown, display

from ..artefacts import artefact_path, require_artefact
from ..data.cache import default_cache_dir
from ..data.cohort import load_split_table, subset_per_class
from ..data.locate import find_data_root
from ..data.phantom import is_phantom, write_phantom
from ..data.readers import read_busi, read_dataset_b
from ..profiles import Profile, resolve_profile
from .record import NotebookRecord

__all__ = ["REPO_ROOT", "PHANTOM", "StudyContext", "phantom_root", "resolve_data_root", "open_notebook", "banner"]

REPO_ROOT = Path(__file__).resolve().parents[2]
PHANTOM = "phantom"


@dataclass
class StudyContext:
    """What every notebook needs to know about the run it is part of, and the data loading they share."""

    profile: Profile
    data_root: Path
    out_dir: Path
    seed: int
    record: NotebookRecord

    @property
    def on_phantom(self) -> bool:
        return is_phantom(self.data_root)

    def artefact(self, key: str) -> Path:
        """Where a hand-over file (`buslib.artefacts.ARTEFACTS`) lies in this run's report folder."""
        return artefact_path(self.out_dir, key)

    def subset(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The profile's per-class subset of `frame` (all of it outside the smoke profile), re-indexed."""
        return subset_per_class(frame, self.profile.max_images_per_class, self.seed).reset_index(drop=True)

    def load_busi(self, subset: bool = True) -> pd.DataFrame:
        """BUSI indexed from the data folder, with notebook 01's groups, folds and papers' splits."""
        splits = load_split_table(require_artefact(self.out_dir, "splits"))
        busi = read_busi(self.data_root).merge(splits.drop(columns="label"), on="image_id", validate="one_to_one")
        return self.subset(busi) if subset else busi

    def load_dataset_b(self) -> pd.DataFrame:
        """Dataset B indexed from the data folder (the profile's subset)."""
        return self.subset(read_dataset_b(self.data_root))


def phantom_root() -> Path:
    """The synthetic phantom's folder (written on first use) under the cache folder."""
    root = default_cache_dir() / "phantom"
    if not is_phantom(root):
        staging = root.with_name(f"phantom-{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        write_phantom(staging)
        shutil.rmtree(root, ignore_errors=True)  # an interrupted earlier write, never real data (cache folder)
        staging.rename(root)
    return root


def resolve_data_root(data_dir: str) -> Path:
    """'' finds the real data (argument, $BUSLIB_DATA, ./data, ../shared/data); 'phantom' the phantom."""
    return phantom_root() if data_dir == PHANTOM else find_data_root(data_dir or None)


def open_notebook(notebook: str, profile: str = "smoke", data_dir: str = "", out_dir: str = "",
                  seed: int = 0, seeds: int = 0) -> StudyContext:
    """Resolve a notebook's parameters, seed everything, print a banner, and open the notebook's record.

    `seeds` > 0 overrides the profile's number of training seeds for the headline models."""
    resolved = resolve_profile(profile, **({"seeds": seeds} if seeds else {}))
    root = resolve_data_root(data_dir)
    out = Path(out_dir) if out_dir else REPO_ROOT / "reports" / f"interactive-{resolved.name}"
    out.mkdir(parents=True, exist_ok=True)
    set_seed(seed, reproducible=True)
    pio.renderers.default = "plotly_mimetype+png"  # interactive in JupyterLab, a picture in HTML exports
    context = StudyContext(resolved, root, out, seed, NotebookRecord(out, notebook))
    display(Markdown(banner(context)))
    return context


def banner(context: StudyContext) -> str:
    """The run's identity, with loud warnings when its numbers mean nothing."""
    lines = [f"**Profile `{context.profile.name}`**: {context.profile.description}. "
             f"Data: `{context.data_root}`. Seed {context.seed}. Output: `{context.out_dir}`."]
    if not context.profile.results_meaningful:
        lines.append("> ⚠️ **SMOKE PROFILE: every number below is a plumbing check and means nothing.**")
    if context.on_phantom:
        lines.append("> ⚠️ **SYNTHETIC PHANTOM DATA: not ultrasound of patients; results say nothing clinical.**")
    return "\n\n".join(lines)
