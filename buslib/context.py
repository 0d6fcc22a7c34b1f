"""Turn a notebook's parameter cell into a study context: profile, data, output folder, seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import plotly.io as pio
from fastai.torch_core import set_seed
from IPython.display import Markdown, display

from .cache import default_cache_dir
from .locate import find_data_root
from .phantom import is_phantom, write_phantom
from .profiles import Profile, resolve_profile
from .records import Report

REPO_ROOT = Path(__file__).resolve().parent.parent
PHANTOM = "phantom"


@dataclass
class StudyContext:
    """What every notebook needs to know about the run it is part of."""

    profile: Profile
    data_root: Path
    out_dir: Path
    seed: int
    report: Report

    @property
    def on_phantom(self) -> bool:
        return is_phantom(self.data_root)


def phantom_root() -> Path:
    """The synthetic phantom's folder (written on first use) under the cache folder."""
    root = default_cache_dir() / "phantom"
    return root if is_phantom(root) else write_phantom(root)


def resolve_data_root(data_dir: str) -> Path:
    """'' finds the real data (argument, $BUSLIB_DATA, ./data, ../shared/data); 'phantom' the phantom."""
    return phantom_root() if data_dir == PHANTOM else find_data_root(data_dir or None)


def open_study(notebook: str, profile: str = "smoke", data_dir: str = "", out_dir: str = "",
               seed: int = 0) -> StudyContext:
    """Resolve the parameters, seed everything, print a banner, and open the notebook's report."""
    resolved = resolve_profile(profile)
    root = resolve_data_root(data_dir)
    out = Path(out_dir) if out_dir else REPO_ROOT / "reports" / f"interactive-{resolved.name}"
    out.mkdir(parents=True, exist_ok=True)
    set_seed(seed, reproducible=True)
    pio.renderers.default = "plotly_mimetype+png"  # interactive in JupyterLab, a picture in HTML exports
    context = StudyContext(resolved, root, out, seed, Report(out, notebook))
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
