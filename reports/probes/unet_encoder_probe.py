"""Is U2NET-Lite held back by what it knows, not by how it outlines? A U-Net whose encoder starts from ImageNet
(fastai's `DynamicUnet` on timm's MobileNetV2 or EfficientNet-Lite0 from the offline weights, the classifier head
and final 1x1 convolution cut off) in notebook 02's U2NET-Lite protocol: the same folds, 128 px, strong recipe
(AdamW, one-cycle to 3e-3, Dice + BCE), normals as empty masks, the flip chosen on validation, scored at each image's
original size. Ungated: detection is the segmenter's own (highest lesion probability above the conformal threshold
of its validation normals), as in `seg_oof_interval_probe.py`.

The rule, fixed in the commit that added this file (`8615d2b`), before any of it ran: the U-Net is cross-validated
over all 5 folds only if its fold-0 *validation* pooled IoU beats U2NET-Lite's by at least 0.02; test numbers decide
nothing. That commit named U2NET-Lite's figure wrongly: 0.6496 is `seg_postprocess_probe.py`'s measure (the 129
validation lesion images at original size), not `run_segmentation`'s `valid_iou` that this probe records (training
resolution, lesion and normal validation images), which is 0.5673 for the report's fold-0 U2NET-Lite
(`seg_u2netp_pretrained_grouped_valid_iou` in reports/cpu/02.metrics.json). Read literally, the rule said no (0.5936
against 0.6696); like for like, yes (+0.026). Found after fold 0 ran; all 5 folds were run, so that the pooled
comparison, not the gate, says which segmenter is better, and every number is reported.

    python reports/probes/unet_encoder_probe.py DATA_DIR SPLITS_CSV OUT_DIR ARCH EPOCHS FOLDS

ARCH: mobilenetv2_100 or tf_efficientnet_lite0; FOLDS: e.g. 0 or 0,1,2,3,4. Each fold writes OUT_DIR/foldK.json,
foldK_cases.csv and its half-precision weights foldK.pth (folds already there are kept); once all 5 are there,
OUT_DIR/out_of_fold.json pools them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import timm
import torch
from fastai.vision.models.unet import DynamicUnet
from torch import nn

import buslib.experiments.segmentation as segmentation
from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution, load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles, fold_split
from buslib.eval.segmentation import summarise_cases
from buslib.experiments.segmentation import half_state
from buslib.infer.torch_paths import describe_bf16
from buslib.models.pretrained import efficientnet_lite_weights, mobilenetv2_weights
from buslib.profiles import resolve_profile
from buslib.train.segmentation import get_seg_recipe

ENCODERS = {"mobilenetv2_100": mobilenetv2_weights, "tf_efficientnet_lite0": lambda: efficientnet_lite_weights(0)}


def imagenet_unet(arch: str, size: int) -> nn.Module:
    """fastai's DynamicUnet (one output channel) on timm `arch`'s ImageNet stem and blocks."""
    encoder = timm.create_model(arch, pretrained=False)
    encoder.load_state_dict(ENCODERS[arch]())
    return DynamicUnet(nn.Sequential(encoder.conv_stem, encoder.bn1, *encoder.blocks), n_out=1, img_size=(size, size))


def main(data_dir: str, splits_csv: str, out_dir: str, arch: str, epochs: str, folds: str) -> None:
    profile = resolve_profile("cpu")
    busi = read_busi(data_dir).merge(load_split_table(Path(splits_csv)).drop(columns="label"), on="image_id",
                                     validate="one_to_one")
    arrays = load_arrays(busi, profile.seg_size)
    full_masks = load_full_resolution(busi)[1]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # run_segmentation builds U2-Nets; this probe hands it the U-Net instead (nothing else in it changes)
    segmentation._start = lambda variant, init, bn, train_images: (imagenet_unet(arch, profile.seg_size), [])
    for fold in (int(f) for f in folds.split(",")):
        if (out / f"fold{fold}.json").is_file():
            continue
        roles = fold_roles(busi["fold"], test_fold=fold, n_folds=profile.n_folds)
        test = (roles == "test").nonzero()[0]
        with tempfile.TemporaryDirectory() as workdir:
            run = segmentation.run_segmentation(arch, fold_split(fold), busi, roles, arrays.images, arrays.masks,
                                                [full_masks[i] for i in test], get_seg_recipe("strong"), int(epochs),
                                                Path(workdir), init="pretrained", monitor=fold == 0)
        run.cases.to_csv(out / f"fold{fold}_cases.csv", index=False)
        torch.save(half_state(run.model), out / f"fold{fold}.pth")
        result = {"arch": arch, "epochs": int(epochs), "precision": describe_bf16(torch.device("cpu")),
                  "params_m": sum(p.numel() for p in run.model.parameters()) / 1e6,
                  "valid_iou": run.valid_iou, "valid_iou_tta": run.valid_iou_tta, "tta": run.tta,
                  "train_minutes": run.fit_seconds / 60, "train_images_per_s": run.train_images_per_s,
                  "history": run.history.to_dict("records"), "test": run.summary}
        (out / f"fold{fold}.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))
    done = sorted(out.glob("fold?_cases.csv"))
    if len(done) == profile.n_folds:
        cases = pd.concat([pd.read_csv(path, dtype={"image_id": str}) for path in done], ignore_index=True)
        groups = busi.set_index("image_id").loc[cases["image_id"], "group"].to_numpy()
        pooled = summarise_cases(cases, groups, 0) | {"folds": len(done)}
        (out / "out_of_fold.json").write_text(json.dumps(pooled, indent=1) + "\n")
        print(json.dumps(pooled, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:7])
