"""Train classifiers with a fastai Learner under either paper's recipe, and predict probabilities.

`li`: Li et al. 2025 (Adam lr 1e-4, no weight decay, ReduceLROnPlateau factor 0.1 patience 10,
batch 16, cross-entropy, 100 epochs, their flips/rotation/jitter/blur augmentation).
`liu`: Liu et al. 2025 (Adam lr 1e-3, L2 weight decay 1e-4, cosine annealing, batch 32,
label smoothing 0.1, Mixup alpha 0.4, 30 epochs, crop/flip/rotation/scale augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from fastai.callback.core import Callback
from fastai.callback.mixup import MixUp
from fastai.callback.schedule import ParamScheduler, SchedCos
from fastai.callback.tracker import ReduceLROnPlateau
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat, LabelSmoothingCrossEntropyFlat
from fastai.metrics import RocAucBinary, accuracy
from fastai.optimizer import Adam
from torch import nn
from tqdm.auto import tqdm

from .loaders import to_input
from .training import autocast_context, speed_callbacks


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


CLS_RECIPES = {
    "li": ClsRecipe("li", 1e-4, 0.0, 16, 100, "plateau", 0.0, None, "li"),
    "liu": ClsRecipe("liu", 1e-3, 1e-4, 32, 30, "cosine", 0.1, 0.4, "liu"),
}


def get_cls_recipe(name: str) -> ClsRecipe:
    if name not in CLS_RECIPES:
        raise ValueError(f"unknown classification recipe '{name}'; choose one of {sorted(CLS_RECIPES)}")
    return CLS_RECIPES[name]


def cls_learner(model: nn.Module, dls: DataLoaders, recipe: ClsRecipe, num_classes: int, path: Path,
                bf16: bool = True) -> Learner:
    """A fastai Learner with the recipe's optimiser (L2 weight decay, as torch's Adam), loss and Mixup."""
    loss = LabelSmoothingCrossEntropyFlat(eps=recipe.label_smoothing) if recipe.label_smoothing else CrossEntropyLossFlat()
    cbs: list[Callback] = [*speed_callbacks(bf16)]
    if recipe.mixup_alpha:
        cbs.append(MixUp(recipe.mixup_alpha))
    metrics = [accuracy, RocAucBinary()] if num_classes == 2 else [accuracy]
    return Learner(dls, model, loss_func=loss, opt_func=partial(Adam, decouple_wd=False), wd=recipe.weight_decay,
                   metrics=metrics, path=path, cbs=cbs)


def fit(learn: Learner, recipe: ClsRecipe, epochs: int) -> Learner:
    """Train with the recipe's schedule: constant lr with ReduceLROnPlateau (Li) or cosine annealing (Liu)."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if recipe.schedule == "plateau":
        learn.fit(epochs, recipe.lr, cbs=[ReduceLROnPlateau(monitor="valid_loss", factor=10, patience=10)])
    else:
        learn.fit(epochs, recipe.lr, cbs=[ParamScheduler({"lr": SchedCos(recipe.lr, recipe.lr / 100)})])
    return learn


def predict_proba(model: nn.Module, images: np.ndarray, stats: tuple, batch_size: int = 32,
                  bf16: bool = True, progress: bool = False) -> np.ndarray:
    """Softmax probabilities (N, classes) for uint8 grey images (N, S, S), normalised with `stats`."""
    device = next(model.parameters()).device
    model.eval()
    chunks = []
    for start in tqdm(range(0, len(images), batch_size), desc="predicting", disable=not progress):
        batch = to_input(images[start:start + batch_size], stats).to(device)
        with torch.inference_mode(), autocast_context(device, bf16):
            chunks.append(torch.softmax(model(batch).float(), dim=1).cpu().numpy())
    return np.concatenate(chunks)


def require_every_class(targets: Sequence[int], num_classes: int) -> None:
    """Raise when a training set lacks a class (tiny subsets only)."""
    missing = sorted(set(range(num_classes)) - set(np.asarray(targets).tolist()))
    if missing:
        raise ValueError(f"training set lacks classes {missing}; use more images per class")
