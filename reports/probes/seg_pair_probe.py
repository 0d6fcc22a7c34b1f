"""Do U2NET-Lite (DUTS start) and the ImageNet-encoder U-Net of `unet_encoder_probe.py` err on different images, so
that their average segments better than either? On each grouped test fold asked for: the fold's U2NET-Lite and
U-Net, each with the flip chosen on validation as notebook 02 chooses it, and their probabilities averaged (with the
flip where it raises the average's validation IoU). Validation IoU is `run_segmentation`'s measure (training
resolution, lesion and normal images); test IoU is pooled at each image's original size over the fold's lesion images,
with its group-bootstrap interval; with all 5 folds, the three systems' out-of-fold predictions are pooled too.

The rule, fixed in the commit that added this file (`55c8b35`), before it ran: the average counts as better only if
its validation IoU beats the better model's by at least 0.01; test numbers decide nothing. Its first version ran on
fold 0 with the report's fold-0 U2NET-Lite (`reports/cpu/02_u2netp_grouped.pth`, full precision): output
`seg_pair_55c8b35_fold0.json`. This version takes each fold's U2NET-Lite from U2NETP_DIR/foldK.pth, and trains it
there first where it is missing, exactly as notebook 02 does (cpu profile, the same seed key); both models are
read from half-precision copies, as notebook 04 reads its fold models.

    python reports/probes/seg_pair_probe.py DATA_DIR SPLITS_CSV UNET_DIR ARCH U2NETP_DIR FOLDS OUT_JSON
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles, fold_split
from buslib.eval.segmentation import score_cases, summarise_cases
from buslib.experiments.segmentation import half_state, pooled_iou, run_segmentation
from buslib.infer import masks_at_original_size, predict_seg_logits_with_flip
from buslib.models.bundle import float_state
from buslib.models.u2net import U2Net
from buslib.profiles import resolve_profile
from buslib.train.segmentation import get_seg_recipe

sys.path.insert(0, str(Path(__file__).parent))
from unet_encoder_probe import imagenet_unet  # noqa: E402

SUMMARY_KEYS = ("iou", "iou_ci_low", "iou_ci_high", "dice_mean", "iou_mean", "lesion_images")


def _probability(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits.astype(np.float64)))


def _logit(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped)).astype(np.float32)


def _load(model: torch.nn.Module, path: Path) -> torch.nn.Module:
    model.load_state_dict(float_state(torch.load(path, map_location="cpu", weights_only=True)))
    return model.eval()


def _u2netp(fold: int, busi: pd.DataFrame, arrays, full_masks: list, roles: np.ndarray, weights_dir: Path) -> U2Net:
    """The fold's U2NET-Lite from `weights_dir`, trained there first (notebook 02's way) where it is missing."""
    path = weights_dir / f"fold{fold}.pth"
    if not path.is_file():
        profile = resolve_profile("cpu")
        test = (roles == "test").nonzero()[0]
        with tempfile.TemporaryDirectory() as workdir:
            run = run_segmentation("u2netp", fold_split(fold), busi, roles, arrays.images, arrays.masks,
                                   [full_masks[i] for i in test], get_seg_recipe("strong"), profile.seg_epochs,
                                   Path(workdir), init="pretrained", monitor=fold == 0)
        torch.save(half_state(run.model), path)
        (weights_dir / f"fold{fold}.json").write_text(json.dumps(
            {"test_iou": run.summary["iou"], "valid_iou": run.valid_iou, "valid_iou_tta": run.valid_iou_tta,
             "tta": run.tta, "train_minutes": run.fit_seconds / 60}, indent=1) + "\n")
    return _load(U2Net("u2netp"), path)


def main(data_dir: str, splits_csv: str, unet_dir: str, arch: str, u2netp_dir: str, folds: str,
         out_json: str) -> None:
    profile = resolve_profile("cpu")
    busi = read_busi(data_dir).merge(load_split_table(Path(splits_csv)).drop(columns="label"), on="image_id",
                                     validate="one_to_one")
    arrays = load_arrays(busi, profile.seg_size)
    full_masks = load_full_resolution(busi)[1]
    Path(u2netp_dir).mkdir(parents=True, exist_ok=True)
    result, cases = {}, {}
    for fold in (int(f) for f in folds.split(",")):
        roles = fold_roles(busi["fold"], test_fold=fold, n_folds=profile.n_folds)
        valid, test = (roles == "valid").nonzero()[0], (roles == "test").nonzero()[0]
        models = {"u2netp": _u2netp(fold, busi, arrays, full_masks, roles, Path(u2netp_dir)),
                  arch: _load(imagenet_unet(arch, profile.seg_size), Path(unet_dir) / f"fold{fold}.pth")}
        probabilities = {}   # name -> (valid plain, valid flip-averaged, test plain, test flip-averaged)
        for name, model in models.items():
            probabilities[name] = tuple(_probability(logits) for part in (valid, test)
                                        for logits in predict_seg_logits_with_flip(model, arrays.images[part],
                                                                                   progress=False))
        probabilities["average"] = tuple(np.mean([p[i] for p in probabilities.values()], axis=0) for i in range(4))
        for name, (valid_plain, valid_flip, test_plain, test_flip) in probabilities.items():
            iou_plain = pooled_iou(valid_plain > 0.5, arrays.masks[valid])
            iou_flip = pooled_iou(valid_flip > 0.5, arrays.masks[valid])
            chosen = test_flip if iou_flip > iou_plain else test_plain
            predictions = masks_at_original_size(_logit(chosen), [full_masks[i].shape for i in test])
            fold_cases = score_cases(busi["image_id"].to_numpy()[test], predictions, [full_masks[i] for i in test])
            cases.setdefault(name, []).append(fold_cases)
            summary = summarise_cases(fold_cases, busi["group"].to_numpy()[test], 0)
            result.setdefault(name, {})[fold_split(fold)] = {
                "valid_iou": iou_plain, "valid_iou_tta": iou_flip, "tta": bool(iou_flip > iou_plain),
                **{k: summary[k] for k in SUMMARY_KEYS}}
        print(json.dumps({name: folds_[fold_split(fold)] for name, folds_ in result.items()}, indent=1))
    if len(cases["average"]) == profile.n_folds:
        groups = busi.set_index("image_id")["group"]
        for name, parts in cases.items():
            pooled = pd.concat(parts, ignore_index=True)
            summary = summarise_cases(pooled, groups.loc[pooled["image_id"]].to_numpy(), 0)
            result[name]["out_of_fold"] = {k: summary[k] for k in (*SUMMARY_KEYS, "dice_mean_ci_low",
                                                                    "dice_mean_ci_high")}
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:8])
