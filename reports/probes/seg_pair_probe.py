"""Do U2NET-Lite (DUTS start) and the ImageNet-encoder U-Net of `unet_encoder_probe.py` err on different images, so
that their average segments better than either? On grouped test fold 0: the report's fold-0 U2NET-Lite
(`reports/cpu/02_u2netp_grouped.pth`) and the probe's fold-0 U-Net (OUT_DIR/fold0.pth), each with the flip chosen on
validation as notebook 02 chooses it, and their probabilities averaged (with the flip where it raises the average's
validation IoU). Validation IoU is `run_segmentation`'s measure (training resolution, lesion and normal images);
test IoU is pooled at each image's original size over the 130 test lesion images, with its group-bootstrap interval.

The rule, fixed in the commit that added this file, before it ran: the average counts as better only if its
validation IoU beats the better model's by at least 0.01; test numbers decide nothing.

    python reports/probes/seg_pair_probe.py DATA_DIR REPORT_DIR UNET_DIR ARCH OUT_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles
from buslib.eval.segmentation import score_cases, summarise_cases
from buslib.experiments.segmentation import pooled_iou
from buslib.experiments.segmenters import load_segmenter
from buslib.infer import masks_at_original_size, predict_seg_logits_with_flip
from buslib.models.bundle import float_state
from buslib.profiles import resolve_profile

sys.path.insert(0, str(Path(__file__).parent))
from unet_encoder_probe import imagenet_unet  # noqa: E402


def _probability(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits.astype(np.float64)))


def _logit(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped)).astype(np.float32)


def main(data_dir: str, report_dir: str, unet_dir: str, arch: str, out_json: str) -> None:
    profile = resolve_profile("cpu")
    busi = read_busi(data_dir).merge(load_split_table(Path(report_dir) / "splits_busi.csv").drop(columns="label"),
                                     on="image_id", validate="one_to_one")
    arrays = load_arrays(busi, profile.seg_size)
    full_masks = load_full_resolution(busi)[1]
    roles = fold_roles(busi["fold"], test_fold=0, n_folds=profile.n_folds)
    valid, test = (roles == "valid").nonzero()[0], (roles == "test").nonzero()[0]
    unet = imagenet_unet(arch, profile.seg_size)
    unet.load_state_dict(float_state(torch.load(Path(unet_dir) / "fold0.pth", map_location="cpu", weights_only=True)))
    models = {"u2netp": load_segmenter(Path(report_dir), "u2netp"), arch: unet.eval()}
    probabilities = {}   # name -> (valid plain, valid flip-averaged, test plain, test flip-averaged)
    for name, model in models.items():
        probabilities[name] = tuple(_probability(logits) for part in (valid, test)
                                    for logits in predict_seg_logits_with_flip(model, arrays.images[part]))
    probabilities["average"] = tuple(np.mean([p[i] for p in probabilities.values()], axis=0) for i in range(4))
    result = {}
    for name, (valid_plain, valid_flip, test_plain, test_flip) in probabilities.items():
        iou_plain = pooled_iou(valid_plain > 0.5, arrays.masks[valid])
        iou_flip = pooled_iou(valid_flip > 0.5, arrays.masks[valid])
        chosen = test_flip if iou_flip > iou_plain else test_plain
        predictions = masks_at_original_size(_logit(chosen), [full_masks[i].shape for i in test])
        cases = score_cases(busi["image_id"].to_numpy()[test], predictions, [full_masks[i] for i in test])
        summary = summarise_cases(cases, busi["group"].to_numpy()[test], 0)
        result[name] = {"valid_iou": iou_plain, "valid_iou_tta": iou_flip, "tta": bool(iou_flip > iou_plain),
                        **{k: summary[k] for k in ("iou", "iou_ci_low", "iou_ci_high", "dice_mean", "iou_mean")}}
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:6])
