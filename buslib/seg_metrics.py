"""Segmentation metrics: Li et al.'s pooled pixel metrics and per-image Dice / IoU.

Empty-mask rule (the paper leaves it unsaid): an image whose true mask is empty
(BUSI's normal class) scores Dice = IoU = 1 when the prediction is empty too and 0
otherwise. The study reports per-image means over lesion images, and the rate of
false-positive predictions on normal images, separately.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


def confusion_counts(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """[tp, fp, fn, tn] pixel counts of two boolean masks of the same shape."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and mask {true.shape} differ in shape")
    tp = int(np.count_nonzero(pred & true))
    fp = int(np.count_nonzero(pred & ~true))
    fn = int(np.count_nonzero(~pred & true))
    return np.array([tp, fp, fn, true.size - tp - fp - fn], dtype=np.int64)


def pixel_metrics(counts: Iterable[np.ndarray]) -> dict[str, float]:
    """Accuracy, recall, precision, F1 and IoU over all pixels of all images pooled (Li et al. Table 1)."""
    tp, fp, fn, tn = np.sum(list(counts), axis=0).astype(float)
    safe = lambda num, den: float(num / den) if den else 0.0  # noqa: E731
    return {
        "accuracy": safe(tp + tn, tp + fp + fn + tn),
        "recall": safe(tp, tp + fn),
        "precision": safe(tp, tp + fp),
        "f1": safe(2 * tp, 2 * tp + fp + fn),
        "iou": safe(tp, tp + fp + fn),
    }


def dice_iou(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """Per-image Dice and IoU, with the module's empty-mask rule."""
    tp, fp, fn, _ = confusion_counts(pred, true)
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return float(2 * tp / (2 * tp + fp + fn)), float(tp / (tp + fp + fn))
