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

from ..artefacts import artefact_path, require_artefact
from ..eval.classification import binary_metrics, bootstrap_binary_metrics
from ..eval.segmentation import score_cases, summarise_cases
from ..eval.stats import format_ci
from ..infer import masks_at_original_size, predict_proba, predict_seg_logits
from ..models.registry import get_spec, load_classifier
from .classification import run_key
from .crossval import JOIN
from .lesion_crops import is_crop_split
from .member_predictions import MemberPredictions
from .segmenters import TwoStageEnsemble, load_segmenter, load_segmenter_ensemble, load_two_stage_ensemble

__all__ = ["FrozenClassifier", "FoldEnsemble", "fold_ensembles", "fold_ensembles_by_name", "named_average",
           "ensemble_vs_folds",
           "disagreement_review", "REVIEW_SHARE", "disagreement_level", "load_frozen_classifiers", "evaluate_external",
           "run_keys", "internal_auc", "rank_by_internal_auc", "internal_vs_external", "errors_by_diagnosis",
           "load_segmenter", "load_segmenter_ensemble", "load_two_stage_ensemble",
           "evaluate_segmenters"]


@dataclass(frozen=True)
class FrozenClassifier:
    """A BUSI-trained binary classifier with the thresholds (Youden's and triage) chosen on BUSI validation
    data and its test-time flip choice."""

    key: str
    model_name: str
    split: str
    init: str
    threshold: float
    model: nn.Module
    triage_threshold: float = float("nan")
    tta: bool = False

    @property
    def stats(self) -> tuple:
        return get_spec(self.model_name).stats

    def predict(self, images: np.ndarray) -> np.ndarray:
        """P(malignant) per uint8 image at the training resolution."""
        return predict_proba(self.model, images, self.stats, tta=self.tta)[:, 1]


@dataclass(frozen=True)
class FoldEnsemble:
    """The cross-validation fold models of one classifier, averaged; thresholds are the median of the
    members' BUSI-validation thresholds."""

    key: str
    model_name: str
    init: str
    members: tuple[FrozenClassifier, ...]
    split: str = "ensemble"

    @property
    def threshold(self) -> float:
        return float(np.median([m.threshold for m in self.members]))

    @property
    def triage_threshold(self) -> float:
        return float(np.median([m.triage_threshold for m in self.members]))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.stack([m.predict(images) for m in self.members]).mean(0)


def fold_ensembles(classifiers: Sequence[FrozenClassifier]) -> list[FoldEnsemble]:
    """One ensemble per model and initialisation trained on every grouped fold ('grouped', 'grouped_f<k>')."""
    by_model: dict[tuple[str, str], list[FrozenClassifier]] = {}
    for clf in classifiers:
        if clf.split.startswith("grouped"):
            by_model.setdefault((clf.model_name, clf.init), []).append(clf)
    return [FoldEnsemble(run_key(name, "binary", "ensemble", init), name, init, tuple(members))
            for (name, init), members in by_model.items() if len(members) > 1]


def fold_ensembles_by_name(ensembles: Sequence[FoldEnsemble], parts: Sequence[str]) -> list[FoldEnsemble]:
    """The single-architecture fold ensembles named `parts` (notebook 03's model names), in that order."""
    by_name: dict[str, FoldEnsemble] = {}
    for ensemble in ensembles:
        if JOIN not in ensemble.model_name:
            if ensemble.model_name in by_name:
                raise ValueError(f"two fold ensembles named '{ensemble.model_name}' (initialisations "
                                 f"{by_name[ensemble.model_name].init} and {ensemble.init}): an average cannot tell "
                                 "them apart")
            by_name[ensemble.model_name] = ensemble
    missing = [part for part in parts if part not in by_name]
    if missing:
        raise ValueError(f"no fold ensemble of {missing}; have {sorted(by_name)}")
    return [by_name[part] for part in parts]


def named_average(name: str, init: str, ensembles: Sequence[FoldEnsemble]) -> FoldEnsemble:
    """Notebook 03's averaged out-of-fold row `name` (model names joined with `JOIN`, its `init` label as there) as
    one ensemble of every fold model of those architectures, whatever each one's initialisation."""
    parts = fold_ensembles_by_name(ensembles, name.split(JOIN))
    return FoldEnsemble(run_key(name, "binary", "ensemble", init), name, init,
                        tuple(m for part in parts for m in part.members))


def load_frozen_classifiers(report_dir: Path, size: int, task: str = "binary",
                            splits: Sequence[str] | None = None) -> list[FrozenClassifier]:
    """Every whole-image classifier notebook 03 saved for `task` (optionally only some splits), weights and
    thresholds; the predicted-lesion crop classifiers (they need cropped inputs) only when their splits are asked
    for."""
    table_path = require_artefact(report_dir, "cls_models")
    table = pd.read_csv(table_path)
    chosen = table["split"].isin(splits) if splits else ~table["split"].map(is_crop_split)
    table = table[(table["task"] == task) & chosen]
    frozen = []
    for row in table.itertuples(index=False):
        weights = artefact_path(report_dir, "cls_checkpoints") / row.checkpoint
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: listed in {table_path.name} but missing; rerun notebook 03")
        model = load_classifier(row.model, 2, size, torch.load(weights, map_location="cpu", weights_only=True))
        triage, tta = float(getattr(row, "triage_threshold", "nan")), bool(getattr(row, "tta", False))
        frozen.append(FrozenClassifier(row.key, row.model, row.split, row.init, float(row.threshold), model,
                                       triage, tta))
    return frozen


