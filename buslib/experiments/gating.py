"""Notebook 02's lesion / no-lesion decision: which score says whether an image holds a lesion at all (the segmenter's
own, a normal-vs-lesion classifier's, or their mean), chosen once for every fold on the validation images of all folds
pooled. Each fold's threshold is set on the validation normals of every fold run whose validation images are not that
fold's test images (about 106 normals in 5-fold cross-validation rather than one fold's 26, so that one normal image
that looks like a lesion no longer sets a fold's threshold). The outlines are never touched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..eval.classification import binary_metrics
from ..eval.segmentation import summarise_cases
from .classification import ClsRun
from .segmentation import SegRun, case_groups, choose_detection_threshold, out_of_fold, pooled_detection_threshold

__all__ = ["GATES", "detection_gate", "detector_scores", "pooled_validation_auc", "pooled_validation_detection",
           "pool_thresholds", "gate_runs", "choose_gate", "gate_comparison"]

# Whose score reports a lesion: the segmenter's (its highest lesion probability), the lesion classifier's P(lesion),
# or the mean of the two.
GATES = ("segmenter", "detector", "mean")


def detection_gate(run: SegRun, detector: ClsRun, frame: pd.DataFrame, gate: str = "detector",
                   seed: int = 0) -> SegRun:
    """`run` (ungated: its own score decides) with its lesion / no-lesion decision taken from `gate` (one of `GATES`):
    the segmenter's own score, the lesion classifier `detector`'s P(lesion) (trained on the same split), or the mean of
    the two. The threshold is chosen again on the validation normals; the delineation is untouched."""
    if gate not in GATES:
        raise ValueError(f"unknown detection gate '{gate}'; choose one of {GATES}")
    if detector.task != "lesion" or detector.split != run.split:
        raise ValueError(f"detector {detector.key} is not a lesion classifier on split '{run.split}'")
    if run.gate != "segmenter":
        raise ValueError(f"run {run.key} is already gated by '{run.gate}'")
    if gate == "segmenter":
        return run
    valid_score, test_score = (detector_scores(detector, part, ids) for part, ids in
                               (("valid", run.valid["image_id"]), ("test", run.cases["image_id"])))
    name = detector.model_name
    if gate == "mean":
        valid_score, test_score = (valid_score + run.valid["score"].to_numpy()) / 2, \
            (test_score + run.cases["score"].to_numpy()) / 2
        name = f"mean of segmenter and {detector.model_name}"
    threshold = choose_detection_threshold(valid_score, run.valid["has_lesion"].to_numpy(bool))
    scored = replace(run, cases=run.cases.assign(score=test_score), valid=run.valid.assign(score=valid_score),
                     gate=name)
    return _at_threshold(scored, threshold, frame, seed)


def _at_threshold(run: SegRun, threshold: float, frame: pd.DataFrame, seed: int = 0) -> SegRun:
    """`run` reporting a lesion where its score exceeds `threshold`, its summary scored again."""
    cases = run.cases.assign(detected=run.cases["score"].to_numpy() > threshold)
    return replace(run, cases=cases, summary=summarise_cases(cases, case_groups(frame, cases), seed),
                   detect_threshold=threshold)


def pool_thresholds(runs: Sequence[SegRun], frame: pd.DataFrame, seed: int = 0) -> list[SegRun]:
    """Each fold run at the threshold `pooled_detection_threshold` sets on the validation images of all `runs` (itself
    included); a run alone keeps its own validation fold's threshold."""
    validations = [run.valid for run in runs]
    return [_at_threshold(run, pooled_detection_threshold(run.cases["image_id"], validations), frame, seed)
            for run in runs]


def detector_scores(detector: ClsRun, part: str, image_ids: pd.Series) -> np.ndarray:
    """The lesion classifier's P(lesion) on its `part` ('valid' or 'test') images, in the order of `image_ids`."""
    return getattr(detector, part).set_index("image_id").loc[image_ids, "prob_lesion"].to_numpy()


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, NaN where one class is missing."""
    return binary_metrics(y, score)["auc"] if 0 < y.sum() < len(y) else float("nan")


def pooled_validation_auc(runs: Sequence[SegRun]) -> float:
    """How well the runs' detection score separates lesion from normal images over all their validation folds
    pooled (each BUSI image once in 5-fold cross-validation)."""
    valid = pd.concat([run.valid for run in runs], ignore_index=True)
    return _auc(valid["has_lesion"].to_numpy(int), valid["score"].to_numpy())


def pooled_validation_detection(runs: Sequence[SegRun]) -> float:
    """The share of the pooled validation lesion images that the runs' score reports at the operating point: the
    threshold `choose_detection_threshold` sets on all the pooled validation normals (NaN without lesion images)."""
    valid = pd.concat([run.valid for run in runs], ignore_index=True)
    score, lesion = valid["score"].to_numpy(), valid["has_lesion"].to_numpy(bool)
    if not lesion.any():
        return float("nan")
    return float((score[lesion] > choose_detection_threshold(score, lesion)).mean())


def gate_runs(runs: Sequence[SegRun], detectors: Sequence[ClsRun], frame: pd.DataFrame,
              seed: int = 0) -> dict[str, list[SegRun]]:
    """The fold runs under each of `GATES`, each fold at its pooled threshold (`pool_thresholds`), and under the
    one that finds the most lesions in the pooled validation images of all folds at the operating point
    ('chosen_on_validation'): one choice for every fold, made on about 130 validation normals rather than on each
    fold's 26. Test predictions decide nothing."""
    pairs = list(zip(runs, detectors, strict=True))
    gated = {gate: pool_thresholds([detection_gate(r, d, frame, gate, seed) for r, d in pairs], frame, seed)
             for gate in GATES}
    return gated | {"chosen_on_validation": gated[choose_gate(gated)]}


def choose_gate(gated: dict[str, Sequence[SegRun]]) -> str:
    """The gate of `GATES` that reports the largest share of the pooled validation lesion images at the operating
    point (`pooled_validation_detection`; the first of equals). The operating point, not the whole ROC curve
    (`pooled_validation_auc`), is what the report uses: a score can separate better on average and worse where only
    one new normal image in 20 may pass."""
    return max(GATES, key=lambda gate: pooled_validation_detection(gated[gate]))


def gate_comparison(gates: dict[str, Sequence[SegRun]], frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Out-of-fold lesion detection under each gate of `gate_runs`: whose score decides, its pooled validation AUC
    and validation share of lesions found at the operating point, the test shares reported, and the gated IoU."""
    rows = []
    for gate, gated in gates.items():
        pooled = out_of_fold(gated, frame, seed)
        rows.append({"gate": gate, "score": gated[0].gate, "valid_auc": pooled_validation_auc(gated),
                     "valid_detection_rate": pooled_validation_detection(gated),
                     **{k: pooled.get(k) for k in ("lesion_detection_rate", "empty_false_positive_rate", "iou_gated")}})
    return pd.DataFrame(rows).rename(columns={"empty_false_positive_rate": "normal_fp_rate"})
