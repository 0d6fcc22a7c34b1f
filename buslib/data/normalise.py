"""Input normalisation: the channel statistics a model was trained with, from timm's constants."""

from __future__ import annotations

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD

__all__ = ["IMAGENET_STATS", "HALF_STATS", "Stats", "normalise"]

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]

IMAGENET_STATS: Stats = (tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD))
# mean = std = 0.5: EfficientNet-Lite and other TF-ported models (timm calls them "inception" statistics).
HALF_STATS: Stats = (tuple(IMAGENET_INCEPTION_MEAN), tuple(IMAGENET_INCEPTION_STD))


def normalise(batch: torch.Tensor, stats: Stats) -> torch.Tensor:
    """(N, 3, H, W) floats in [0, 1] -> (x - mean) / std per channel."""
    mean = torch.tensor(stats[0], dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(stats[1], dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    return (batch - mean) / std
