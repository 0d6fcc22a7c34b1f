"""Segment, then classify (Li et al.'s system "as a whole"): classify the lesion region that U2NET-Lite
finds instead of the whole image.

The classifier trains on crops around the *true* lesion (its training images' masks are known) and is
validated and tested on crops around the lesion that the U2NET-Lite of the same grouped fold *predicts*, which
never saw those images. Each crop is the lesion's bounding box widened by a margin on every side, resized to the
classifier's input size; an image with no predicted lesion is classified whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from torch import nn

from ..data.cache import resize_image
from ..infer import masks_at_original_size, predict_seg_logits
from .classification import ClsRun, TaskData, run_classifier

__all__ = ["CROP_SPLIT", "CROP_MARGIN", "crop_split", "is_crop_split", "crop_model_name", "is_crop_model", "lesion_box",
           "crop_to_lesion", "lesion_crops", "predicted_masks", "crop_inputs", "run_crop_classifier", "run_crop_folds",
           "as_fold_runs"]

CROP_MARGIN = 0.2             # the box is widened by this share of its height and width on each side
_PREFIX = "crop_"
_SUFFIX = "_crop"


def crop_split(split: str) -> str:
    """The split label of the crop classifier trained on grouped `split` (cropped inputs), e.g. 'crop_grouped_f1'."""
    return f"{_PREFIX}{split}"


def is_crop_split(split: str) -> bool:
    """Whether a saved classifier's split label is a crop classifier's (its inputs must be lesion crops)."""
    return split.startswith(_PREFIX)


def crop_model_name(model_name: str) -> str:
    """The name a crop classifier goes by in cross-validation tables and ensembles, e.g. 'effnet_lite2_crop'."""
    return f"{model_name}{_SUFFIX}"


def is_crop_model(model_name: str) -> bool:
    """Whether a cross-validation table's model (or one part of an average) is a crop classifier."""
    return model_name.endswith(_SUFFIX)


CROP_SPLIT = crop_split("grouped")   # the crop classifier of grouped test fold 0


def lesion_box(mask: np.ndarray, margin: float = CROP_MARGIN) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), end-exclusive, of the mask's lesion pixels widened by `margin` of the box
    size on each side and clipped to the image; None when the mask is empty."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad_y, pad_x = round(margin * (bottom - top)), round(margin * (right - left))
    height, width = mask.shape
    return max(0, top - pad_y), min(height, bottom + pad_y), max(0, left - pad_x), min(width, right + pad_x)


def crop_to_lesion(image: np.ndarray, mask: np.ndarray, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """The lesion region of a grey image (its box, widened) at `size` x `size`; the whole image if the mask is empty."""
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in shape")
    box = lesion_box(mask, margin)
    if box is not None:
        top, bottom, left, right = box
        image = image[top:bottom, left:right]
    return resize_image(image, size)


def lesion_crops(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], size: int,
                 margin: float = CROP_MARGIN) -> np.ndarray:
    """Every image cropped to its mask's lesion (N, size, size) uint8."""
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    crops = np.empty((len(images), size, size), np.uint8)
    for i, (image, mask) in enumerate(zip(images, masks)):
        crops[i] = crop_to_lesion(image, mask, size, margin)
    return crops


def predicted_masks(segmenter: nn.Module, images: Sequence[np.ndarray], seg_size: int) -> list[np.ndarray]:
    """The segmenter's lesion mask of each full-resolution grey image, predicted at `seg_size` and
    upsampled back to the image's size."""
    small = np.stack([resize_image(image, seg_size) for image in images])
    return masks_at_original_size(predict_seg_logits(segmenter, small, progress=False), [i.shape[:2] for i in images])


def _split_roles(data: TaskData, split: str) -> np.ndarray:
    """The roles of grouped `split` in `data`, with a clear error where the task has no such split."""
    if split not in data.roles:
        raise ValueError(f"no split '{split}' in the {data.task} task; choose one of {sorted(data.roles)}")
    return data.roles[split]


def crop_inputs(data: TaskData, full_images: Sequence[np.ndarray], full_masks: Sequence[np.ndarray],
                segmenter: nn.Module, seg_size: int, split: str = "grouped") -> np.ndarray:
    """Every image's crop on grouped `split` (default test fold 0): around the true lesion for its training images,
    around the lesion `segmenter` predicts for the others (it must be the segmenter trained without that split's
    validation and test folds). `full_images`/`full_masks` align with `data.frame`."""
    size = data.images.shape[-1]
    crops = lesion_crops(full_images, full_masks, size)
    unseen = np.flatnonzero(_split_roles(data, split) != "train")
    crops[unseen] = lesion_crops([full_images[i] for i in unseen],
                                 predicted_masks(segmenter, [full_images[i] for i in unseen], seg_size), size)
    return crops


def run_crop_classifier(like: ClsRun, data: TaskData, crops: np.ndarray, workdir: Path, seed: int = 0,
                        split: str = "grouped", monitor: bool = True) -> ClsRun:
    """`like`'s model, initialisation and epochs on grouped `split` with lesion crops (`crop_inputs` of that split)
    as inputs; `monitor` as `run_classifier`'s."""
    return run_classifier(like.model_name, data.task, crop_split(split), data.frame, _split_roles(data, split), crops,
                          data.targets, like.epochs, workdir, like.init == "imagenet", seed, monitor=monitor)


def run_crop_folds(likes: Sequence[ClsRun], data: TaskData, full_images: Sequence[np.ndarray],
                   full_masks: Sequence[np.ndarray], segmenters: Mapping[str, nn.Module], seg_size: int,
                   workdir: Path, seed: int = 0) -> list[list[ClsRun]]:
    """Each of `likes` as a crop classifier on every grouped split that has a segmenter (`segmenters` by split,
    each trained without that split's validation and test folds), test fold 0 first; one list of runs per model.
    Each split's crops are made once for all models; only test fold 0's runs validate after every epoch."""
    splits = sorted(segmenters, key=lambda split: (len(split), split))
    runs: list[list[ClsRun]] = [[] for _ in likes]
    for i, split in enumerate(splits):
        crops = crop_inputs(data, full_images, full_masks, segmenters[split], seg_size, split)
        for like, done in zip(likes, runs):
            print(f"[{data.task} / segment, then classify] {like.model_name} on predicted-lesion crops, split "
                  f"{split} ({i + 1} of {len(splits)})", flush=True)
            done.append(run_crop_classifier(like, data, crops, workdir, seed, split, monitor=i == 0))
    return runs


def as_fold_runs(crop_runs: Sequence[ClsRun]) -> list[ClsRun]:
    """Crop runs as cross-validation fold runs: model named by `crop_model_name`, split the grouped fold's own, so
    that they pool and average with the whole-image fold runs. For tables only: the renamed model has no registry
    entry (save the runs themselves)."""
    return [replace(run, model_name=crop_model_name(run.model_name), split=run.split.removeprefix(_PREFIX))
            for run in crop_runs]
