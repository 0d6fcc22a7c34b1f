"""Per-image look at the zoom refiner (`seg_zoom_refiner_probe.py`) on test fold 0 of a report's fold models: for each
validation and test lesion image, the box IoU of stage 1's largest predicted region against the true lesion box, and
the intersection and union pixels of stage 1, of stage 2 from that box (margin 0.3, stage 2's map replacing stage 1's,
flip) and of stage 2 from the true box (margin 0.3). Stage 2 is trained as in the probe but without the per-epoch
validation pass (`monitor=False`), so it is not the probe's model to the digit (on the seed-1 replicate, test IoU from
stage 1's box 0.6706 here against the probe's 0.6709). Writes OUT_CSV and prints pooled IoUs split by box IoU >= 0.5.

    python reports/probes/seg_zoom_refiner_diagnosis.py DATA_DIR REPORT_DIR SEED OUT_CSV
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.loaders import build_dataloaders
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles
from buslib.experiments.lesion_crops import lesion_box
from buslib.experiments.segmenters import load_fold_segmenters
from buslib.infer import predict_seg_logits
from buslib.models.pretrained import u2net_duts
from buslib.train.batchnorm import DEFAULT_BN_TREATMENT, prepare_batchnorm
from buslib.train.fitting import fit, seed_run
from buslib.train.segmentation import get_seg_recipe, seg_learner

sys.path.insert(0, str(Path(__file__).parent))
import seg_zoom_refiner_probe as probe  # noqa: E402

MARGIN = 0.3


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (top, bottom, left, right) boxes."""
    height, width = min(a[1], b[1]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[2], b[2])
    inter = max(0, height) * max(0, width)
    area = lambda box: (box[1] - box[0]) * (box[3] - box[2])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def main(data_dir: str, report_dir: str, seed: str, out_csv: str) -> None:
    report, seed = Path(report_dir), int(seed)
    busi = read_busi(data_dir).merge(load_split_table(report / "splits_busi.csv").drop(columns="label"),
                                     on="image_id", validate="one_to_one")
    small = load_arrays(busi, 128).images
    images, masks = load_full_resolution(busi, progress=False)
    stage1 = load_fold_segmenters(report)["grouped"]
    roles = fold_roles(busi["fold"], test_fold=0, n_folds=int(busi["fold"].max()) + 1)
    lesion = (busi["label"] != "normal").to_numpy()
    rows = {role: np.flatnonzero((roles == role) & lesion) for role in ("train", "valid", "test")}

    seed_run("zoom_refiner_u2netp_grouped", seed)
    rng = np.random.default_rng(seed)
    train = [i for i in rows["train"] for _ in range(probe.JITTERS)]
    train_images, train_masks = probe.crops([images[i] for i in train], [masks[i] for i in train],
                                            [probe.jittered_box(masks[i], rng) for i in train], 128)
    valid_images, valid_masks = probe.crops([images[i] for i in rows["valid"]], [masks[i] for i in rows["valid"]],
                                            [lesion_box(masks[i], MARGIN) for i in rows["valid"]], 128)
    model = u2net_duts("u2netp")
    callbacks = prepare_batchnorm(model, DEFAULT_BN_TREATMENT, train_images)
    dls = build_dataloaders(np.concatenate([train_images, valid_images]), np.concatenate([train_masks, valid_masks]),
                            np.arange(len(train_images)), np.arange(len(train_images), len(train_images) +
                                                                    len(valid_images)), "li", 8)
    with tempfile.TemporaryDirectory() as workdir:
        learn = seg_learner(model, dls, get_seg_recipe("strong"), Path(workdir), cbs=callbacks)
        fit(learn, get_seg_recipe("strong"), 4, monitor=False)
    model = learn.model.eval()

    records = []
    for role in ("valid", "test"):
        idx = rows[role]
        truth = [masks[i] for i in idx]
        first = probe.stage1_probabilities(stage1, small[idx], [m.shape for m in truth], True)
        first_masks = [p > 0.5 for p in first]
        boxes = [lesion_box(probe.largest_region(m), MARGIN) if m.any() else (0, m.shape[0], 0, m.shape[1])
                 for m in first_masks]
        crops = probe.crops([images[i] for i in idx], truth, boxes, 128)[0]
        refined = probe.refine(first, predict_seg_logits(model, crops, tta=True, progress=False), boxes, "replace")
        true_boxes = [lesion_box(m, MARGIN) for m in truth]
        true_crops = probe.crops([images[i] for i in idx], truth, true_boxes, 128)[0]
        from_true = probe.refine([np.zeros(m.shape, np.float32) for m in truth],
                                 predict_seg_logits(model, true_crops, tta=True, progress=False), true_boxes, "replace")
        for k, i in enumerate(idx):
            lesion_pixels = truth[k] > 0
            predicted_box = (lesion_box(probe.largest_region(first_masks[k]), 0.0) if first_masks[k].any()
                             else (0, 0, 0, 0))
            record = {"role": role, "image_id": busi["image_id"].iloc[i], "lesion_share": lesion_pixels.mean(),
                      "box_iou": box_iou(predicted_box, lesion_box(lesion_pixels, 0.0))}
            maps = {"stage1": first_masks[k], "refined": refined[k] > 0.5, "true_box": from_true[k] > 0.5}
            for name, mask in maps.items():
                record[f"intersection_{name}"] = int((mask & lesion_pixels).sum())
                record[f"union_{name}"] = int((mask | lesion_pixels).sum())
            records.append(record)
    table = pd.DataFrame(records)
    table.to_csv(out_csv, index=False)
    for role, part in table.groupby("role"):
        good = part["box_iou"] >= 0.5
        for label, group in (("box IoU >= 0.5", part[good]), ("box IoU < 0.5", part[~good])):
            ious = {name: group[f"intersection_{name}"].sum() / group[f"union_{name}"].sum()
                    for name in ("stage1", "refined", "true_box")}
            share = group["union_stage1"].sum() / part["union_stage1"].sum()
            print(f"{role} {label}: {len(group)} images, {share:.2f} of the union pixels, "
                  + ", ".join(f"{name} {iou:.3f}" for name, iou in ious.items()))


if __name__ == "__main__":
    main(*sys.argv[1:5])
