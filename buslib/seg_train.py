"""Train U2-Net / U2-Net-lite with a fastai Learner and predict masks at the original image resolution.

Two recipes: `li` is Li et al. 2025's (SGD momentum 0.9, lr 1e-3, L2 weight decay 5e-4,
batch 8, Dice loss on every side output, constant learning rate); `strong` is ours
(AdamW, one-cycle schedule peaking at 3e-3, Dice + BCE on every side output), which
converges in far fewer epochs, the budget a CPU has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
import fastai.callback.schedule  # noqa: F401  (patches Learner.fit_one_cycle)
from fastai.callback.core import Callback
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.metrics import Metric
from fastai.optimizer import SGD, Adam
from torch import nn
from tqdm.auto import tqdm

from .loaders import IMAGENET_STATS, to_input
from .training import autocast_context, speed_callbacks


@dataclass(frozen=True)
class SegRecipe:
    """Optimiser, schedule and loss of one segmentation training recipe."""

    name: str
    optimizer: str          # 'sgd' (L2 weight decay, momentum 0.9) or 'adamw' (decoupled weight decay)
    lr: float
    weight_decay: float
    batch_size: int
    loss: str               # 'dice' or 'dice_bce', summed over the fused map and the six side outputs
    schedule: str           # 'constant' or 'one_cycle'


SEG_RECIPES = {
    "li": SegRecipe("li", "sgd", 1e-3, 5e-4, 8, "dice", "constant"),
    "strong": SegRecipe("strong", "adamw", 3e-3, 1e-4, 8, "dice_bce", "one_cycle"),
}


def get_seg_recipe(name: str) -> SegRecipe:
    if name not in SEG_RECIPES:
        raise ValueError(f"unknown segmentation recipe '{name}'; choose one of {sorted(SEG_RECIPES)}")
    return SEG_RECIPES[name]


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image (sigmoid of logits against a {0, 1} mask), averaged over the batch."""
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    intersection = (prob * target).sum(1)
    return (1 - (2 * intersection + eps) / (prob.sum(1) + target.sum(1) + eps)).mean()


class DeepSupervisionLoss(nn.Module):
    """Sum of the loss over the fused map and every side output (Qin et al. 2020, eq. 1)."""

    def __init__(self, kind: str = "dice"):
        super().__init__()
        if kind not in ("dice", "dice_bce"):
            raise ValueError(f"unknown segmentation loss '{kind}'; choose 'dice' or 'dice_bce'")
        self.kind = kind

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = logits.new_zeros(())
        for side in logits.float().split(1, dim=1):
            total = total + soft_dice_loss(side, target)
            if self.kind == "dice_bce":
                total = total + F.binary_cross_entropy_with_logits(side, target)
        return total


class FusedIoU(Metric):
    """IoU of the fused map (logit > 0) pooled over the validation set, at the training resolution."""

    def reset(self) -> None:
        self.intersection, self.union = 0.0, 0.0

    def accumulate(self, learn: Learner) -> None:
        pred = learn.pred[:, :1] > 0
        true = learn.y > 0.5
        self.intersection += float((pred & true).sum())
        self.union += float((pred | true).sum())

    @property
    def value(self) -> float:
        return self.intersection / self.union if self.union else 0.0

    @property
    def name(self) -> str:
        return "iou"


def seg_learner(model: nn.Module, dls: DataLoaders, recipe: SegRecipe, path: Path,
                cbs: Sequence[Callback] = (), bf16: bool = True) -> Learner:
    """A fastai Learner for U2-Net with the recipe's optimiser and deep-supervision loss."""
    opt_func = partial(SGD, mom=0.9, decouple_wd=False) if recipe.optimizer == "sgd" else Adam
    return Learner(dls, model, loss_func=DeepSupervisionLoss(recipe.loss), opt_func=opt_func,
                   wd=recipe.weight_decay, metrics=[FusedIoU()], path=path,
                   cbs=[*speed_callbacks(bf16), *cbs])


def fit(learn: Learner, recipe: SegRecipe, epochs: int) -> Learner:
    """Train for `epochs` with the recipe's schedule (fastai's `fit` or `fit_one_cycle`)."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if recipe.schedule == "one_cycle":
        learn.fit_one_cycle(epochs, recipe.lr)
    else:
        learn.fit(epochs, recipe.lr)
    return learn


def predict_logits(model: nn.Module, images: np.ndarray, batch_size: int = 16, device: torch.device | None = None,
                   stats=IMAGENET_STATS, bf16: bool = True, progress: bool = True) -> np.ndarray:
    """Fused-map logits (N, S, S) float32 for uint8 images (N, S, S) at the training resolution."""
    device = device or next(model.parameters()).device
    model.eval()
    out = np.empty(images.shape, np.float32)
    for start in tqdm(range(0, len(images), batch_size), desc="predicting masks", disable=not progress):
        batch = to_input(images[start:start + batch_size], stats).to(device)
        with torch.inference_mode(), autocast_context(device, bf16):
            out[start:start + batch_size] = model(batch)[:, 0].float().cpu().numpy()
    return out


def masks_at_original_size(logits: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Bilinearly upsample each logit map to its image's (height, width) and threshold at 0 (p = 0.5)."""
    if len(logits) != len(shapes):
        raise ValueError(f"{len(logits)} logit maps but {len(shapes)} image shapes")
    masks = []
    for logit, shape in zip(logits, shapes):
        full = F.interpolate(torch.from_numpy(logit)[None, None], size=tuple(shape), mode="bilinear",
                             align_corners=False)
        masks.append(full[0, 0].numpy() > 0)
    return masks
