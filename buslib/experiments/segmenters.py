"""Notebook 02's trained U2-Nets, loaded back from a report folder for notebooks 03-04 and probes."""

from __future__ import annotations

from pathlib import Path

import torch

from ..artefacts import artefact_path
from ..models.bundle import float_state
from ..models.u2net import SegmentationEnsemble, U2Net

__all__ = ["load_segmenter", "load_fold_segmenters", "load_crop_segmenters", "load_segmenter_ensemble"]


def load_segmenter(report_dir: Path, variant: str) -> U2Net | None:
    """The U2-Net `variant` notebook 02 trained on BUSI's grouped split, or None when its weights are absent."""
    path = artefact_path(report_dir, f"{variant}_weights")
    if not path.is_file():
        return None
    model = U2Net(variant)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_fold_segmenters(report_dir: Path) -> dict[str, U2Net] | None:
    """Notebook 02's cross-validation U2NET-Lites by grouped split ('grouped', 'grouped_f1', ...), from their
    half-precision copies; None when they were not saved."""
    path = artefact_path(report_dir, "u2netp_folds")
    if not path.is_file():
        return None
    segmenters = {}
    for split, state in torch.load(path, map_location="cpu", weights_only=True).items():
        segmenters[split] = U2Net("u2netp")
        segmenters[split].load_state_dict(float_state(state))
        segmenters[split].eval()
    return segmenters


def load_crop_segmenters(report_dir: Path) -> dict[str, U2Net]:
    """The U2NET-Lite of each grouped split that the crop classifiers segment with: test fold 0's full-precision
    model (the one notebook 02 reports) and the other folds' half-precision copies; empty when none was saved."""
    fold0 = load_segmenter(report_dir, "u2netp")
    return (load_fold_segmenters(report_dir) or {}) | ({"grouped": fold0} if fold0 is not None else {})


def load_segmenter_ensemble(report_dir: Path) -> SegmentationEnsemble | None:
    """The cross-validation U2NET-Lites of notebook 02 averaged, or None when they were not saved."""
    folds = load_fold_segmenters(report_dir)
    return None if folds is None else SegmentationEnsemble(list(folds.values())).eval()
