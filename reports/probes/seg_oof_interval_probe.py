"""Notebook 02's U2NET-Lite cross-validation alone (cpu profile: DUTS start, batch norm recalibrated, 128 px, 4
epochs, strong recipe, normals as empty masks; fold 0 with its per-epoch validation as the notebook trains it), to
give the out-of-fold pooled IoU the group-bootstrap interval that reports made before `4f22d30` lack, and to see
whether another machine kind reproduces it. Ungated: detection (notebook 02's lesion classifiers) is not run, so
only the delineation numbers and the segmenter's own detection are comparable with a report.

    python reports/probes/seg_oof_interval_probe.py DATA_DIR SPLITS_CSV OUT_JSON

SPLITS_CSV: notebook 01's `splits_busi.csv` of the cpu profile (e.g. reports/cpu/splits_busi.csv). It took 41.9 minutes
on 2 cores of an AVX2-only CPU in fp32.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles
from buslib.experiments.segmentation import out_of_fold, run_folds, run_segmentation
from buslib.infer.torch_paths import describe_bf16
from buslib.profiles import resolve_profile
from buslib.train.segmentation import get_seg_recipe


def main(data_dir: str, splits_csv: str, out_json: str) -> None:
    profile = resolve_profile("cpu")
    busi = read_busi(data_dir).merge(load_split_table(Path(splits_csv)).drop(columns="label"), on="image_id",
                                     validate="one_to_one")
    arrays = load_arrays(busi, profile.seg_size)
    full_masks = load_full_resolution(busi)[1]
    roles = fold_roles(busi["fold"], test_fold=0, n_folds=profile.n_folds)
    recipe = get_seg_recipe("strong")
    start = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        first = run_segmentation("u2netp", "grouped", busi, roles, arrays.images, arrays.masks,
                                 [full_masks[i] for i in (roles == "test").nonzero()[0]], recipe, profile.seg_epochs,
                                 Path(workdir), init="pretrained")
        folds = run_folds("u2netp", busi, arrays.images, arrays.masks, full_masks, recipe, profile.seg_epochs,
                          Path(workdir), done=[first], init="pretrained")
    pooled = out_of_fold(folds, busi)
    result = {"precision": describe_bf16(torch.device("cpu")), "minutes": (time.time() - start) / 60,
              "out_of_fold": pooled,
              "folds": {run.split: {"iou": run.summary["iou"], "iou_ci": [run.summary["iou_ci_low"],
                                                                          run.summary["iou_ci_high"]],
                                    "dice_mean": run.summary["dice_mean"], "tta": run.tta,
                                    "train_minutes": run.fit_seconds / 60} for run in folds}}
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:4])