def evaluate_external(classifiers: Sequence[FrozenClassifier | FoldEnsemble], predictions: MemberPredictions,
                      labels: np.ndarray, groups: Sequence | None = None, seed: int = 0,
                      n_resamples: int = 1000) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Metrics with 95% bootstrap CIs of every frozen classifier at its BUSI threshold; and P(malignant)
    per image for each (by key). `predictions` holds the images and runs each single model once."""
    rows, probabilities = [], {}
    for clf in classifiers:
        prob = predictions(clf)
        probabilities[clf.key] = prob
        metrics = binary_metrics(labels, prob, clf.threshold)
        triaged = binary_metrics(labels, prob, clf.triage_threshold)
        metrics |= {"triage_recall": triaged["recall"], "triage_specificity": triaged["specificity"]}
        ci = bootstrap_binary_metrics(labels, prob, clf.threshold, groups, n_resamples, seed=seed)
        rows.append({"key": clf.key, "model": clf.model_name, "init": clf.init, "split": clf.split,
                     "threshold": clf.threshold, **metrics,
                     "auc_95ci": format_ci(ci.loc["auc", "low"], ci.loc["auc", "high"]),
                     "accuracy_95ci": format_ci(ci.loc["accuracy", "low"], ci.loc["accuracy", "high"])})
    return pd.DataFrame(rows), probabilities


def ensemble_vs_folds(ensembles: Sequence[FoldEnsemble], predictions: MemberPredictions,
                      labels: np.ndarray) -> pd.DataFrame:
    """Dataset B AUC and accuracy of each ensemble beside each of its fold models alone."""
    rows = []
    for ensemble in ensembles:
        members = predictions.members(ensemble)
        for member, prob in zip(ensemble.members, members):
            which = member.split if member.model_name == ensemble.model_name else f"{member.model_name} {member.split}"
            rows.append({"model": ensemble.model_name, "init": ensemble.init, "which": which,
                         **_auc_accuracy(labels, prob, member.threshold)})
        rows.append({"model": ensemble.model_name, "init": ensemble.init, "which": "ensemble of the folds",
                     **_auc_accuracy(labels, members.mean(0), ensemble.threshold)})
    return pd.DataFrame(rows)


REVIEW_SHARE = 0.10  # share of BUSI lesion images whose member disagreement sets the review level


def disagreement_level(member_probabilities: np.ndarray, share: float = REVIEW_SHARE) -> float:
    """The SD of the members' P(malignant) (members x images) that the top `share` of the images exceed."""
    return float(np.quantile(member_probabilities.std(0), 1 - share))


def disagreement_review(ensemble: FoldEnsemble, busi: MemberPredictions, external: MemberPredictions,
                        labels: np.ndarray, share: float = REVIEW_SHARE) -> tuple[pd.DataFrame, float]:
    """Flag "uncertain, review" where the fold models disagree: member SD of P(malignant) above the level
    that the top `share` of BUSI images reach (chosen on BUSI, never on Dataset B; most BUSI images were
    training images of most members, so it is a low bar). Returns, for flagged and unflagged Dataset B
    images, how many there are and how often the ensemble's call is wrong; and the SD level. `busi` and `external`
    hold the BUSI lesion images and Dataset B's."""
    level = disagreement_level(busi.members(ensemble), share)
    members = external.members(ensemble)
    flagged = members.std(0) > level
    wrong = (members.mean(0) >= ensemble.threshold).astype(int) != labels
    rows = [{"images": name, "count": int(part.sum()), "share": float(part.mean()),
             "error_rate": float(wrong[part].mean()) if part.any() else float("nan")}
            for name, part in ((f"flagged: member SD > {level:.3f}", flagged),
                               (f"not flagged: member SD <= {level:.3f}", ~flagged))]
    return pd.DataFrame(rows), level


def _auc_accuracy(labels: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    metrics = binary_metrics(labels, prob, threshold)
    return {"auc": metrics["auc"], "accuracy": metrics["accuracy"], "recall": metrics["recall"],
            "specificity": metrics["specificity"], "threshold": threshold}


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


def evaluate_segmenters(segmenters: dict[str, nn.Module | TwoStageEnsemble | None], images: np.ndarray,
                        full_images: Sequence[np.ndarray], full_masks: Sequence[np.ndarray], frame: pd.DataFrame,
                        seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict]:
    """Segmentation metrics of each available segmenter, scored at the original size (`full_masks`): a U2-Net on the
    resized `images`, a `TwoStageEnsemble` on `full_images` (its second stage crops them). Absent segmenters get a
    row saying so. Also returns per-image cases and predicted masks."""
    rows, cases, predicted = [], {}, {}
    for name, model in segmenters.items():
        if model is None:
            rows.append({"model": name, "status": "not run: its weights were not saved (run notebook 02)"})
            continue
        if isinstance(model, TwoStageEnsemble):
            predictions = model.masks(full_images)
        else:
            predictions = masks_at_original_size(predict_seg_logits(model, images), [m.shape for m in full_masks])
        predicted[name] = predictions
        cases[name] = score_cases(frame["image_id"].to_numpy(), predictions, full_masks).assign(
            label=frame["label"].to_numpy(), diagnosis=frame["diagnosis"].to_numpy())
        groups = frame["group"].to_numpy() if "group" in frame else None
        rows.append({"model": name, "status": "run", **summarise_cases(cases[name], groups, seed)})
    return pd.DataFrame(rows), cases, predicted

