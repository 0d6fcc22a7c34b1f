"""Segmentation metrics: Li et al.'s pooled pixel metrics and per-image Dice / IoU.

Empty-mask rule (the paper leaves it unsaid): an image whose true mask is empty
(BUSI's normal class) scores Dice = IoU = 1 when the prediction is empty too and 0
otherwise. `summarise_cases` reports pooled pixel metrics and per-image means over
lesion images only, and the rate of false-positive predictions on empty-mask images
separately, so normal images neither inflate nor deflate the lesion scores.

Detection and delineation are scored apart: an image counts as "lesion found" when its
`detected` flag is set (by default: any predicted lesion pixel), and `iou_gated` is the pooled
IoU when the masks of lesion images judged lesion-free count as empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .stats import format_ci, group_bootstrap_ci, safe_ratio

__all__ = ["confusion_counts", "pixel_metrics", "dice_iou", "score_cases", "summarise_cases", "headline_columns"]


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
    return {
        "accuracy": safe_ratio(tp + tn, tp + fp + fn + tn),
        "recall": safe_ratio(tp, tp + fn),
        "precision": safe_ratio(tp, tp + fp),
        "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
        "iou": safe_ratio(tp, tp + fp + fn),
    }


def dice_iou(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """Per-image Dice and IoU, with the module's empty-mask rule."""
    tp, fp, fn, _ = confusion_counts(pred, true)
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return float(2 * tp / (2 * tp + fp + fn)), float(tp / (tp + fp + fn))


def score_cases(image_ids: Sequence[str], preds: Sequence[np.ndarray], trues: Sequence[np.ndarray],
                detected: Sequence[bool] | None = None) -> pd.DataFrame:
    """One row per image: pixel counts, Dice, IoU, whether the true and predicted masks are empty, and
    whether a lesion was reported (`detected`; default: any predicted lesion pixel)."""
    if not len(image_ids) == len(preds) == len(trues):
        raise ValueError(f"{len(image_ids)} ids, {len(preds)} predictions and {len(trues)} masks")
    if detected is not None and len(detected) != len(image_ids):
        raise ValueError(f"{len(image_ids)} images but {len(detected)} detection flags")
    rows = []
    for image_id, pred, true in zip(image_ids, preds, trues):
        tp, fp, fn, tn = confusion_counts(pred, true)
        dice, iou = dice_iou(pred, true)
        rows.append({"image_id": image_id, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "dice": dice, "iou": iou,
                     "true_empty": tp + fn == 0, "pred_empty": tp + fp == 0})
    cases = pd.DataFrame(rows)
    cases["detected"] = ~cases["pred_empty"] if detected is None else np.asarray(detected, bool)
    return cases


def summarise_cases(cases: pd.DataFrame, groups: Sequence | None = None, seed: int = 0) -> dict[str, float]:
    """The paper's pooled pixel metrics and mean per-image Dice / IoU over lesion images, with group-bootstrap 95%
    intervals: `iou_ci_low`/`iou_ci_high` for the pooled IoU, `dice_mean_ci_*` and `iou_mean_ci_*` for the means.

    Images with an empty true mask are left out of both and summarised separately as the
    share of them reported as having a lesion (`empty_false_positive_rate`); image-level detection of the
    lesion images is the share of them reported as having one (`lesion_detection_rate`); `iou_gated` is
    the pooled IoU with the lesion images reported lesion-free scored as empty predictions.
    """
    groups = np.asarray(groups) if groups is not None else np.arange(len(cases))
    lesion = ~cases["true_empty"].to_numpy(bool)
    if not lesion.any():
        raise ValueError("no image with a lesion to score")
    summary = pixel_metrics(cases.loc[lesion, ["tp", "fp", "fn", "tn"]].to_numpy())
    tp, fp, fn = (cases.loc[lesion, c].to_numpy(float) for c in ("tp", "fp", "fn"))
    summary["iou_ci_low"], summary["iou_ci_high"] = group_bootstrap_ci(
        np.column_stack([tp, tp + fp + fn]), groups[lesion], seed=seed, statistic=_pooled_ratio)
    for metric in ("dice", "iou"):
        values = cases.loc[lesion, metric].to_numpy(float)
        low, high = group_bootstrap_ci(values, groups[lesion], seed=seed)
        summary |= {f"{metric}_mean": float(values.mean()), f"{metric}_mean_ci_low": low,
                    f"{metric}_mean_ci_high": high}
    detected = cases["detected"].to_numpy(bool) if "detected" in cases else ~cases["pred_empty"].to_numpy(bool)
    kept = detected[lesion]
    summary["iou_gated"] = safe_ratio((tp * kept).sum(), (tp * kept + fp * kept + fn + tp * ~kept).sum())
    summary["lesion_images"] = int(lesion.sum())
    summary["lesion_detection_rate"] = float(detected[lesion].mean())
    if (~lesion).any():
        summary["empty_false_positive_rate"] = float(detected[~lesion].mean())
    return summary


def headline_columns(summary: dict[str, float]) -> dict[str, float | str]:
    """A summary's table columns: pooled IoU, mean Dice and mean IoU, each beside its 95% interval."""
    columns: dict[str, float | str] = {"iou": summary["iou"],
                                       "iou_95ci": format_ci(summary["iou_ci_low"], summary["iou_ci_high"])}
    for metric in ("dice", "iou"):
        columns[f"{metric}_mean"] = summary[f"{metric}_mean"]
        columns[f"{metric}_mean_95ci"] = format_ci(summary[f"{metric}_mean_ci_low"], summary[f"{metric}_mean_ci_high"])
    return columns


def _pooled_ratio(rows: np.ndarray) -> float:
    """Sum of the first column over sum of the second (pooled IoU from per-image tp and tp + fp + fn)."""
    return safe_ratio(rows[:, 0].sum(), rows[:, 1].sum())
