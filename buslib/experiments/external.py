"""Notebook 04: external testing on UDIAT Dataset B with everything frozen on BUSI.

Nothing here can be tuned on Dataset B: classifiers come back from notebook 03 with the
threshold that BUSI validation data chose (`FrozenClassifier` is immutable and
`evaluate_external` takes no threshold), and segmenters with their BUSI weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..artefacts import ARTEFACTS, artefact_path, require_artefact
from ..eval.classification import binary_metrics, bootstrap_binary_metrics
from ..eval.segmentation import score_cases, summarise_cases
from ..eval.stats import format_ci
from ..infer import masks_at_original_size, predict_proba, predict_seg_logits
from ..models.registry import create_classifier, get_spec
from ..models.u2net import U2Net
from .classification import run_key

__all__ = ["FrozenClassifier", "load_frozen_classifiers", "evaluate_external", "run_keys", "internal_auc",
           "rank_by_internal_auc", "internal_vs_external", "errors_by_diagnosis", "load_segmenter",
           "evaluate_segmenters"]


@dataclass(frozen=True)
class FrozenClassifier:
    """A BUSI-trained binary classifier with the threshold chosen on BUSI validation data."""

    key: str
    model_name: str
    split: str
    init: str
    threshold: float
    model: nn.Module

    @property
    def stats(self) -> tuple:
        return get_spec(self.model_name).stats


def load_frozen_classifiers(report_dir: Path, size: int, task: str = "binary",
                            splits: Sequence[str] | None = None) -> list[FrozenClassifier]:
    """Every classifier notebook 03 saved for `task` (optionally only some splits), weights and thresholds."""
    table_path = require_artefact(report_dir, "cls_models")
    table = pd.read_csv(table_path)
    table = table[(table["task"] == task) & (table["split"].isin(splits) if splits else True)]
    frozen = []
    for row in table.itertuples(index=False):
        weights = artefact_path(report_dir, "cls_checkpoints") / row.checkpoint
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: listed in {table_path.name} but missing; rerun notebook 03")
        model = create_classifier(row.model, 2, size, pretrained=weights).eval()
        frozen.append(FrozenClassifier(row.key, row.model, row.split, row.init, float(row.threshold), model))
    return frozen


def evaluate_external(classifiers: Sequence[FrozenClassifier], images: np.ndarray, labels: np.ndarray,
                      groups: Sequence | None = None, seed: int = 0,
                      n_resamples: int = 1000) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Metrics with 95% bootstrap CIs of every frozen classifier at its BUSI threshold; and P(malignant)
    per image for each (by key)."""
    rows, probabilities = [], {}
    for clf in classifiers:
        prob = predict_proba(clf.model, images, clf.stats)[:, 1]
        probabilities[clf.key] = prob
        metrics = binary_metrics(labels, prob, clf.threshold)
        ci = bootstrap_binary_metrics(labels, prob, clf.threshold, groups, n_resamples, seed=seed)
        rows.append({"key": clf.key, "model": clf.model_name, "init": clf.init, "split": clf.split,
                     "threshold": clf.threshold, **metrics,
                     "auc_95ci": format_ci(ci.loc["auc", "low"], ci.loc["auc", "high"]),
                     "accuracy_95ci": format_ci(ci.loc["accuracy", "low"], ci.loc["accuracy", "high"])})
    return pd.DataFrame(rows), probabilities


def run_keys(results: pd.DataFrame, task: str = "binary") -> pd.Series:
    """The `ClsRun.key` of each row of notebook 03's results table."""
    return pd.Series([run_key(r.model, task, r.split, r.init) for r in results.itertuples()], index=results.index)


def internal_auc(internal: pd.DataFrame) -> dict[str, float]:
    """Run key -> BUSI test-fold AUC, from notebook 03's results table: how models are ranked, never by Dataset B."""
    return dict(zip(run_keys(internal), internal["auc"]))


def rank_by_internal_auc(classifiers: Sequence[FrozenClassifier], internal: pd.DataFrame) -> list[FrozenClassifier]:
    """Classifiers ordered by their BUSI test-fold AUC from notebook 03 (best first)."""
    auc = internal_auc(internal)
    return sorted(classifiers, key=lambda c: -auc.get(c.key, float("-inf")))


def internal_vs_external(internal: pd.DataFrame, external: pd.DataFrame,
                         metrics: Sequence[str] = ("accuracy", "recall", "specificity", "auc")) -> pd.DataFrame:
    """Per classifier: BUSI test (internal) and Dataset B (external) metrics and the drop between them."""
    internal = internal.assign(key=run_keys(internal))
    merged = internal[["key", *metrics]].merge(external[["key", "model", "init", "split", *metrics]], on="key",
                                               suffixes=("_busi", "_datasetb"))
    for metric in metrics:
        merged[f"{metric}_drop"] = merged[f"{metric}_busi"] - merged[f"{metric}_datasetb"]
    return merged[["model", "init", "split", *[f"{m}_{s}" for m in metrics for s in ("busi", "datasetb", "drop")]]]


def errors_by_diagnosis(frame: pd.DataFrame, labels: np.ndarray, probabilities: dict[str, np.ndarray],
                        thresholds: dict[str, float]) -> pd.DataFrame:
    """Error rate per diagnosis (rows) and classifier (columns), with the number of images per diagnosis."""
    table = pd.DataFrame({"diagnosis": frame["diagnosis"].to_numpy(), "label": frame["label"].to_numpy()})
    for key, prob in probabilities.items():
        table[key] = ((prob >= thresholds[key]).astype(int) != labels).astype(float)
    summary = table.groupby(["label", "diagnosis"]).agg(images=("diagnosis", "size"),
                                                       **{k: (k, "mean") for k in probabilities})
    return summary.reset_index().sort_values(["label", "images"], ascending=[True, False])


def load_segmenter(report_dir: Path, variant: str) -> U2Net | None:
    """The U2-Net `variant` notebook 02 trained on BUSI's grouped split, or None when its weights are absent."""
    path = artefact_path(report_dir, f"{variant}_weights")
    if not path.is_file():
        return None
    model = U2Net(variant)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def evaluate_segmenters(segmenters: dict[str, nn.Module | None], images: np.ndarray, full_masks: Sequence[np.ndarray],
                        frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict]:
    """Segmentation metrics of each available segmenter on resized `images`, scored at the original size
    (`full_masks`); absent segmenters get a row saying so. Also returns per-image cases and predicted masks."""
    rows, cases, predicted = [], {}, {}
    for name, model in segmenters.items():
        if model is None:
            rows.append({"model": name, "status": f"not run: no {ARTEFACTS[name + '_weights'].path} (run notebook 02)"})
            continue
        predictions = masks_at_original_size(predict_seg_logits(model, images), [m.shape for m in full_masks])
        predicted[name] = predictions
        cases[name] = score_cases(frame["image_id"].to_numpy(), predictions, full_masks).assign(
            label=frame["label"].to_numpy(), diagnosis=frame["diagnosis"].to_numpy())
        groups = frame["group"].to_numpy() if "group" in frame else None
        rows.append({"model": name, "status": "run", **summarise_cases(cases[name], groups, seed)})
    return pd.DataFrame(rows), cases, predicted
