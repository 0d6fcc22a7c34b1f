"""Notebook 04's segmentation cell on this replicate's fold checkpoints: U2NET-Lite's 5 fold models averaged (stage 1
alone, and each with its zoomed second stage) on all of Dataset B, scored at the original size, through the same
`load_segmenter_ensemble`, `load_two_stage_ensemble` and `evaluate_segmenters` notebook 04 calls.
`python datasetb_segmenters.py REPORT_DIR` (REPORT_DIR: the replicate's cpu report folder, with its checkpoints/)."""

import sys
import time
from pathlib import Path

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.duplicates import assign_groups, near_duplicate_pairs
from buslib.data.locate import find_data_root
from buslib.data.readers import read_dataset_b
from buslib.experiments.external import evaluate_segmenters, load_segmenter_ensemble, load_two_stage_ensemble

SIZE = 128   # the cpu profile's seg_size
report = Path(sys.argv[1])
dsb = read_dataset_b(find_data_root())
images, masks = load_full_resolution(dsb, progress=False)
dsb["group"] = assign_groups(dsb, near_duplicate_pairs(dsb, images))
start = time.perf_counter()
segmenters = {"u2netp_ensemble": load_segmenter_ensemble(report, SIZE),
              "u2netp_two_stage_ensemble": load_two_stage_ensemble(report, SIZE)}
table, _, _ = evaluate_segmenters(segmenters, load_arrays(dsb, SIZE).images, images, masks, dsb)
columns = ["model", "iou", "iou_ci_low", "iou_ci_high", "dice_mean", "precision", "recall"]
print(table[[c for c in columns if c in table]].to_string(index=False))
print(f"{time.perf_counter() - start:.1f} s for {len(dsb)} images")
