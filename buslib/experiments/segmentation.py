"""Notebook 02: train a U2-Net variant on one split, then score it at each image's original resolution."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from torch import nn

from ..data.loaders import build_dataloaders
from ..data.splits import fold_roles, fold_split, role_rows
from ..eval.segmentation import confusion_counts, headline_columns, pixel_metrics, score_cases, summarise_cases
from ..infer import masks_at_original_size, predict_seg_logits, predict_seg_logits_with_flip
from ..models.pretrained import u2net_duts
from ..models.size import model_size
from ..models.u2net import U2Net
from ..train.batchnorm import DEFAULT_BN_TREATMENT, prepare_batchnorm
from ..train.callbacks import history
from ..train.fitting import fit, seed_run
from ..train.segmentation import SegRecipe, seg_learner

__all__ = ["INITS", "MAX_NORMAL_FP", "SegRun", "ScoredRun", "run_segmentation", "pooled_iou", "lesion_scores",
           "choose_detection_threshold", "pooled_detection_threshold", "case_groups", "run_folds",
           "out_of_fold", "fold_table", "probe_table", "fold_weights", "half_state", "ranked_cases",
           "results_table", "metrics_frame"]

INITS = ("scratch", "pretrained")  # pretrained: the upstream U2-Net weights trained on DUTS salient objects


@dataclass
class SegRun:
    """What one training run leaves: the model, its learning curve, per-image scores and their summary."""

    key: str
    variant: str
    split: str
    init: str
    bn: str
    normals: bool
    tta: bool
    epochs: int
    model: nn.Module
    history: pd.DataFrame
    cases: pd.DataFrame
    summary: dict[str, float]
    fit_seconds: float
    train_images_per_s: float
    predictions: list[np.ndarray]   # every test image's predicted mask, whether or not a lesion is reported
    valid_iou: float
    valid_iou_tta: float
    detect_threshold: float         # a lesion is reported where the gate's score exceeds this
    valid: pd.DataFrame             # image_id, has_lesion, score (the gate's detection score) per validation image
    gate: str = "segmenter"         # whose score reports a lesion (`detection_gate`); `cases` has it as 'score'


# The share of new normal images the detection threshold may expect to let through. The study's ceiling is 0.10 on
# test images; the test share scatters around its expectation (0.00-0.27 over the folds of the first 5-fold run, each
# threshold set on its own 26 validation normals), so the threshold aims at half the ceiling.
MAX_NORMAL_FP = 0.05


def pooled_iou(predicted: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float:
    """Pooled IoU over all pixels of boolean predictions and masks, image by image (each pair of the same shape)."""
    return pixel_metrics([confusion_counts(p, m > 0) for p, m in zip(predicted, masks)])["iou"]


def lesion_scores(logits: np.ndarray) -> np.ndarray:
    """Each image's detection score: the highest lesion probability of its map (images x H x W logits)."""
    return 1 / (1 + np.exp(-logits.reshape(len(logits), -1).max(1).astype(np.float64)))


def choose_detection_threshold(scores: np.ndarray, has_lesion: np.ndarray,
                               max_normal_fp: float = MAX_NORMAL_FP) -> float:
    """The score threshold (a lesion is reported where score > threshold) that a new normal image is expected to
    pass with probability at most `max_normal_fp`: the ceil((n + 1)(1 - max_normal_fp))-th lowest of the n validation
    normal scores (the split-conformal quantile; a new image exchangeable with them exceeds the k-th lowest with
    probability (n + 1 - k) / (n + 1)). The plain empirical quantile lets more through than it aims at: with 26
    normals, its 2nd-highest score is passed by 2 in 27 new normals (7.4%), not 5%. Where n is too small for the
    aim, the highest normal score; 0 (report every image) without normal images."""
    normal = np.sort(np.asarray(scores)[~np.asarray(has_lesion, bool)])
    if not len(normal):
        return 0.0
    rank = int(np.ceil((len(normal) + 1) * (1 - max_normal_fp) - 1e-9))
    return float(normal[min(rank, len(normal)) - 1])


def pooled_detection_threshold(test_ids: Iterable, validations: Sequence[pd.DataFrame]) -> float:
    """`choose_detection_threshold` on the pooled validation images ('score', 'has_lesion') of every fold run in
    `validations` whose images hold none of `test_ids`: in the 5-fold rotation all runs but the one validated on that
    test fold (about 106 normals rather than one fold's 26). No score or label of a test image moves its own fold's
    threshold (the other runs did train on those images; what they contribute is their scores on other folds)."""
    test_ids = set(test_ids)
    valid = pd.concat([v for v in validations if test_ids.isdisjoint(v["image_id"])])
    return choose_detection_threshold(valid["score"].to_numpy(), valid["has_lesion"].to_numpy(bool))


