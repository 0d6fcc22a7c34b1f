"""Which segmenter path `predict` uses: every path measured on the same machine (single image at 320 px,
2 threads) and scored on the BUSI test fold against eager fp32; the fastest whose pooled IoU drops by at
most `IOU_TOLERANCE` is written beside the bundles."""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.cache import load_arrays, resize_image
from ..data.cohort import load_full_resolution, load_split_table
from ..data.readers import read_busi
from ..eval.segmentation import confusion_counts, pixel_metrics
from ..infer import SEGMENTER_PATHS, masks_at_original_size, segmenter_path, timed, use_bf16
from .export import BUNDLES_DIR, segmenter_bundle

__all__ = ["IOU_TOLERANCE", "CHOICE_FILE", "BENCH_FILE", "benchmark_segmenter_paths", "chosen_path"]

IOU_TOLERANCE = 0.005
CHOICE_FILE = "segmenter_path.json"
BENCH_FILE = "bench_segmenter_paths.json"


def benchmark_segmenter_paths(report_dir: Path, data_root: Path, bench_size: int = 320, steps: int = 10,
                              calibration_images: int = 64, threads: int = 2) -> pd.DataFrame:
    """ms per image at `bench_size` and pooled IoU on grouped test fold 0 (lesion images, scored at the
    original size) of every path; writes the table to the report folder and the choice beside the bundles."""
    torch.set_num_threads(threads)
    report_dir = Path(report_dir)
    bundle = segmenter_bundle(report_dir)
    model = bundle.build()
    busi = read_busi(data_root).merge(load_split_table(report_dir / "splits_busi.csv").drop(columns="label"),
                                      on="image_id")
    test = busi[(busi["fold"] == 0) & (busi["label"] != "normal")].reset_index(drop=True)
    train = busi[~busi["fold"].isin([0, 1]) & (busi["label"] != "normal")].sample(calibration_images, random_state=0)
    test_images = load_arrays(test, bundle.size, progress=False).images
    true_masks = load_full_resolution(test, progress=False)[1]
    calibration = load_arrays(train, bundle.size, progress=False).images
    one = resize_image(test_images[0], bench_size)[None]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in SEGMENTER_PATHS:
            segment = segmenter_path(name, model, bundle.size, report_dir / BUNDLES_DIR, bundle.stats, calibration,
                                     threads, reuse=False)  # the ONNX files stay beside the bundles for predict
            masks = masks_at_original_size(segment(test_images), [m.shape for m in true_masks])
            iou = pixel_metrics(confusion_counts(p, t) for p, t in zip(masks, true_masks))["iou"]
            at_size = segmenter_path(name, model, bench_size, Path(workdir) / "bench", bundle.stats,
                                     np.stack([resize_image(i, bench_size) for i in calibration[:16]]), threads)
            rows.append({"path": name, "ms_per_image": 1000 * timed(partial(at_size, one), steps),
                         "size_px": bench_size, "threads": threads, "pooled_iou": iou,
                         "iou_test_images": len(test_images), "model_size_px": bundle.size})
    table = pd.DataFrame(rows)
    reference = table.set_index("path").loc["eager_fp32"]
    table["ratio_to_eager_fp32"] = table["ms_per_image"] / reference["ms_per_image"]
    table["iou_change"] = table["pooled_iou"] - reference["pooled_iou"]
    (report_dir / BENCH_FILE).write_text(table.to_json(orient="records", indent=1))
    allowed = table[table["iou_change"] >= -IOU_TOLERANCE].sort_values("ms_per_image")
    choice = allowed.iloc[0]
    (report_dir / BUNDLES_DIR).mkdir(exist_ok=True)
    (report_dir / BUNDLES_DIR / CHOICE_FILE).write_text(json.dumps(
        {"path": choice["path"], "ms_per_image_320px": choice["ms_per_image"], "iou_change": choice["iou_change"],
         "rule": f"fastest path whose pooled IoU drops by at most {IOU_TOLERANCE} against eager fp32"}, indent=1))
    return table


def chosen_path(bundle_folder: Path) -> str:
    """The path the benchmark chose for these bundles or, when none was measured, the study's own: eager PyTorch in
    bf16 where this CPU runs it natively, else in fp32."""
    choice = Path(bundle_folder) / CHOICE_FILE
    if choice.is_file():
        return json.loads(choice.read_text())["path"]
    return "eager_bf16" if use_bf16(torch.device("cpu")) else "eager_fp32"
