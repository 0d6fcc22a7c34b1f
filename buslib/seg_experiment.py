"""One segmentation experiment: train a U2-Net variant on one split, then score it at the original resolution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .seg_metrics import score_cases, summarise_cases
from .seg_train import SegRecipe, fit, masks_at_original_size, predict_logits, seg_learner
from .loaders import build_dataloaders
from .training import history
from .u2net import U2Net


@dataclass
class SegRun:
    """What one training run leaves: the model, its learning curve, per-image scores and their summary."""

    name: str
    variant: str
    split: str
    epochs: int
    model: nn.Module
    history: pd.DataFrame
    cases: pd.DataFrame
    summary: dict[str, float]
    fit_seconds: float
    train_images_per_s: float
    predictions: list[np.ndarray]


def run_segmentation(name: str, variant: str, split: str, frame: pd.DataFrame, roles: Sequence[str], images: np.ndarray,
                     masks: np.ndarray, test_images: Sequence[np.ndarray], test_masks: Sequence[np.ndarray],
                     recipe: SegRecipe, epochs: int, workdir: Path, seed: int = 0) -> SegRun:
    """Train `variant` on the lesion images with role 'train' (monitoring 'valid'), then predict every
    'test' image (normal ones included), upsample to its original size and score it.

    `frame` rows align with `images`/`masks` (resized) and `roles`; `test_images`/`test_masks`
    are the 'test' rows at original resolution, in frame order.
    """
    roles = np.asarray(roles)
    lesion = (frame["label"] != "normal").to_numpy()
    train = np.flatnonzero((roles == "train") & lesion)
    valid = np.flatnonzero((roles == "valid") & lesion)
    test = np.flatnonzero(roles == "test")
    if len(test_masks) != len(test):
        raise ValueError(f"{len(test)} test rows but {len(test_masks)} full-resolution test masks")
    for role, rows in (("train", train), ("valid", valid), ("test", test)):
        if len(rows) == 0:
            raise ValueError(f"split '{name}' has no {role} images")
    torch.manual_seed(seed)
    dls = build_dataloaders(images, masks, train, valid, "li", recipe.batch_size)
    learn = seg_learner(U2Net(variant), dls, recipe, Path(workdir))
    fit(learn, recipe, epochs)
    logits = predict_logits(learn.model, images[test])
    predictions = masks_at_original_size(logits, [m.shape for m in test_masks])
    cases = score_cases(frame["image_id"].to_numpy()[test], predictions, test_masks)
    cases.insert(1, "label", frame["label"].to_numpy()[test])
    groups = frame["group"].to_numpy()[test] if "group" in frame else None
    return SegRun(name, variant, split, epochs, learn.model.eval(), history(learn), cases, summarise_cases(cases, groups, seed),
                  learn.fit_seconds, learn.train_images / max(learn.fit_seconds, 1e-9), predictions)


def model_size(model: nn.Module) -> dict[str, float]:
    """Parameters (millions) and fp32 state-dict size (MB, 10^6 bytes) of a model."""
    params = sum(p.numel() for p in model.parameters())
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6
    return {"params_m": params / 1e6, "size_mb": size}


def ranked_cases(cases: pd.DataFrame, metric: str = "dice", per_rank: int = 3) -> pd.DataFrame:
    """The `per_rank` best, median and worst lesion images by `metric`, with a 'rank' column."""
    lesion = cases[~cases["true_empty"]].sort_values(metric, ascending=False).reset_index()
    middle = max(0, len(lesion) // 2 - per_rank // 2)
    parts = {"best": lesion.head(per_rank), "median": lesion.iloc[middle:middle + per_rank],
             "worst": lesion.tail(per_rank)}
    return pd.concat([part.assign(rank=rank) for rank, part in parts.items()]).set_index("index")


def results_table(runs: dict[str, SegRun]) -> pd.DataFrame:
    """One row per run: split, epochs, the paper's pooled metrics, per-image means with CIs, size and speed."""
    rows = []
    for run in runs.values():
        s = run.summary
        rows.append({"model": run.variant, "split": run.split, "epochs": run.epochs,
                     **{k: s[k] for k in ("accuracy", "recall", "precision", "f1", "iou")},
                     "dice_mean": s["dice_mean"], "dice_95ci": f"{s['dice_ci_low']:.3f}-{s['dice_ci_high']:.3f}",
                     "iou_mean": s["iou_mean"], "iou_95ci": f"{s['iou_ci_low']:.3f}-{s['iou_ci_high']:.3f}",
                     "normal_fp_rate": s.get("empty_false_positive_rate", float("nan")),
                     **model_size(run.model), "train_img_per_s": run.train_images_per_s,
                     "train_minutes": run.fit_seconds / 60})
    return pd.DataFrame(rows)
