"""How much pooled IoU does the segmentation resolution itself cost? The ceiling of a perfect segmenter at N px.

Notebook 02 trains U2NET-Lite on masks resized to 128 x 128 (`load_arrays`: bilinear, cut at 0.5) and scores its
logit maps after bilinear upsampling to each image's original size, cut at 0 (`masks_at_original_size`). A model that
reproduced its training targets exactly would still lose whatever that round trip loses. For every BUSI lesion image
and each size, two perfect predictions go through notebook 02's upsampling and are scored against the original mask,
pooled over all 647 lesion images as notebook 02 pools: the training target itself (binary at N px, as logits -1/+1),
and the best an N-px probability map could say (the mask's area-averaged share per pixel, as logit share - 0.5). No
model, no training: a few minutes on 2 CPU cores.

    python reports/probes/seg_resolution_ceiling_probe.py DATA_DIR OUT_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.readers import read_busi
from buslib.eval.segmentation import confusion_counts, pixel_metrics
from buslib.infer.torch_paths import masks_at_original_size

SIZES = (64, 128, 160, 224, 320)


def area_share(mask: np.ndarray, size: int) -> np.ndarray:
    """Share of each of size x size cells covered by the mask (box filter: exact area averaging)."""
    return np.asarray(Image.fromarray(mask.astype(np.float32)).resize((size, size), Image.BOX), np.float32)


def pooled_iou(predicted: list[np.ndarray], masks: list[np.ndarray]) -> float:
    return pixel_metrics([confusion_counts(p, m > 0) for p, m in zip(predicted, masks)])["iou"]


def main(data_dir: str, out_json: str) -> None:
    busi = read_busi(data_dir)
    busi = busi[busi["label"] != "normal"].reset_index(drop=True)
    masks = load_full_resolution(busi)[1]
    shapes = [m.shape for m in masks]
    result = {"lesion_images": len(busi), "pooled_iou": {}}
    for size in SIZES:
        targets = load_arrays(busi, size).masks.astype(np.float32) * 2 - 1
        soft = np.stack([area_share(m > 0, size) - 0.5 for m in masks])
        result["pooled_iou"][str(size)] = {
            "training_target": pooled_iou(masks_at_original_size(targets, shapes), masks),
            "area_share": pooled_iou(masks_at_original_size(soft, shapes), masks)}
        print(size, result["pooled_iou"][str(size)], flush=True)
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
