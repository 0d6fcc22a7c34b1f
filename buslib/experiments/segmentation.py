"""Notebook 02: train a U2-Net variant on one split, then score it at each image's original resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from ..data.loaders import build_dataloaders
from ..data.splits import role_rows
from ..eval.segmentation import score_cases, summarise_cases
from ..eval.stats import format_ci
from ..infer import masks_at_original_size, predict_seg_logits
from ..models.size import model_size
from ..models.u2net import U2Net
from ..train.callbacks import history
from ..train.fitting import fit, seed_run
from ..train.segmentation import SegRecipe, seg_learner

__all__ = ["SegRun", "run_segmentation", "ranked_cases", "results_table", "metrics_frame"]


@dataclass
class SegRun:
    """What one training run leaves: the model, its learning curve, per-image scores and their summary."""

    key: str
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


def run_segmentation(variant: str, split: str, frame: pd.DataFrame, roles: Sequence[str], images: np.ndarray,
                     masks: np.ndarray, test_images: Sequence[np.ndarray], test_masks: Sequence[np.ndarray],
                     recipe: SegRecipe, epochs: int, workdir: Path, seed: int = 0) -> SegRun:
    """Train `variant` on the lesion images with role 'train' (monitoring 'valid'), then predict every
    'test' image (normal ones included), upsample to its original size and score it.

    `frame` rows align with `images`/`masks` (resized) and `roles`; `test_images`/`test_masks`
    are the 'test' rows at original resolution, in frame order. The run is seeded from its key
    (`<variant>_<split>`), so it gives the same result whatever ran before it.
    """
    key = f"{variant}_{split}"
    lesion = (frame["label"] != "normal").to_numpy()
    lesion_rows = role_rows(roles, split, keep=lesion)
    test = role_rows(roles, split)["test"]
    if len(test_masks) != len(test):
        raise ValueError(f"{len(test)} test rows but {len(test_masks)} full-resolution test masks")
    seed_run(key, seed)
    dls = build_dataloaders(images, masks, lesion_rows["train"], lesion_rows["valid"], "li", recipe.batch_size)
    learn = seg_learner(U2Net(variant), dls, recipe, Path(workdir), label=f"{key} seed {seed}")
    fit(learn, recipe, epochs)
    logits = predict_seg_logits(learn.model, images[test])
    predictions = masks_at_original_size(logits, [m.shape for m in test_masks])
    cases = score_cases(frame["image_id"].to_numpy()[test], predictions, test_masks)
    cases.insert(1, "label", frame["label"].to_numpy()[test])
    groups = frame["group"].to_numpy()[test] if "group" in frame else None
    return SegRun(key, variant, split, epochs, learn.model.eval(), history(learn), cases,
                  summarise_cases(cases, groups, seed), learn.fit_seconds,
                  learn.train_images / max(learn.fit_seconds, 1e-9), predictions)


def ranked_cases(cases: pd.DataFrame, metric: str = "dice", per_rank: int = 3) -> pd.DataFrame:
    """The `per_rank` best, median and worst lesion images by `metric`, with a 'rank' column."""
    lesion = cases[~cases["true_empty"]].sort_values(metric, ascending=False).reset_index()
    middle = max(0, len(lesion) // 2 - per_rank // 2)
    parts = {"best": lesion.head(per_rank), "median": lesion.iloc[middle:middle + per_rank],
             "worst": lesion.tail(per_rank)}
    return pd.concat([part.assign(rank=rank) for rank, part in parts.items()]).set_index("index")


def results_table(runs: Sequence[SegRun]) -> pd.DataFrame:
    """One row per run: split, epochs, the paper's pooled metrics, per-image means with CIs, size and speed."""
    rows = []
    for run in runs:
        s = run.summary
        rows.append({"model": run.variant, "split": run.split, "epochs": run.epochs,
                     **{k: s[k] for k in ("accuracy", "recall", "precision", "f1", "iou")},
                     "dice_mean": s["dice_mean"], "dice_95ci": format_ci(s["dice_ci_low"], s["dice_ci_high"]),
                     "iou_mean": s["iou_mean"], "iou_95ci": format_ci(s["iou_ci_low"], s["iou_ci_high"]),
                     "lesion_detection_rate": s["lesion_detection_rate"],
                     "normal_fp_rate": s.get("empty_false_positive_rate", float("nan")),
                     **model_size(run.model), "train_img_per_s": run.train_images_per_s,
                     "train_minutes": run.fit_seconds / 60})
    return pd.DataFrame(rows)


def metrics_frame(runs: Sequence[SegRun]) -> pd.DataFrame:
    """One row per run, keyed by its key: every summary number and the training minutes (for recording)."""
    return pd.DataFrame([{"key": run.key, **run.summary, "train_minutes": run.fit_seconds / 60} for run in runs])
