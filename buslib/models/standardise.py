"""Per-image standardisation: each input image shifted and scaled to mean 0 and SD 1 per channel over its pixels,
inside the network, so that any gain and offset of a scanner's grey levels is gone before the first layer.

It is attached as a forward pre-hook plus a marker buffer, not as a wrapping module: parameter names and CAM layer
paths stay those of the plain network, and the marker travels in every state dict, so a checkpoint or bundle says
for itself whether the network standardises (`standardises_inputs`). Loading a marked state dict into an unmarked
network fails loudly (an unexpected key) rather than silently skipping the standardisation.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["MARKER", "standardise_inputs", "standardises_inputs"]

MARKER = "per_image_standardisation"   # a buffer on the network's root module


def _standardise(module: nn.Module, args: tuple) -> tuple:
    images, *rest = args
    mean, std = images.mean((2, 3), keepdim=True), images.std((2, 3), keepdim=True)
    return ((images - mean) / std.clamp_min(1e-6), *rest)


def standardise_inputs(model: nn.Module) -> nn.Module:
    """`model` standardising each input image before its first layer (in place; returned for chaining)."""
    if hasattr(model, MARKER):
        raise ValueError(f"{type(model).__name__} already standardises its inputs")
    model.register_buffer(MARKER, torch.ones(()))
    model.register_forward_pre_hook(_standardise)
    return model


def standardises_inputs(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether the network these weights came from standardised its inputs."""
    return MARKER in state_dict
