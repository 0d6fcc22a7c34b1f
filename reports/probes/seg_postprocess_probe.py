"""Mask post-processing for U2NET-Lite, measured: does keeping one connected component, filling holes or moving the
probability threshold raise the pooled IoU?

It takes the fold-0 U2NET-Lite that a report published (`02_u2netp_grouped.pth`, trained on the other four grouped
folds) and scores its flip-averaged predictions, upsampled to each image's original size as notebook 02 does, on the
lesion images of validation fold 1 (where a rule would be chosen) and of test fold 0. Post-processing variants: none;
the largest connected component; the component holding the highest probability; holes filled; largest component
with holes filled. Thresholds: lesion probability 0.27, 0.38, 0.50 (notebook 02's), 0.62. Beside them, how the pooled
IoU's loss splits between missed or misplaced lesions (per-image IoU < 0.1) and the rest. No training: a few minutes
on 2 CPU cores.

    python reports/probes/seg_postprocess_probe.py DATA_DIR REPORT_DIR OUT_JSON

REPORT_DIR holds `splits_busi.csv` and `02_u2netp_grouped.pth` of the same run (e.g. reports/cpu).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles
from buslib.eval.segmentation import confusion_counts, pixel_metrics, score_cases, summarise_cases
from buslib.infer import predict_seg_logits
from buslib.infer.torch_paths import describe_bf16
from buslib.models.u2net import u2netp

LOGIT_THRESHOLDS = (-1.0, -0.5, 0.0, 0.5)   # lesion probability 0.27, 0.38, 0.50, 0.62
MISSED_IOU = 0.1


def largest_component(mask: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """The mask's largest connected component (the mask itself when it has at most one)."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    return labels == 1 + int(np.argmax(ndimage.sum(mask, labels, range(1, n + 1))))


def most_confident_component(mask: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """The connected component holding the mask's highest lesion probability."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    return labels == 1 + int(np.argmax(ndimage.maximum(prob, labels, range(1, n + 1))))


POST: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "none": lambda mask, prob: mask,
    "largest_component": largest_component,
    "most_confident_component": most_confident_component,
    "fill_holes": lambda mask, prob: ndimage.binary_fill_holes(mask),
    "largest_component_fill_holes": lambda mask, prob: ndimage.binary_fill_holes(largest_component(mask, prob)),
}


def full_size_logits(logits: np.ndarray, masks: list[np.ndarray]) -> list[np.ndarray]:
    """Each 128-px logit map bilinearly upsampled to its mask's size (as `masks_at_original_size`, before the cut)."""
    return [F.interpolate(torch.from_numpy(logit)[None, None], size=mask.shape, mode="bilinear",
                          align_corners=False)[0, 0].numpy() for logit, mask in zip(logits, masks)]


def main(data_dir: str, report_dir: str, out_json: str) -> None:
    report = Path(report_dir)
    busi = read_busi(data_dir).merge(load_split_table(report / "splits_busi.csv").drop(columns="label"),
                                     on="image_id", validate="one_to_one")
    images = load_arrays(busi, 128).images
    model = u2netp()
    model.load_state_dict(torch.load(report / "02_u2netp_grouped.pth", map_location="cpu", weights_only=True))
    model.eval()
    roles = fold_roles(busi["fold"], test_fold=0, n_folds=5)
    lesion = (busi["label"] != "normal").to_numpy()
    result = {"checkpoint": str(report / "02_u2netp_grouped.pth"), "precision": describe_bf16(torch.device("cpu")),
              "tta": "horizontal flip averaged", "roles": {}}
    for role in ("valid", "test"):
        rows = np.flatnonzero((roles == role) & lesion)
        masks = load_full_resolution(busi.iloc[rows].reset_index(drop=True))[1]
        logits = full_size_logits(predict_seg_logits(model, images[rows], tta=True), masks)
        grid = {name: {f"{1 / (1 + np.exp(-t)):.2f}": pixel_metrics(
                    [confusion_counts(post(logit > t, logit), mask > 0) for logit, mask in zip(logits, masks)])["iou"]
                       for t in LOGIT_THRESHOLDS} for name, post in POST.items()}
        cases = score_cases(busi["image_id"].to_numpy()[rows], [logit > 0 for logit in logits], masks)
        summary = summarise_cases(cases, busi["group"].to_numpy()[rows])
        missed = cases["iou"].to_numpy() < MISSED_IOU
        union = (cases["tp"] + cases["fp"] + cases["fn"]).to_numpy(float)
        result["roles"][role] = {
            "lesion_images": int(len(rows)), "pooled_iou_by_post_processing_and_probability": grid,
            "pooled_iou": summary["iou"], "pooled_iou_95ci": [summary["iou_ci_low"], summary["iou_ci_high"]],
            "images_iou_below_0.1": int(missed.sum()),
            "share_of_union_pixels_in_those_images": float(union[missed].sum() / union.sum()),
            "pooled_iou_without_those_images": float(cases.loc[~missed, "tp"].sum() / union[~missed].sum())}
        print(role, json.dumps(result["roles"][role], indent=1), flush=True)
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