def _start(variant: str, init: str, bn: str, train_images: np.ndarray) -> tuple[nn.Module, list]:
    """The network to fine-tune and the callbacks its batch-norm treatment needs."""
    if init not in INITS:
        raise ValueError(f"unknown initialisation '{init}'; choose one of {INITS}")
    if init == "scratch":
        return U2Net(variant), []
    model = u2net_duts(variant)
    return model, prepare_batchnorm(model, bn, train_images)


def run_segmentation(variant: str, split: str, frame: pd.DataFrame, roles: Sequence[str], images: np.ndarray,
                     masks: np.ndarray, test_masks: Sequence[np.ndarray], recipe: SegRecipe, epochs: int,
                     workdir: Path, seed: int = 0, init: str = "scratch", bn: str = DEFAULT_BN_TREATMENT,
                     normals: bool = True,
                     tta: bool | None = None, key: str | None = None, monitor: bool = True) -> SegRun:
    """Train `variant` on the images with role 'train' (monitoring 'valid'), then predict every 'test'
    image, upsample to its original size and score it.

    `init`: 'scratch' or 'pretrained' (DUTS, with batch-norm treatment `bn`); `normals`: train on the
    normal images too (empty masks) so that the model learns to say "no lesion"; `tta`: average with
    the horizontal flip at test time, None to decide on the validation images. `frame` rows align
    with `images`/`masks` (resized) and `roles`; `test_masks` are the 'test' rows' masks at original
    resolution, in frame order. `monitor`: validate after every epoch (the learning curve); False scores the
    validation images once, after training. The run is seeded from its key (default
    `<variant>_<init>_<split>`), so it gives the same result whatever ran before it.
    """
    key = key or f"{variant}_{init}_{split}"
    trained = (frame["label"] != "normal").to_numpy() | normals
    rows = role_rows(roles, split, keep=trained)
    test = role_rows(roles, split)["test"]
    if len(test_masks) != len(test):
        raise ValueError(f"{len(test)} test rows but {len(test_masks)} full-resolution test masks")
    seed_run(key, seed)
    model, callbacks = _start(variant, init, bn, images[rows["train"]])
    dls = build_dataloaders(images, masks, rows["train"], rows["valid"], "li", recipe.batch_size)
    learn = seg_learner(model, dls, recipe, Path(workdir), cbs=callbacks, label=f"{key} seed {seed}")
    fit(learn, recipe, epochs, monitor)
    model = learn.model.eval()
    valid_images, valid_masks = images[rows["valid"]], masks[rows["valid"]]
    plain, flipped = predict_seg_logits_with_flip(model, valid_images, progress=False)
    valid_iou, valid_iou_tta = pooled_iou(plain > 0, valid_masks), pooled_iou(flipped > 0, valid_masks)
    tta = valid_iou_tta > valid_iou if tta is None else tta
    valid = pd.DataFrame({"image_id": frame["image_id"].to_numpy()[rows["valid"]],
                          "has_lesion": valid_masks.reshape(len(valid_masks), -1).any(1),
                          "score": lesion_scores(flipped if tta else plain)})
    threshold = choose_detection_threshold(valid["score"], valid["has_lesion"])
    logits = predict_seg_logits(model, images[test], tta=tta)
    predictions = masks_at_original_size(logits, [m.shape for m in test_masks])
    scores = lesion_scores(logits)
    cases = score_cases(frame["image_id"].to_numpy()[test], predictions, test_masks, detected=scores > threshold)
    cases.insert(1, "label", frame["label"].to_numpy()[test])
    cases["score"] = scores
    groups = frame["group"].to_numpy()[test] if "group" in frame else None
    return SegRun(key, variant, split, init, bn if init == "pretrained" else "-", normals, tta, epochs, model,
                  history(learn), cases, summarise_cases(cases, groups, seed), learn.fit_seconds,
                  learn.train_images / max(learn.fit_seconds, 1e-9), predictions, valid_iou, valid_iou_tta, threshold,
                  valid)


def case_groups(frame: pd.DataFrame, cases: pd.DataFrame) -> np.ndarray | None:
    """The near-duplicate group of each scored image (for the bootstrap), None where `frame` has no groups."""
    return frame.set_index("image_id").loc[cases["image_id"], "group"].to_numpy() if "group" in frame else None


