"""Train classifiers with a fastai Learner under either paper's recipe.

`li`: Li et al. 2025 (Adam lr 1e-4, no weight decay, ReduceLROnPlateau factor 0.1 patience 10,
batch 16, cross-entropy, 100 epochs, their flips/rotation/jitter/blur augmentation).
`liu`: Liu et al. 2025 (Adam lr 1e-3, L2 weight decay 1e-4, cosine annealing, batch 32,
label smoothing 0.1, Mixup alpha 0.4, 30 epochs, crop/flip/rotation/scale augmentation).
`liu_photometric`: Liu's with brightness/contrast jitter and Li's blur added.
`liu_photometric_standardised`: that, with each image standardised inside the network (ImageNet-started
benign/malignant classifiers, `classifier_recipe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from fastai.callback.core import Callback
from fastai.callback.mixup import MixUp
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat, LabelSmoothingCrossEntropyFlat
from fastai.metrics import RocAucBinary, accuracy
from fastai.optimizer import Adam
from torch import nn

from .callbacks import EpochLog, speed_callbacks
from .fitting import lookup_recipe

__all__ = ["ClsRecipe", "CLS_RECIPES", "get_cls_recipe", "classifier_recipe", "cls_learner", "require_every_class"]


@dataclass(frozen=True)
class ClsRecipe:
    """Optimiser, schedule, loss and augmentation of one paper's classification recipe."""

    name: str
    lr: float
    weight_decay: float
    batch_size: int
    epochs: int
    schedule: str            # 'plateau' (ReduceLROnPlateau) or 'cosine'
    label_smoothing: float
    mixup_alpha: float | None
    augment: str             # augmentation recipe of buslib.loaders
    standardise: bool = False  # per-image standardisation of the inputs (buslib.models.standardise)


CLS_RECIPES = {
    "li": ClsRecipe("li", 1e-4, 0.0, 16, 100, "plateau", 0.0, None, "li"),
    "liu": ClsRecipe("liu", 1e-3, 1e-4, 32, 30, "cosine", 0.1, 0.4, "liu"),
}
# Liu's with photometric augmentation (brightness/contrast jitter, Li's blur): the ImageNet-started benign/malignant
# classifiers' recipe, adopted by the rule of reports/probes/photometric_5fold_probe.py
CLS_RECIPES["liu_photometric"] = replace(CLS_RECIPES["liu"], name="liu_photometric", augment="liu_photometric")
# ... with per-image standardisation inside the network, adopted by the rule of
# reports/probes/standardise_5fold_probe.py
CLS_RECIPES["liu_photometric_standardised"] = replace(CLS_RECIPES["liu_photometric"],
                                                      name="liu_photometric_standardised", standardise=True)


def get_cls_recipe(name: str) -> ClsRecipe:
    return lookup_recipe(CLS_RECIPES, name, "classification")


def classifier_recipe(paper_recipe: str, task: str, pretrained: bool) -> ClsRecipe:
    """The recipe a classifier trains with: its paper's, except that an ImageNet-started benign/malignant classifier
    under Liu's recipe adds photometric augmentation and per-image standardisation ('liu_photometric_standardised');
    scratch rows, the three-class task and notebook 02's lesion detectors keep their paper's."""
    if pretrained and task == "binary" and paper_recipe == "liu":
        return CLS_RECIPES["liu_photometric_standardised"]
    return get_cls_recipe(paper_recipe)


def cls_learner(model: nn.Module, dls: DataLoaders, recipe: ClsRecipe, num_classes: int, path: Path,
                bf16: bool | None = None, label: str = "") -> Learner:
    """A fastai Learner with the recipe's optimiser (L2 weight decay, as torch's Adam), loss and Mixup;
    `label` names the run in the per-epoch console line."""
    smoothing = recipe.label_smoothing
    loss = LabelSmoothingCrossEntropyFlat(eps=smoothing) if smoothing else CrossEntropyLossFlat()
    cbs: list[Callback] = [*speed_callbacks(bf16), *([EpochLog(label)] if label else [])]
    if recipe.mixup_alpha:
        cbs.append(MixUp(recipe.mixup_alpha))
    metrics = [accuracy, RocAucBinary()] if num_classes == 2 else [accuracy]
    return Learner(dls, model, loss_func=loss, opt_func=partial(Adam, decouple_wd=False), wd=recipe.weight_decay,
                   metrics=metrics, path=path, cbs=cbs)


def require_every_class(targets: Sequence[int], num_classes: int) -> None:
    """Raise when a training set lacks a class (tiny subsets only)."""
    missing = sorted(set(range(num_classes)) - set(np.asarray(targets).tolist()))
    if missing:
        raise ValueError(f"training set lacks classes {missing}; use more images per class")
