"""U2NET-Lite from DUTS on BUSI at the gpu profile's 320 px, on a GPU, through the study's own `run_segmentation`
(recipe 'strong', batch norm recalibrated, normals trained as empty masks, the same seed keys as the cpu report's
runs): on grouped test fold 0 ('grouped') or on Li's random image-level 12:3 split ('li_12_3'). It answers one
question of issue 11: do resolution and epochs close the gap between the cpu profile's IoU and Li's 0.7063?

The data could not travel to the GPU machine as files (over the size limit), so `prepare` (run where the data is)
writes the study's own 320-px arrays (`load_arrays(busi, 320)`) as lossless WebP with their sha256, and the full-size
masks of each split's test images for scoring at each image's size; `train` checks the decoded arrays against that
sha256 before it trains.

    python reports/device/u2netp_320px_probe.py prepare DATA_DIR REPORT_DIR INPUT_DIR   # REPORT_DIR: notebook 01's
    python reports/device/u2netp_320px_probe.py train INPUT_DIR SPLIT EPOCHS OUT_JSON
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, paper_roles
from buslib.experiments.segmentation import run_segmentation
from buslib.report.context import open_notebook
from buslib.train.segmentation import get_seg_recipe

SIZE = 320


def _grey(image: Image.Image) -> np.ndarray:
    """The grey values of a decoded image (lossless WebP decodes grey images as three equal channels)."""
    array = np.asarray(image)
    return array[..., 0] if array.ndim == 3 else array


def split_roles(frame: pd.DataFrame, split: str) -> np.ndarray:
    """Each image's role on `split`, as notebook 02 makes them (seed 0)."""
    if split == "grouped":
        return fold_roles(frame["fold"], test_fold=0, n_folds=5)
    if split == "li_12_3":
        return paper_roles(frame["split_li_seg"], 0)
    raise SystemExit(f"unknown split '{split}'; choose grouped or li_12_3")


def prepare(data_dir: str, report_dir: str, folder: str) -> None:
    """Write the inputs of `train` into `folder`, from the data and notebook 01's cohort table in `report_dir`."""
    busi = open_notebook("02", "gpu", data_dir, report_dir, 0, 0).load_busi()
    arrays = load_arrays(busi, SIZE)
    _, full_masks = load_full_resolution(busi)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    busi[["image_id", "label", "fold", "group", "split_li_seg"]].to_csv(out / "frame.csv", index=False)
    blobs = {}
    for i, image in enumerate(arrays.images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "WEBP", lossless=True, quality=100, method=4)
        blobs[f"img{i}"] = np.frombuffer(buffer.getvalue(), np.uint8)
    np.savez(out / "images_webp.npz", **blobs)
    (out / "images.sha256").write_text(hashlib.sha256(arrays.images.tobytes()).hexdigest())
    parts = {"masks": np.packbits(arrays.masks, axis=-1)}
    for split in ("grouped", "li_12_3"):
        test = np.flatnonzero(split_roles(busi, split) == "test")
        parts[f"test_{split}"] = test
        for i, row in enumerate(test):
            parts[f"full_{split}_{i}"] = np.packbits(full_masks[row] > 0, axis=-1)
            parts[f"shape_{split}_{i}"] = np.array(full_masks[row].shape)
    np.savez_compressed(out / "masks.npz", **parts)


def load_inputs(folder: Path, split: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The cohort frame, the 320-px images and masks, and the full-size masks of `split`'s test images."""
    frame = pd.read_csv(folder / "frame.csv")
    blobs = np.load(folder / "images_webp.npz")
    images = np.stack([_grey(Image.open(io.BytesIO(blobs[f"img{i}"].tobytes()))) for i in range(len(frame))])
    packed = np.load(folder / "masks.npz")
    masks = np.unpackbits(packed["masks"], axis=-1)[..., :images.shape[-1]]
    test_masks = []
    for i in range(len(packed[f"test_{split}"])):
        width = packed[f"shape_{split}_{i}"][1]
        test_masks.append(np.unpackbits(packed[f"full_{split}_{i}"], axis=-1)[:, :width].astype(np.uint8))
    return frame, images, masks, test_masks


def train(folder: str, split: str, epochs: str, out_json: str) -> None:
    """Train and score one run on `split`; write its summary and learning curve to `out_json`."""
    frame, images, masks, test_masks = load_inputs(Path(folder), split)
    digest = hashlib.sha256(images.tobytes()).hexdigest()
    expected = Path(folder, "images.sha256").read_text().strip()
    if digest != expected:
        raise SystemExit(f"decoded images sha256 {digest} != {expected}: the arrays changed in transit")
    roles = split_roles(frame, split)
    if not np.array_equal(np.flatnonzero(roles == "test"), np.load(Path(folder, "masks.npz"))[f"test_{split}"]):
        raise SystemExit(f"the test images of '{split}' differ from those whose full-size masks were carried")
    started = time.time()
    run = run_segmentation("u2netp", split, frame, roles, images, masks, test_masks, get_seg_recipe("strong"),
                           int(epochs), Path(f"/tmp/probe_work_{split}_{epochs}"), seed=0, init="pretrained",
                           bn="recalibrate")
    result = {"split": split, "epochs": int(epochs), "size": int(images.shape[-1]), "images_sha256": digest,
              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, "wall_minutes": (time.time() - started) / 60,
              "train_minutes": run.fit_seconds / 60, "train_img_per_s": run.train_images_per_s,
              "valid_iou": run.valid_iou, "valid_iou_tta": run.valid_iou_tta, "tta": bool(run.tta),
              "summary": {k: float(v) for k, v in run.summary.items() if np.isscalar(v)},
              "history": run.history.to_dict(orient="records")}
    Path(out_json).write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps({k: result[k] for k in ("epochs", "valid_iou", "tta", "train_minutes")} |
                     {k: result["summary"].get(k) for k in ("iou", "dice_mean", "lesion_detection_rate",
                                                            "empty_false_positive_rate")}))


if __name__ == "__main__":
    commands = {"prepare": prepare, "train": train}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
