"""Notebook 02's fold lesion classifiers (normal vs lesion), saved with what notebook 04 and `predict` need to
use them: architecture, input size, and per fold the weights, flip choice and detection threshold; and the lesion /
no-lesion gate notebook 02 chose (`gating`), with each gate's threshold per fold and the segmenter's flip choice, so
that they can run the gate that was chosen rather than the classifier alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .classification import ClsRun
from .gating import GATES, choose_gate
from .segmentation import SegRun, half_state, pooled_detection_threshold

__all__ = ["detector_folds", "pooled_threshold", "load_detector_folds"]


def detector_folds(detectors: Sequence[ClsRun], size: int, gated: Mapping[str, Sequence[SegRun]] | None = None) -> dict:
    """The lesion classifiers of every fold, for notebook 04 and `predict`: the architecture, the square input `size`
    they were trained at and, per fold split, the weights (half precision), whether it averages with the flip, and
    its detection threshold (`pooled_threshold`). With `gated` (`gating.gate_runs`): also the gate chosen on
    validation ('gate') and, per fold, every gate's threshold ('gate_thresholds') and whether the fold's segmenter
    scores with the flip ('segmenter_tta')."""
    names = {detector.model_name for detector in detectors}
    if len(names) != 1 or any(detector.task != "lesion" for detector in detectors):
        raise ValueError(f"detector_folds wants lesion classifiers of one architecture, got {sorted(names)}")
    folds = {d.split: {"state": half_state(d.model), "tta": bool(d.tta), "threshold": pooled_threshold(d, detectors)}
             for d in detectors}
    saved = {"model": names.pop(), "size": int(size), "folds": folds}
    if gated is None:
        return saved
    for gate in GATES:
        runs = {run.split: run for run in gated[gate]}
        if set(runs) != set(folds):
            raise ValueError(f"gate '{gate}' has runs on the splits {sorted(runs)}, the detectors on {sorted(folds)}")
        for split, run in runs.items():
            folds[split].setdefault("gate_thresholds", {})[gate] = float(run.detect_threshold)
            folds[split]["segmenter_tta"] = bool(run.tta)
    return saved | {"gate": choose_gate(gated)}


def pooled_threshold(detector: ClsRun, detectors: Sequence[ClsRun]) -> float:
    """`detector`'s threshold on P(lesion), pooled over the validation images of `detectors` as notebook 02's gate
    pools them (`segmentation.pooled_detection_threshold`)."""
    validations = [d.valid.assign(score=d.valid["prob_lesion"], has_lesion=d.valid["y"] == 1) for d in detectors]
    return pooled_detection_threshold(detector.test["image_id"], validations)


def load_detector_folds(path: Path) -> dict | None:
    """What `detector_folds` saved, its folds in order (test fold 0 first); None where there is no such file."""
    if not Path(path).is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if "size" not in saved:
        raise ValueError(f"{path}: saved without the detectors' input size (by a buslib before this one); run "
                         "notebook 02 again (python -m buslib study --only 02)")
    return saved | {"folds": {split: saved["folds"][split] for split in sorted(saved["folds"], key=len)}}
