"""Batch norm in a network whose weights came with batch norm folded away (the DUTS U2-Nets from ONNX).

Three treatments for fine-tuning, compared in notebook 02:
- 'recalibrate': each batch norm takes the pretrained network's own activation statistics on the
  training images and an affine that undoes them, so it is the identity on those images in both
  modes; it then trains as usual (batch statistics in training).
- 'freeze': recalibrated, then kept in eval mode while training (running statistics fixed, affine learnt).
- 'drop': every batch norm is removed.
"""

from __future__ import annotations

import numpy as np
import torch
from fastai.callback.core import Callback
from torch import nn

from ..infer import to_input

__all__ = ["BN_TREATMENTS", "DEFAULT_BN_TREATMENT", "recalibrate_batchnorm", "drop_batchnorm", "FreezeBatchNorm",
           "prepare_batchnorm"]

BN_TREATMENTS = ("recalibrate", "freeze", "drop")
DEFAULT_BN_TREATMENT = "recalibrate"  # no probe chooses: it won every probe run so far (docs/findings.md)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: np.ndarray, batch_size: int = 32) -> nn.Module:
    """Set every BatchNorm2d to the identity on `images` (uint8, N x S x S): running mean and variance
    from the activations entering it (in eval mode, layer after layer as they are met), and weight
    sqrt(var + eps), bias mean, so that normalising and the affine cancel."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    sums = {m: [0.0, 0.0, 0] for m in norms}

    def record(module: nn.BatchNorm2d, inputs: tuple[torch.Tensor]) -> None:
        x = inputs[0].float().transpose(0, 1).flatten(1)
        sums[module][0] += x.sum(1)
        sums[module][1] += (x * x).sum(1)
        sums[module][2] += x.shape[1]

    hooks = [m.register_forward_pre_hook(record) for m in norms]
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            model(to_input(images[start:start + batch_size]))
    finally:
        for hook in hooks:
            hook.remove()
    for module, (total, squares, count) in sums.items():
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0)
        module.running_mean.copy_(mean)
        module.running_var.copy_(var)
        module.weight.copy_((var + module.eps).sqrt())
        module.bias.copy_(mean)
    return model


def drop_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d with the identity (in place)."""
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, nn.Identity())
        else:
            drop_batchnorm(child)
    return model


class FreezeBatchNorm(Callback):
    """Keep every batch norm in eval mode during training: running statistics stay as they were."""

    order = 1

    def before_train(self) -> None:
        for module in self.learn.model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def prepare_batchnorm(model: nn.Module, treatment: str, images: np.ndarray) -> list[Callback]:
    """Apply `treatment` to a folded-BN network before fine-tuning on `images`; the callbacks it needs."""
    if treatment not in BN_TREATMENTS:
        raise ValueError(f"unknown batch-norm treatment '{treatment}'; choose one of {BN_TREATMENTS}")
    if treatment == "drop":
        drop_batchnorm(model)
        return []
    recalibrate_batchnorm(model, images)
    return [FreezeBatchNorm()] if treatment == "freeze" else []