def run_folds(variant: str, frame: pd.DataFrame, images: np.ndarray, masks: np.ndarray,
              full_masks: Sequence[np.ndarray], recipe: SegRecipe, epochs: int,
              workdir: Path, seed: int = 0, done: Sequence[SegRun] = (), **start) -> list[SegRun]:
    """One run per grouped test fold (`frame['fold']`), each trained on the other folds; `done` runs
    (e.g. fold 0, already trained, with its learning curve) are reused. The others skip the per-epoch validation
    pass (their validation images are scored once, after training). `full_masks` (original resolution) align with
    `frame`."""
    n_folds = int(frame["fold"].max()) + 1
    runs = {run.split: run for run in done}
    for fold in range(n_folds):
        split = fold_split(fold)
        if split in runs:
            continue
        roles = fold_roles(frame["fold"], test_fold=fold, n_folds=n_folds)
        test = np.flatnonzero(roles == "test")
        runs[split] = run_segmentation(variant, split, frame, roles, images, masks, [full_masks[i] for i in test],
                                       recipe, epochs, workdir, seed, monitor=False, **start)
    return [runs[fold_split(fold)] for fold in range(n_folds)]


class ScoredRun(Protocol):
    """A fold run with per-image test scores (`SegRun`, or the zoomed second stage's `ZoomRun`)."""

    cases: pd.DataFrame


def out_of_fold(runs: Sequence[ScoredRun], frame: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """Every fold's test predictions pooled into one set of metrics, intervals by group bootstrap over all images."""
    cases = pd.concat([run.cases for run in runs], ignore_index=True)
    if cases["image_id"].duplicated().any():
        raise ValueError("an image is in more than one test fold")
    return summarise_cases(cases, case_groups(frame, cases), seed) | {"folds": len(runs)}


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
        rows.append({"model": run.variant, "init": run.init, "bn": run.bn, "normals": run.normals,
                     "split": run.split, "epochs": run.epochs, "tta": run.tta, "gate": run.gate,
                     "detect_threshold": run.detect_threshold,
                     **{k: s[k] for k in ("accuracy", "recall", "precision", "f1")}, **headline_columns(s),
                     "lesion_detection_rate": s["lesion_detection_rate"],
                     "normal_fp_rate": s.get("empty_false_positive_rate", float("nan")), "iou_gated": s["iou_gated"],
                     **model_size(run.model), "train_img_per_s": run.train_images_per_s,
                     "train_minutes": run.fit_seconds / 60})
    return pd.DataFrame(rows)


def metrics_frame(runs: Sequence[SegRun]) -> pd.DataFrame:
    """One row per run, keyed by its key: every summary number and the training minutes (for recording)."""
    return pd.DataFrame([{"key": run.key, **run.summary, "valid_iou": run.valid_iou, "valid_iou_tta": run.valid_iou_tta,
                          "tta": float(run.tta), "detect_threshold": run.detect_threshold,
                          "detector_gate": float(run.gate != "segmenter"),
                          "train_minutes": run.fit_seconds / 60}
                         for run in runs])


def probe_table(runs: Sequence[SegRun]) -> pd.DataFrame:
    """One row per batch-norm treatment probe: what it reached on validation data (the choice) and on test."""
    return pd.DataFrame([{"bn": run.bn, "epochs": run.epochs, "valid_iou": run.valid_iou,
                          "valid_iou_tta": run.valid_iou_tta, "test_iou": run.summary["iou"],
                          "train_minutes": run.fit_seconds / 60} for run in runs])


def fold_table(runs: Sequence[SegRun], pooled: dict[str, float]) -> pd.DataFrame:
    """One row per cross-validation fold and the pooled out-of-fold row, each with its 95% intervals."""
    columns = ("lesion_detection_rate", "empty_false_positive_rate", "iou_gated", "lesion_images")

    def row(fold: str, summary: dict[str, float], **choices) -> dict:
        return {"fold": fold, **choices, **headline_columns(summary), **{c: summary.get(c) for c in columns}}

    rows = [row(run.split, run.summary, tta=run.tta, gate=run.gate, detect_threshold=run.detect_threshold)
            for run in runs]
    rows.append(row(f"out-of-fold, {len(runs)} folds pooled", pooled))
    return pd.DataFrame(rows).rename(columns={"empty_false_positive_rate": "normal_fp_rate"})


def half_state(model: nn.Module) -> dict:
    """The model's weights with floating-point tensors in half precision (half the size on disk)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def fold_weights(runs: Sequence[SegRun]) -> dict[str, dict]:
    """Each fold model's weights in half precision (fold split -> state dict), for the fold ensemble."""
    return {run.split: half_state(run.model) for run in runs}
