"""Where the out-of-fold pooled IoU is lost: lesions missed or misplaced, or outlines drawn short, over all folds.

Notebook 02's fold models (the U2NET-Lites of a report's `checkpoints/`: test fold 0's at full precision, the others'
half-precision copies, as notebook 03 loads them) predict the lesion images of their own test fold, with test-time
flip where notebook 02 kept it for that fold (`02_folds.csv`), upsampled and cut as notebook 02 does. The pooled IoU
over every lesion image is then split: images with IoU below 0.1 (the lesion missed, or an outline on another
structure), and the pooled IoU of the rest. No training: a few minutes on 2 CPU cores.

    python reports/probes/seg_oof_loss_probe.py DATA_DIR REPORT_DIR OUT_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.eval.segmentation import score_cases
from buslib.experiments.segmenters import load_crop_segmenters
from buslib.infer import masks_at_original_size, predict_seg_logits

MISSED_IOU = 0.1


def split_name(fold: int) -> str:
    """Notebook 02's name of the split whose test fold is `fold`."""
    return "grouped" if fold == 0 else f"grouped_f{fold}"


def main(data_dir: str, report_dir: str, out_json: str) -> None:
    report = Path(report_dir)
    busi = read_busi(data_dir).merge(load_split_table(report / "splits_busi.csv").drop(columns="label"),
                                     on="image_id", validate="one_to_one")
    busi = busi[busi["label"] != "normal"].reset_index(drop=True)
    images = load_arrays(busi, 128).images
    masks = load_full_resolution(busi)[1]
    segmenters = load_crop_segmenters(report)
    flips = pd.read_csv(report / "02_folds.csv").set_index("fold")["tta"]
    cases = []
    for fold in sorted(busi["fold"].unique()):
        name = split_name(int(fold))
        rows = np.flatnonzero(busi["fold"].to_numpy() == fold)
        tta = str(flips[name]) == "True"
        logits = predict_seg_logits(segmenters[name], images[rows], tta=tta)
        predicted = masks_at_original_size(logits, [masks[i].shape for i in rows])
        scored = score_cases(busi["image_id"].to_numpy()[rows], predicted, [masks[i] for i in rows])
        cases.append(scored.assign(fold=int(fold)))
        print(name, "flip" if tta else "no flip", len(rows), "lesion images", flush=True)
    cases = pd.concat(cases, ignore_index=True)
    union = (cases["tp"] + cases["fp"] + cases["fn"]).to_numpy(float)
    missed = cases["iou"].to_numpy() < MISSED_IOU
    result = {
        "report": str(report), "lesion_images": len(cases), "pooled_iou": float(cases["tp"].sum() / union.sum()),
        "images_iou_below_0.1": int(missed.sum()),
        "share_of_union_pixels_in_those_images": float(union[missed].sum() / union.sum()),
        "pooled_iou_without_those_images": float(cases.loc[~missed, "tp"].sum() / union[~missed].sum()),
        "recall_of_the_rest": float(cases.loc[~missed, "tp"].sum() / (cases.loc[~missed, "tp"]
                                                                      + cases.loc[~missed, "fn"]).sum()),
        "precision_of_the_rest": float(cases.loc[~missed, "tp"].sum() / (cases.loc[~missed, "tp"]
                                                                         + cases.loc[~missed, "fp"]).sum()),
        "per_image_iou_quartiles": [float(q) for q in np.quantile(cases["iou"], [0.25, 0.5, 0.75])]}
    print(json.dumps(result, indent=1))
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
