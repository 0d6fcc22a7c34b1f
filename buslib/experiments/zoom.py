"""A zoomed second stage for U2NET-Lite (coarse to fine): a second U2NET-Lite trained on crops around the true lesion,
run at test time on the crop around the lesion that the whole-image model (stage 1) predicts, its map averaged with
stage 1's inside that crop.

Stage 1 outlines short (it covers about 77% of the lesion pixels it finds, at 86% precision) and gives a small lesion
few of its 128 pixels; stage 2 sees the lesion at the full input size. How stage 2 is used (`ZoomUse`: the box around
stage 1's largest region or around all its pixels, the margin, one pass or two) is chosen per fold on that fold's
validation lesion images, stage 1 alone included, never on test images. From the *true* box it shows what a perfect
localiser would give (`true_box_iou`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from ..data.cache import resize_image, resize_pair
from ..data.loaders import build_dataloaders
from ..data.splits import fold_roles, role_rows, split_fold
from ..eval.segmentation import score_cases, summarise_cases
from ..infer import predict_seg_logits
from ..models.pretrained import u2net_duts
from ..train.batchnorm import DEFAULT_BN_TREATMENT, prepare_batchnorm
from ..train.fitting import fit, seed_run
from ..train.segmentation import SegRecipe, seg_learner
from .lesion_crops import lesion_box
from .segmentation import SegRun, case_groups, pooled_iou

__all__ = ["ZOOM_TABLE_COLUMNS", "TRAIN_MARGINS", "JITTERS", "TRUE_BOX_MARGIN", "ZoomUse", "ZOOM_USES", "STAGE1_ONLY",
           "zoom_use", "jittered_box", "lesion_crop_pairs", "probability_maps", "zoom_pass", "zoom_probabilities",
           "use_search", "train_zoom_stage", "ZoomRun", "run_zoom", "run_zoom_folds", "zoom_fold_table", "zoom_weights"]

TRAIN_MARGINS = (0.1, 0.6)   # each side of a training crop widens the true box by a share drawn from this range
JITTERS = 2                  # training crops per lesion image, each with its own margins
TRUE_BOX_MARGIN = 0.3        # the true box's margin: stage 2's monitoring crops and its upper bound


@dataclass(frozen=True)
class ZoomUse:
    """How stage 2 is run on stage 1's map: the box around its largest region ('largest') or all its pixels ('all'),
    widened by `margin` on each side, `passes` times (a second pass crops around the first pass's map)."""

    box: str
    margin: float
    passes: int

    @property
    def name(self) -> str:
        return f"{self.box}_box_margin{self.margin}_passes{self.passes}"


ZOOM_USES = tuple(ZoomUse(*use) for use in product(("largest", "all"), (0.3, 0.6), (1, 2)))
STAGE1_ONLY = "stage1_only"   # the choice that keeps stage 1's map where no use beats it on validation


def zoom_use(name: str) -> ZoomUse | None:
    """The `ZoomUse` of that name, or None for `STAGE1_ONLY`."""
    if name == STAGE1_ONLY:
        return None
    for use in ZOOM_USES:
        if use.name == name:
            return use
    raise ValueError(f"unknown zoom use {name!r}: expected {STAGE1_ONLY!r} or one of {[u.name for u in ZOOM_USES]}")


def jittered_box(mask: np.ndarray, rng: np.random.Generator,
                 margins: tuple[float, float] = TRAIN_MARGINS) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the mask's lesion widened on each side by its own share drawn from `margins`
    (so the lesion is not always centred), clipped to the image."""
    box = lesion_box(mask, 0.0)
    if box is None:
        raise ValueError("jittered_box needs a mask with a lesion; this one is empty")
    top, bottom, left, right = box
    pads = rng.uniform(*margins, size=4) * np.array([bottom - top] * 2 + [right - left] * 2)
    return (max(0, top - round(pads[0])), min(mask.shape[0], bottom + round(pads[1])),
            max(0, left - round(pads[2])), min(mask.shape[1], right + round(pads[3])))


def lesion_crop_pairs(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], boxes: Sequence[tuple],
                      size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask crops (uint8, N x size x size) for each (top, bottom, left, right) box."""
    pairs = [resize_pair(image[top:bottom, left:right], mask[top:bottom, left:right].astype(np.uint8), size)
             for image, mask, (top, bottom, left, right) in zip(images, masks, boxes, strict=True)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def probability_maps(logits: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Each logit map bilinearly upsampled to its (height, width), as probabilities (> 0.5 is
    `masks_at_original_size`'s mask)."""
    if len(logits) != len(shapes):
        raise ValueError(f"{len(logits)} logit maps but {len(shapes)} shapes")
    return [torch.sigmoid(F.interpolate(torch.from_numpy(logit)[None, None], size=tuple(shape), mode="bilinear",
                                        align_corners=False))[0, 0].numpy() for logit, shape in zip(logits, shapes)]


def _largest_region(mask: np.ndarray) -> np.ndarray:
    regions, count = ndimage.label(mask)
    return mask if not count else regions == np.bincount(regions.ravel())[1:].argmax() + 1


def zoom_pass(model: nn.Module, images: Sequence[np.ndarray], maps: Sequence[np.ndarray], box: str, margin: float,
              size: int) -> list[np.ndarray]:
    """One pass of stage 2 (`model`, flip-averaged) over probability maps at the images' size: crop around each map's
    lesion (its largest region for `box` 'largest', all its pixels for 'all', widened by `margin` on each side), run
    stage 2 on the crop at `size` and average its map with the current one there. Maps with no pixel above 0.5 are
    left as they are."""
    current = list(maps)
    found = [k for k, p in enumerate(current) if (p > 0.5).any()]
    if not found:
        return current
    boxes = []
    for k in found:
        lesion = current[k] > 0.5
        boxes.append(lesion_box(_largest_region(lesion) if box == "largest" else lesion, margin))
    crops = np.stack([resize_image(images[k][top:bottom, left:right], size)
                      for k, (top, bottom, left, right) in zip(found, boxes)])
    logits = predict_seg_logits(model, crops, tta=True, progress=False)
    patches = probability_maps(logits, [(bottom - top, right - left) for top, bottom, left, right in boxes])
    for k, patch, (top, bottom, left, right) in zip(found, patches, boxes):
        current[k] = current[k].copy()
        current[k][top:bottom, left:right] = (current[k][top:bottom, left:right] + patch) / 2
    return current


def zoom_probabilities(model: nn.Module, images: Sequence[np.ndarray], stage1: Sequence[np.ndarray], use: ZoomUse,
                       size: int) -> list[np.ndarray]:
    """Stage 1's probability maps (original size) refined by `use.passes` passes of `zoom_pass`."""
    current = list(stage1)
    for _ in range(use.passes):
        current = zoom_pass(model, images, current, use.box, use.margin, size)
    return current


def use_search(model: nn.Module, images: Sequence[np.ndarray], stage1: Sequence[np.ndarray],
               masks: Sequence[np.ndarray], size: int) -> dict[str, float]:
    """Pooled IoU of stage 1 alone (`STAGE1_ONLY`) and of every `ZOOM_USES` use on these images. A use of more
    passes continues from the maps of the same box and margin with fewer, so no pass runs twice."""
    scores = {STAGE1_ONLY: pooled_iou([p > 0.5 for p in stage1], masks)}
    refined: dict[tuple[str, float], tuple[int, list[np.ndarray]]] = {}   # (box, margin) -> (passes run, maps)
    for use in ZOOM_USES:
        done, maps = refined.get((use.box, use.margin), (0, list(stage1)))
        if done > use.passes:
            done, maps = 0, list(stage1)
        for _ in range(use.passes - done):
            maps = zoom_pass(model, images, maps, use.box, use.margin, size)
        refined[(use.box, use.margin)] = (use.passes, maps)
        scores[use.name] = pooled_iou([p > 0.5 for p in maps], masks)
    return scores


def train_zoom_stage(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], train: Sequence[int],
                     valid: Sequence[int], recipe: SegRecipe, epochs: int, size: int, workdir: Path, key: str,
                     seed: int = 0) -> tuple[nn.Module, float]:
    """Stage 2 from the DUTS U2NET-Lite (batch norm recalibrated on its training crops), trained on `JITTERS`
    jittered crops around the lesion of each `train` image (original resolution, lesion images only) and monitored
    on the `valid` images' true-box crops. Returns the model in eval mode and its training seconds."""
    seed_run(key, seed)
    rng = np.random.default_rng(seed)
    repeated = [i for i in train for _ in range(JITTERS)]
    train_images, train_masks = lesion_crop_pairs([images[i] for i in repeated], [masks[i] for i in repeated],
                                                  [jittered_box(masks[i], rng) for i in repeated], size)
    valid_images, valid_masks = lesion_crop_pairs([images[i] for i in valid], [masks[i] for i in valid],
                                                  [lesion_box(masks[i], TRUE_BOX_MARGIN) for i in valid], size)
    model = u2net_duts("u2netp")
    callbacks = prepare_batchnorm(model, DEFAULT_BN_TREATMENT, train_images)
    n_train = len(train_images)
    dls = build_dataloaders(np.concatenate([train_images, valid_images]), np.concatenate([train_masks, valid_masks]),
                            np.arange(n_train), np.arange(n_train, n_train + len(valid_images)), "li",
                            recipe.batch_size)
    learn = seg_learner(model, dls, recipe, Path(workdir), cbs=callbacks, label=f"{key} seed {seed}")
    fit(learn, recipe, epochs, monitor=False)
    return learn.model.eval(), learn.fit_seconds


@dataclass
class ZoomRun:
    """Stage 2 on one grouped test fold: the use chosen on validation, validation IoUs, the test cases scored with
    stage 1's detection decisions, and stage 2's outlines from the true box."""

    split: str
    model: nn.Module
    use: str                         # a `ZoomUse` name, or `STAGE1_ONLY`
    valid_iou: dict[str, float]      # pooled IoU of the validation lesion images: stage 1 alone and every use
    cases: pd.DataFrame
    summary: dict[str, float]
    stage1_iou: float                # stage 1's pooled IoU on the same test lesion images
    true_box_iou: float              # stage 2 from the true box (margin `TRUE_BOX_MARGIN`), test lesion images
    fit_seconds: float


def _stage1_maps(stage1: SegRun, small: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    return probability_maps(predict_seg_logits(stage1.model, small, tta=stage1.tta, progress=False), shapes)


def run_zoom(stage1: SegRun, frame: pd.DataFrame, small: np.ndarray, images: Sequence[np.ndarray],
             masks: Sequence[np.ndarray], recipe: SegRecipe, epochs: int, size: int, workdir: Path,
             seed: int = 0) -> ZoomRun:
    """Train stage 2 on `stage1`'s grouped test fold (its training folds' lesion images), choose its use on the
    validation lesion images (pooled IoU at original size; stage 1 alone wins ties) and score the test images.
    `small` are the study's input-size images (stage 1's inputs), `images`/`masks` the originals, all aligned with
    `frame`."""
    roles = fold_roles(frame["fold"], test_fold=split_fold(stage1.split), n_folds=int(frame["fold"].max()) + 1)
    lesion = (frame["label"] != "normal").to_numpy()
    rows = role_rows(roles, stage1.split, keep=lesion)
    model, seconds = train_zoom_stage(images, masks, rows["train"], rows["valid"], recipe, epochs, size, workdir,
                                      f"zoom_u2netp_{stage1.split}", seed)
    valid = rows["valid"]
    valid_masks = [masks[i] for i in valid]
    first = _stage1_maps(stage1, small[valid], [m.shape for m in valid_masks])
    valid_iou = use_search(model, [images[i] for i in valid], first, valid_masks, size)
    chosen = max(valid_iou, key=lambda name: (valid_iou[name], name == STAGE1_ONLY))

    test = role_rows(roles, stage1.split)["test"]
    test_masks = [masks[i] for i in test]
    maps = _stage1_maps(stage1, small[test], [m.shape for m in test_masks])
    use = zoom_use(chosen)
    if use is not None:
        maps = zoom_probabilities(model, [images[i] for i in test], maps, use, size)
    predictions = [p > 0.5 for p in maps]
    cases = score_cases(frame["image_id"].to_numpy()[test], predictions, test_masks,
                        detected=stage1.cases["detected"].to_numpy(bool))
    cases.insert(1, "label", frame["label"].to_numpy()[test])
    cases["score"] = stage1.cases["score"].to_numpy()
    lesion_test = [k for k, m in enumerate(test_masks) if m.any()]
    boxes = [lesion_box(test_masks[k], TRUE_BOX_MARGIN) for k in lesion_test]
    crops = np.stack([resize_image(images[test[k]][top:bottom, left:right], size)
                      for k, (top, bottom, left, right) in zip(lesion_test, boxes)])
    patches = probability_maps(predict_seg_logits(model, crops, tta=True, progress=False),
                               [(bottom - top, right - left) for top, bottom, left, right in boxes])
    from_true = []
    for k, patch, (top, bottom, left, right) in zip(lesion_test, patches, boxes):
        full = np.zeros(test_masks[k].shape, bool)
        full[top:bottom, left:right] = patch > 0.5
        from_true.append(full)
    lesion_truth = [test_masks[k] for k in lesion_test]
    return ZoomRun(stage1.split, model, chosen, valid_iou, cases,
                   summarise_cases(cases, case_groups(frame, cases), seed),
                   pooled_iou([stage1.predictions[k] for k in lesion_test], lesion_truth),
                   pooled_iou(from_true, lesion_truth), seconds)


def run_zoom_folds(folds: Sequence[SegRun], frame: pd.DataFrame, small: np.ndarray, images: Sequence[np.ndarray],
                   masks: Sequence[np.ndarray], recipe: SegRecipe, epochs: int, size: int, workdir: Path,
                   seed: int = 0) -> list[ZoomRun]:
    """`run_zoom` on every fold run of notebook 02's cross-validation."""
    return [run_zoom(run, frame, small, images, masks, recipe, epochs, size, workdir, seed) for run in folds]


ZOOM_TABLE_COLUMNS = ("fold", "use", "valid_iou_stage1", "valid_iou_chosen", "test_iou_stage1", "test_iou_two_stage",
                      "test_iou_true_box", "train_minutes")


def zoom_fold_table(runs: Sequence[ZoomRun]) -> pd.DataFrame:
    """One row per fold: the use chosen, stage 1's and the chosen use's validation IoU, and on the test lesion images
    stage 1's pooled IoU, the two-stage system's and stage 2's from the true box (no rows, the same columns, without
    runs)."""
    return pd.DataFrame([{"fold": run.split, "use": run.use, "valid_iou_stage1": run.valid_iou[STAGE1_ONLY],
                          "valid_iou_chosen": run.valid_iou[run.use], "test_iou_stage1": run.stage1_iou,
                          "test_iou_two_stage": run.summary["iou"], "test_iou_true_box": run.true_box_iou,
                          "train_minutes": run.fit_seconds / 60} for run in runs], columns=ZOOM_TABLE_COLUMNS)


def zoom_weights(runs: Sequence[ZoomRun]) -> dict[str, dict]:
    """Each fold's stage 2 in half precision with the use chosen for it: split -> {'state', 'use'}."""
    return {run.split: {"state": {k: v.half() if v.is_floating_point() else v
                                  for k, v in run.model.state_dict().items()}, "use": run.use} for run in runs}
