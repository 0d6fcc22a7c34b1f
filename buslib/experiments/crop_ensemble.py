"""Notebook 04's segment-then-classify ensembles: classifiers that take full-resolution images, so that crop
classifiers (each with the U2NET-Lite of its own fold) and whole-image classifiers can be averaged together.

A `CropClassifier` classifies the predicted-lesion crop that its fold's `LesionMasks` finds (U2NET-Lite, run once per
image set however many crop classifiers the fold has); a `WholeImageClassifier` resizes the image as the study's
arrays are made (`resize_image`, the same bytes as `load_arrays`). Both keep the thresholds that BUSI validation
data chose; `FoldEnsemble` averages either kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from torch import nn

from ..data.cache import resize_image
from .classification import run_key
from .external import FoldEnsemble, FrozenClassifier, load_frozen_classifiers, named_average
from .lesion_crops import crop_model_name, crop_split, lesion_crops, predicted_masks
from .segmenters import load_crop_segmenters

__all__ = ["LesionMasks", "CropClassifier", "WholeImageClassifier", "load_crop_ensembles", "mixed_ensemble"]


class LesionMasks:
    """One fold's U2NET-Lite at `seg_size`, remembering the masks of the last image sequence it segmented (by
    identity, so the sequence must not change in place), so that the fold's crop classifiers share one segmentation."""

    def __init__(self, segmenter: nn.Module, seg_size: int) -> None:
        self.segmenter, self.seg_size = segmenter, seg_size
        self._images: Sequence[np.ndarray] | None = None
        self._masks: list[np.ndarray] = []

    def __call__(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The predicted lesion mask of each full-resolution grey image, at the image's size."""
        if images is not self._images:
            self._images, self._masks = images, predicted_masks(self.segmenter, images, self.seg_size)
        return self._masks


@dataclass(frozen=True)
class _FullResolution:
    """A frozen classifier behind an input step that turns full-resolution grey images into its inputs."""

    classifier: FrozenClassifier

    @property
    def key(self) -> str:
        return self.classifier.key

    @property
    def model_name(self) -> str:
        return self.classifier.model_name

    @property
    def split(self) -> str:
        return self.classifier.split

    @property
    def init(self) -> str:
        return self.classifier.init

    @property
    def threshold(self) -> float:
        return self.classifier.threshold

    @property
    def triage_threshold(self) -> float:
        return self.classifier.triage_threshold


@dataclass(frozen=True)
class WholeImageClassifier(_FullResolution):
    """A whole-image classifier on full-resolution images, resized to its `size`."""

    size: int

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.classifier.predict(np.stack([resize_image(image, self.size) for image in images]))


@dataclass(frozen=True)
class CropClassifier(_FullResolution):
    """A crop classifier on full-resolution images: `masks` (its own fold's U2NET-Lite) finds the lesion, the box
    widened by the training margin is classified at `size` (the whole image where no lesion is found)."""

    masks: LesionMasks
    size: int

    @property
    def model_name(self) -> str:
        return crop_model_name(self.classifier.model_name)

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.classifier.predict(lesion_crops(images, self.masks(images), self.size))


def load_crop_ensembles(report_dir: Path, size: int, seg_size: int) -> list[FoldEnsemble]:
    """Notebook 03's crop classifiers of every grouped split, each with its split's U2NET-Lite, as one fold ensemble
    per model (in notebook 03's order); a model with fewer than two folds is left out."""
    segmenters = load_crop_segmenters(report_dir)
    by_crop_split = {crop_split(split): LesionMasks(segmenter, seg_size) for split, segmenter in segmenters.items()}
    members = [CropClassifier(clf, by_crop_split[clf.split], size)
               for clf in load_frozen_classifiers(report_dir, size, splits=list(by_crop_split))]
    ensembles = []
    for name in dict.fromkeys(m.model_name for m in members):
        folds = tuple(m for m in members if m.model_name == name)
        if len(folds) >= 2:
            ensembles.append(FoldEnsemble(run_key(name, "binary", "ensemble", folds[0].init), name, folds[0].init,
                                          folds))
    return ensembles


def mixed_ensemble(name: str, init: str, whole: Sequence[FoldEnsemble], crops: Sequence[FoldEnsemble],
                   size: int) -> FoldEnsemble:
    """Notebook 03's averaged row `name` (model names joined with `JOIN`, its `init` label as there) as one ensemble
    on full-resolution images: the fold models of the whole-image ensembles in `whole` (resized to `size`) and of
    the crop ensembles in `crops` that `name` holds, as `named_average` builds it."""
    resized = [replace(e, members=tuple(WholeImageClassifier(m, size) for m in e.members)) for e in whole]
    return named_average(name, init, [*resized, *crops])
