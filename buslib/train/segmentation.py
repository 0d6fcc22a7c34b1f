"""Train U2-Net / U2-Net-lite with a fastai Learner.

Two recipes: `li` is Li et al. 2025's (SGD momentum 0.9, lr 1e-3, L2 weight decay 5e-4,
batch 8, Dice loss on every side output, constant learning rate); `strong` is ours
(AdamW, one-cycle schedule peaking at 3e-3, Dice + BCE on every side output), which
converges in far fewer epochs, the budget a CPU has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.optimizer import SGD, Adam
from torch import nn

from .callbacks import EpochLog, speed_callbacks
from .fitting import lookup_recipe
from .losses import DeepSupervisionLoss, FusedIoU

__all__ = ["SegRecipe", "SEG_RECIPES", "get_seg_recipe", "seg_learner"]


@dataclass(frozen=True)
class SegRecipe:
    """Optimiser, schedule and loss of one segmentation training recipe."""

    name: str
    optimizer: str          # 'sgd' (L2 weight decay, momentum 0.9) or 'adamw' (decoupled weight decay)
    lr: float
    weight_decay: float
    batch_size: int
    loss: str               # one of `LOSS_KINDS`, summed over the fused map and the six side outputs
    schedule: str           # 'constant' or 'one_cycle'


SEG_RECIPES = {
    "li": SegRecipe("li", "sgd", 1e-3, 5e-4, 8, "dice", "constant"),
    "strong": SegRecipe("strong", "adamw", 3e-3, 1e-4, 8, "dice_bce", "one_cycle"),
}


def get_seg_recipe(name: str) -> SegRecipe:
    return lookup_recipe(SEG_RECIPES, name, "segmentation")


def seg_learner(model: nn.Module, dls: DataLoaders, recipe: SegRecipe, path: Path,
                cbs: Sequence[Callback] = (), bf16: bool | None = None, label: str = "") -> Learner:
    """A fastai Learner for U2-Net with the recipe's optimiser and deep-supervision loss; `label` names
    the run in the per-epoch console line."""
    opt_func = partial(SGD, mom=0.9, decouple_wd=False) if recipe.optimizer == "sgd" else Adam
    return Learner(dls, model, loss_func=DeepSupervisionLoss(recipe.loss), opt_func=opt_func,
                   wd=recipe.weight_decay, metrics=[FusedIoU()], path=path,
                   cbs=[*speed_callbacks(bf16), *([EpochLog(label)] if label else []), *cbs])
