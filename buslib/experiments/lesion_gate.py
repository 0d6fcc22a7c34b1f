"""Notebook 02's lesion / no-lesion gate, run on new images: the score notebook 02 chose on BUSI validation data (the
fold U2NET-Lites' highest lesion probability, the fold lesion classifiers' P(lesion), or the mean of the two;
`gating.GATES`), each fold model at its fold's threshold, and the folds together as one ensemble (the mean of their
scores at the median of their thresholds). Notebook 04 measures it on Dataset B and `predict` flags with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from ..artefacts import artefact_path
from ..data.cache import resize_image
from ..data.normalise import IMAGENET_STATS, Stats
from ..infer import predict_proba, predict_seg_logits
from ..models.bundle import ModelBundle
from ..models.registry import get_spec, load_classifier
from .detectors import load_detector_folds
from .gating import GATES
from .segmentation import lesion_scores
from .segmenters import load_fold_segmenters, u2netp_from_state

__all__ = ["GATE_SCORES", "LesionGate", "saved_gates", "load_lesion_gate", "external_detection",
           "gates_in", "fold_thresholds", "gate_from_bundle"]

GATE_SCORES = {"segmenter": "the fold U2NET-Lites' highest P(lesion) in the image",
               "detector": "the fold lesion classifiers' P(lesion)",
               "mean": "the mean of the fold U2NET-Lites' highest P(lesion) and the fold lesion classifiers' P(lesion)"}


@dataclass(frozen=True)
class LesionGate:
    """One gate's fold members: U2NET-Lites (`segmenters`, scored with or without the flip) and/or lesion classifiers
    (`detectors`), whichever `gate` needs, and each fold's threshold on its score (a lesion is reported above it)."""

    gate: str
    thresholds: tuple[float, ...]
    segmenters: tuple[nn.Module, ...] = ()
    segmenter_tta: tuple[bool, ...] = ()
    segmenter_size: int = 0
    detectors: tuple[nn.Module, ...] = ()
    detector_tta: tuple[bool, ...] = ()
    detector_size: int = 0
    detector_stats: Stats = IMAGENET_STATS

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ValueError(f"unknown lesion gate '{self.gate}'; choose one of {GATES}")
        needs = {"segmenter": ("segmenters",), "detector": ("detectors",), "mean": ("segmenters", "detectors")}
        for name in needs[self.gate]:
            models, flips = getattr(self, name), getattr(self, f"{name[:-1]}_tta")
            if len(models) != len(self.thresholds) or len(flips) != len(models):
                raise ValueError(f"gate '{self.gate}' needs one of its {name} and one flip choice per threshold: got "
                                 f"{len(models)} {name}, {len(flips)} flip choices, {len(self.thresholds)} thresholds")

    @property
    def members(self) -> int:
        return len(self.thresholds)

    @property
    def threshold(self) -> float:
        """The ensemble's threshold: the median of the folds'."""
        return float(np.median(self.thresholds))

    def member_scores(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Each fold member's score (members x images) for grey images of any size, each resized to the input size
        its model was trained at."""
        scores = []
        if self.gate in ("segmenter", "mean"):
            small = np.stack([resize_image(image, self.segmenter_size) for image in images])
            scores.append(np.stack([lesion_scores(predict_seg_logits(model, small, tta=flip, progress=False))
                                    for model, flip in zip(self.segmenters, self.segmenter_tta)]))
        if self.gate in ("detector", "mean"):
            small = np.stack([resize_image(image, self.detector_size) for image in images])
            scores.append(np.stack([predict_proba(model, small, self.detector_stats, tta=flip)[:, 1]
                                    for model, flip in zip(self.detectors, self.detector_tta)]))
        return np.mean(scores, axis=0)

    def member_reports(self, scores: np.ndarray) -> np.ndarray:
        """Whether each fold member reports a lesion (members x images), from `member_scores`."""
        return scores > np.asarray(self.thresholds)[:, None]

    def ensemble_reports(self, scores: np.ndarray) -> np.ndarray:
        """Whether the ensemble reports a lesion per image: the members' mean score above the median threshold."""
        return scores.mean(0) > self.threshold


def saved_gates(report_dir: Path) -> tuple[tuple[str, ...], str | None]:
    """The gates a report's notebook 02 saved thresholds for and the one it chose (`_gates`); none without detectors."""
    saved = load_detector_folds(artefact_path(report_dir, "lesion_detectors"))
    return ((), None) if saved is None else gates_in(saved)


def gates_in(saved: dict) -> tuple[tuple[str, ...], str | None]:
    """Every gate of `GATES` and the one chosen where the detectors were saved with the gate, else only 'detector'
    and no choice (a report from before the gate was saved)."""
    return (GATES, saved["gate"]) if "gate" in saved else (("detector",), None)


def fold_thresholds(saved: dict, gate: str) -> list[float]:
    """Each saved fold's threshold on `gate`'s score (`detectors.detector_folds`), test fold 0 first."""
    return [float(fold["threshold"] if gate == "detector" else fold["gate_thresholds"][gate])
            for fold in saved["folds"].values()]


def load_lesion_gate(report_dir: Path, segmenter_size: int, gate: str | None = None) -> LesionGate | None:
    """Notebook 02's fold models (U2NET-Lites of `segmenter_size` px inputs) as gate `gate` (default: the gate it
    chose on validation, or the lesion classifiers alone where the report predates that choice being saved); None
    where notebook 02 saved no detectors."""
    saved = load_detector_folds(artefact_path(report_dir, "lesion_detectors"))
    return None if saved is None else _lesion_gate(report_dir, saved, segmenter_size, gate)


def _lesion_gate(report_dir: Path, saved: dict, segmenter_size: int, gate: str | None) -> LesionGate:
    """`load_lesion_gate` on the detectors file already read (`saved`)."""
    gates, chosen = gates_in(saved)
    gate = gate or chosen or "detector"
    if gate not in gates:
        raise ValueError(f"{artefact_path(report_dir, 'lesion_detectors')}: no thresholds for the '{gate}' gate (it "
                         f"has {', '.join(gates)}); run notebook 02 again (python -m buslib study --only 02)")
    folds = saved["folds"]
    parts: dict = {}
    if gate in ("segmenter", "mean"):
        segmenters = load_fold_segmenters(report_dir) or {}
        missing = sorted(set(folds) - set(segmenters))
        if missing:
            raise ValueError(f"{report_dir}: no U2NET-Lite saved for the folds {missing}; run notebook 02 again")
        parts |= {"segmenters": tuple(segmenters[split] for split in folds),
                  "segmenter_tta": tuple(bool(f["segmenter_tta"]) for f in folds.values()),
                  "segmenter_size": int(segmenter_size)}
    if gate in ("detector", "mean"):
        parts |= {"detectors": tuple(load_classifier(saved["model"], 2, saved["size"], f["state"])
                                     for f in folds.values()),
                  "detector_tta": tuple(bool(f["tta"]) for f in folds.values()),
                  "detector_size": int(saved["size"]), "detector_stats": get_spec(saved["model"]).stats}
    return LesionGate(gate, tuple(fold_thresholds(saved, gate)), **parts)


def external_detection(report_dir: Path, images: Sequence[np.ndarray], malignant: np.ndarray,
                       segmenter_size: int) -> pd.DataFrame | None:
    """Notebook 02's gates on external images that all hold a lesion (grey, any size): for every gate the report
    saved thresholds for (`gates_in`), each fold model at its BUSI threshold and the folds' ensemble (what `predict`
    runs). Per row: the share of images reported to hold a lesion, overall and among malignant and benign ones, the
    mean score, and whether notebook 02 chose that gate. None where notebook 02 saved no detectors."""
    saved = load_detector_folds(artefact_path(report_dir, "lesion_detectors"))
    if saved is None:
        return None
    gates, chosen = gates_in(saved)
    splits = list(saved["folds"])
    malignant = np.asarray(malignant, bool)
    rows = []
    for gate in gates:
        lesion_gate = _lesion_gate(report_dir, saved, segmenter_size, gate)
        scores = lesion_gate.member_scores(images)
        reports = [*lesion_gate.member_reports(scores), lesion_gate.ensemble_reports(scores)]
        for which, threshold, score, reported in zip([*splits, "ensemble of the folds"],
                                                     [*lesion_gate.thresholds, lesion_gate.threshold],
                                                     [*scores, scores.mean(0)], reports):
            rows.append({"gate": gate, "score": GATE_SCORES[gate], "chosen_in_02": gate == chosen, "which": which,
                         "threshold": threshold, "images": len(score), "lesion_detection_rate": reported.mean(),
                         "detection_rate_malignant": reported[malignant].mean(),
                         "detection_rate_benign": reported[~malignant].mean(), "mean_score": score.mean()})
    return pd.DataFrame(rows)


def gate_from_bundle(bundle: ModelBundle) -> LesionGate:
    """The lesion gate a detector bundle carries. A bundle from before the gate was bundled (format 2 or 3) holds the
    lesion classifiers alone and only their median threshold, which every member is given (the ensemble's verdict,
    all that `predict` uses, is the same)."""
    thresholds = tuple(bundle.gate_thresholds) or (bundle.threshold,) * bundle.members
    parts: dict = {}
    if bundle.gate in ("segmenter", "mean"):
        parts |= {"segmenters": tuple(u2netp_from_state(state) for state in bundle.gate_states),
                  "segmenter_tta": tuple(bundle.gate_tta), "segmenter_size": bundle.gate_size}
    if bundle.gate in ("detector", "mean"):
        parts |= {"detectors": tuple(bundle.build_members()),
                  "detector_tta": tuple(bundle.flip(k) for k in range(bundle.members)),
                  "detector_size": bundle.size, "detector_stats": bundle.stats}
    return LesionGate(bundle.gate, thresholds, **parts)
