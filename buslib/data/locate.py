"""Find the study's data folder: an argument, $BUSLIB_DATA, ./data, or ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BUSI_DIRNAME", "DATASET_B_DIRNAME", "HOW_TO_GET_DATA", "candidate_data_roots", "find_data_root"]

BUSI_DIRNAME = "Dataset_BUSI_with_GT"
DATASET_B_DIRNAME = "DatasetB"

HOW_TO_GET_DATA = (
    "BUSI (Al-Dhabyani et al. 2020) is public: download 'Dataset_BUSI_with_GT' from "
    "https://scholar.cu.edu.eg/?q=afahmy/pages/dataset and unzip it into the data folder. "
    "UDIAT Dataset B (Yap et al. 2018) is given on request by its authors; place it as "
    "DatasetB/{original,GT,DatasetB.xlsx}. Point BUSLIB_DATA at the folder that holds both."
)


def candidate_data_roots(explicit: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for data, in order of precedence."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("BUSLIB_DATA"):
        candidates.append(Path(os.environ["BUSLIB_DATA"]))
    cwd = Path.cwd()
    repo_root = Path(__file__).resolve().parents[2]
    for base in dict.fromkeys([cwd, repo_root]):
        candidates += [base / "data", base.parent / "shared" / "data"]
    return [c.expanduser().resolve() for c in dict.fromkeys(candidates)]


def find_data_root(explicit: str | os.PathLike | None = None, require: str = BUSI_DIRNAME) -> Path:
    """Return the first candidate folder that contains `require` (a dataset folder name).

    An explicit argument is authoritative: if it lacks the dataset, the error says so
    instead of silently falling back to another folder.
    """
    searched = candidate_data_roots(explicit)
    if explicit:
        searched = searched[:1]
    for root in searched:
        if (root / require).is_dir():
            return root
    tried = "\n  ".join(str(p / require) for p in searched)
    raise FileNotFoundError(f"Dataset folder '{require}' not found. Looked in:\n  {tried}\n{HOW_TO_GET_DATA}")
