"""Segmentation loss and metric for U2-Net: deep-supervision Dice (+ BCE), and the fused map's IoU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fastai.learner import Learner
from fastai.metrics import Metric
from torch import nn

__all__ = ["LOSS_KINDS", "soft_dice_loss", "batch_dice_loss", "DeepSupervisionLoss", "FusedIoU"]

# 'dice': soft Dice per image, averaged; 'dice_bce': plus binary cross-entropy; 'batch_dice_bce': soft Dice over the
# batch's pixels pooled (the pooled IoU's weighting: a large lesion counts more than a small one, and a normal image's
# false positives enlarge the one denominator instead of setting a per-image loss near 1), plus binary cross-entropy.
LOSS_KINDS = ("dice", "dice_bce", "batch_dice_bce")


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image (sigmoid of logits against a {0, 1} mask), averaged over the batch."""
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    intersection = (prob * target).sum(1)
    return (1 - (2 * intersection + eps) / (prob.sum(1) + target.sum(1) + eps)).mean()


def batch_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice over every pixel of the batch pooled (sigmoid of logits against a {0, 1} mask)."""
    prob = torch.sigmoid(logits)
    return 1 - (2 * (prob * target).sum() + eps) / (prob.sum() + target.sum() + eps)


class DeepSupervisionLoss(nn.Module):
    """Sum of the loss over the fused map and every side output (Qin et al. 2020, eq. 1)."""

    def __init__(self, kind: str = "dice"):
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ValueError(f"unknown segmentation loss '{kind}'; choose one of {LOSS_KINDS}")
        self.kind = kind

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dice = batch_dice_loss if self.kind == "batch_dice_bce" else soft_dice_loss
        total = logits.new_zeros(())
        for side in logits.float().split(1, dim=1):
            total = total + dice(side, target)
            if self.kind != "dice":
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
