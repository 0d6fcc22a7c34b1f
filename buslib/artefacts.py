"""The files notebooks hand to each other, named once: which notebook writes each and where it lies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Artefact", "ARTEFACTS", "artefact_path", "require_artefact"]

CHECKPOINTS = "checkpoints"  # git-ignored folder beside a report for weights too large to commit


@dataclass(frozen=True)
class Artefact:
    """One hand-over file: its path relative to the report folder and the notebook that writes it."""

    path: str
    notebook: str
    description: str


ARTEFACTS = {
    "splits": Artefact("splits_busi.csv", "01", "BUSI cohort: near-duplicate group, grouped fold, papers' splits"),
    "seg_results": Artefact("02_results.csv", "02", "segmentation results beside Li Table 1"),
    "u2netp_weights": Artefact("02_u2netp_grouped.pth", "02", "U2NET-Lite trained on the grouped split (~5 MB)"),
    "u2netp_folds": Artefact(f"{CHECKPOINTS}/02_u2netp_folds.pth", "02",
                             "U2NET-Lite of every cross-validation fold (fold -> weights), the fold ensemble"),
    "u2netp_zoom_folds": Artefact(f"{CHECKPOINTS}/02_u2netp_zoom_folds.pth", "02",
                                  "the zoomed second stage of every fold (fold -> weights and the use chosen)"),
    "seg_detection": Artefact("02_detection.csv", "02", "out-of-fold lesion detection under each gate"),
    "lesion_detectors": Artefact(f"{CHECKPOINTS}/02_lesion_detectors.pth", "02",
                                 "normal-vs-lesion classifier of every fold with its detection threshold"),
    "u2net_weights": Artefact(f"{CHECKPOINTS}/02_u2net_grouped.pth", "02", "U2NET trained on the grouped split"),
    "cls_results": Artefact("03_results.csv", "03", "binary classification results, one row per run"),
    "cls_oof": Artefact("03_oof.csv", "03", "cross-validated classifiers: pooled out-of-fold metrics"),
    "cls_models": Artefact("03_models.csv", "03", "saved classifiers with their frozen thresholds"),
    "cls_checkpoints": Artefact(CHECKPOINTS, "03", "folder of the classifiers' weights"),
}


def artefact_path(out_dir: Path | str, key: str) -> Path:
    """Where artefact `key` lies under the report folder `out_dir`."""
    if key not in ARTEFACTS:
        raise ValueError(f"unknown artefact '{key}'; choose one of {sorted(ARTEFACTS)}")
    return Path(out_dir) / ARTEFACTS[key].path


def require_artefact(out_dir: Path | str, key: str) -> Path:
    """The artefact's path, or a FileNotFoundError naming the notebook that writes it."""
    path = artefact_path(out_dir, key)
    if not path.exists():
        number = ARTEFACTS[key].notebook
        raise FileNotFoundError(f"{path}: missing ({ARTEFACTS[key].description}); run notebook {number} first "
                                f"(python -m buslib study --only {number})")
    return path
