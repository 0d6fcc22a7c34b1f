"""Classification metrics: thresholded binary metrics, ROC AUC, calibration, group-bootstrap CIs, 3-class results.

Binary convention: class 1 is malignant (the positive class); `prob` is P(malignant).
The decision threshold is chosen on validation data (`choose_threshold`) and then frozen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from .stats import group_resamples, safe_ratio

__all__ = ["BINARY_METRICS", "choose_threshold", "sensitivity_threshold", "expected_calibration_error",
           "reliability_curve", "binary_metrics", "bootstrap_binary_metrics", "roc_points", "multiclass_metrics",
           "confusion_table"]

BINARY_METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "auc", "brier", "ece")


def _check(y: Sequence[int], prob: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y, prob = np.asarray(y, int), np.asarray(prob, float)
    if y.shape != prob.shape:
        raise ValueError(f"{y.size} labels but {prob.size} probabilities")
    if y.size == 0:
        raise ValueError("no predictions to score")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError(f"binary labels must be 0 or 1, got {sorted(set(np.unique(y)))}")
    return y, prob


def choose_threshold(y: Sequence[int], prob: Sequence[float]) -> float:
    """The probability threshold maximising Youden's J (sensitivity + specificity - 1); 0.5 if one class."""
    y, prob = _check(y, prob)
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thresholds = roc_curve(y, prob)
    return float(np.clip(thresholds[int(np.argmax(tpr - fpr))], 0.0, 1.0))


def sensitivity_threshold(y: Sequence[int], prob: Sequence[float], sensitivity: float = 0.90) -> float:
    """The highest threshold at which `prob >= threshold` keeps at least `sensitivity` of the positives
    (a triage operating point: a tool that must not miss cancers); 0.5 if there is no positive."""
    y, prob = _check(y, prob)
    positives = np.sort(prob[y == 1])
    if not positives.size:
        return 0.5
    return float(positives[int(np.floor((1 - sensitivity) * positives.size + 1e-9))])


def expected_calibration_error(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> float:
    """ECE of P(malignant): bin-size-weighted |observed rate - mean predicted| over equal-width bins."""
    curve = reliability_curve(y, prob, bins)
    return float((curve["count"] * (curve["observed"] - curve["predicted"]).abs()).sum() / curve["count"].sum())


def reliability_curve(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> pd.DataFrame:
    """Per non-empty equal-width bin: mean predicted probability, observed malignant rate, count."""
    y, prob = _check(y, prob)
    index = np.minimum((prob * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": index, "y": y, "p": prob}).groupby("bin")
    return pd.DataFrame({"predicted": frame["p"].mean(), "observed": frame["y"].mean(),
                         "count": frame.size()}).reset_index()


def binary_metrics(y: Sequence[int], prob: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall (sensitivity), specificity, F1 at `threshold`; AUC, Brier and ECE.

    A ratio with an empty denominator is 0; AUC is NaN when only one class is present.
    """
    y, prob = _check(y, prob)
    pred = (prob >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "accuracy": safe_ratio(tp + tn, y.size), "precision": safe_ratio(tp, tp + fp),
        "recall": safe_ratio(tp, tp + fn), "specificity": safe_ratio(tn, tn + fp),
        "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
        "auc": float(roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else float("nan"),
        "brier": float(np.mean((prob - y) ** 2)), "ece": expected_calibration_error(y, prob),
    }


def bootstrap_binary_metrics(y: Sequence[int], prob: Sequence[float], threshold: float, groups: Sequence | None = None,
                             n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Percentile CIs of every binary metric, resampling near-duplicate groups (or images) with replacement."""
    y, prob = _check(y, prob)
    samples = pd.DataFrame([binary_metrics(y[rows], prob[rows], threshold)
                            for rows in group_resamples(y.size, groups, n_resamples, seed)])
    tail = (1 - level) / 2
    return pd.DataFrame({"low": samples.quantile(tail), "high": samples.quantile(1 - tail)})


def roc_points(y: Sequence[int], prob: Sequence[float]) -> pd.DataFrame:
    """False- and true-positive rates of the ROC curve."""
    y, prob = _check(y, prob)
    fpr, tpr, _ = roc_curve(y, prob)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def multiclass_metrics(y: Sequence[int], probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro F1 and per-class accuracy (recall of each class, as Li et al. report) from argmax."""
    y, probs = np.asarray(y, int), np.asarray(probs, float)
    if probs.ndim != 2 or probs.shape != (y.size, len(classes)):
        raise ValueError(f"probabilities of shape {probs.shape} do not fit {y.size} labels x {len(classes)} classes")
    matrix = confusion_matrix(y, probs.argmax(1), labels=range(len(classes)))
    recall = np.divide(matrix.diagonal(), matrix.sum(1), out=np.zeros(len(classes)), where=matrix.sum(1) > 0)
    precision = np.divide(matrix.diagonal(), matrix.sum(0), out=np.zeros(len(classes)), where=matrix.sum(0) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(classes)),
                   where=(precision + recall) > 0)
    return {"accuracy": float(matrix.diagonal().sum() / matrix.sum()), "macro_f1": float(f1.mean()),
            **{f"accuracy_{name}": float(r) for name, r in zip(classes, recall)}}


def confusion_table(y: Sequence[int], pred: Sequence[int], classes: Sequence[str]) -> pd.DataFrame:
    """Confusion matrix with true classes as rows and predicted classes as columns."""
    matrix = confusion_matrix(np.asarray(y, int), np.asarray(pred, int), labels=range(len(classes)))
    return pd.DataFrame(matrix, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))
