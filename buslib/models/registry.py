"""Classifier registry: every model fact the study needs lives on its spec, as timm's `pretrained_cfg` does.

`create_classifier(name, ...)` builds a registered classifier from its spec (timm, torchvision or
one of ours) and fails loudly on an unknown name. Pretraining: `pretrained=True` takes ImageNet
weights, offline where the spec names a packaged source (RcdNet's EfficientNet-Lite0), else from
timm's or torchvision's hub, which needs a network; a path loads a local state dict; `False`
trains from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import timm
import torch
import torchvision
from torch import nn

from ..data.normalise import HALF_STATS, IMAGENET_STATS, Stats
from .pretrained import efficientnet_lite_weights, mobilenetv2_weights
from .rcdnet import RcdNet
from .standardise import MARKER, standardise_inputs, standardises_inputs

__all__ = ["ClassifierSpec", "CLASSIFIERS", "get_spec", "create_classifier", "load_classifier", "init_head",
           "cam_layer"]

OWN_MODELS: dict[str, Callable[[int], nn.Module]] = {"rcdnet": RcdNet}


@dataclass(frozen=True)
class ClassifierSpec:
    """A registered classifier: how to build it and what the rest of the study must know about it."""

    name: str
    arch: str                      # architecture name in `library`
    paper: str                     # 'li' or 'liu': whose comparison it belongs to ('ours': beyond both)
    recipe: str                    # that paper's training recipe
    description: str
    library: str = "timm"          # 'timm', 'torchvision' or 'buslib' (OWN_MODELS)
    stats: Stats = IMAGENET_STATS  # input normalisation
    head: str = "fc"               # classification head's module name: never loaded from ImageNet weights
    cam_layer: str = "layer4.-1"   # dotted path of the layer CAMs look at (integers index sequences)
    cam_reshape: str | None = None  # 'vit_tokens' when the CAM layer outputs ViT tokens
    sized: bool = False            # True: the architecture takes the input size (`img_size`, ViT)
    min_size: int = 1              # smallest input side the architecture accepts
    offline_weights: Callable[[], dict[str, torch.Tensor]] | None = None  # ImageNet weights without a network
    offline_prefix: str = ""       # where those weights go inside the model


CLASSIFIERS: dict[str, ClassifierSpec] = {spec.name: spec for spec in [
    ClassifierSpec("deepcardinal50", "resnext50_32x4d", "li", "li",
                   "DeepCardinal-50: ResNeXt-50, 32 groups x 4 channels (timm resnext50_32x4d)"),
    ClassifierSpec("resnet50", "resnet50", "li", "li", "ResNet-50 (timm resnet50)"),
    ClassifierSpec("resnet34", "resnet34", "li", "li", "ResNet-34 (timm resnet34)"),
    ClassifierSpec("mobilenetv2", "mobilenetv2_100", "liu", "liu", "MobileNetV2 1.0 (timm mobilenetv2_100)",
                   head="classifier", cam_layer="conv_head", offline_weights=mobilenetv2_weights),
    *[ClassifierSpec(f"effnet_lite{n}", f"tf_efficientnet_lite{n}", "ours", "liu",
                     f"EfficientNet-Lite{n} (timm tf_efficientnet_lite{n}) as a plain classifier", stats=HALF_STATS,
                     head="classifier", cam_layer="conv_head", offline_weights=partial(efficientnet_lite_weights, n))
      for n in (0, 1, 2)],
    ClassifierSpec("regnet", "regnety_004", "liu", "liu", "RegNetY-400MF (timm regnety_004)",
                   head="head", cam_layer="s4"),
    ClassifierSpec("resnext50", "resnext50_32x4d", "liu", "liu",
                   "ResNeXt-50 32x4d as Liu's comparator (same network as DeepCardinal-50, Liu's recipe)"),
    ClassifierSpec("vit", "vit_tiny_patch16_224", "liu", "liu",
                   "ViT-Tiny/16 (timm vit_tiny_patch16_224, 5.7 M parameters), position embeddings resized to the "
                   "input size", head="head", cam_layer="blocks.-1.norm1", cam_reshape="vit_tokens", sized=True),
    ClassifierSpec("alexnet", "alexnet", "li", "li", "AlexNet (torchvision; timm has none)", library="torchvision",
                   head="classifier.6", cam_layer="features.10", min_size=63),
    ClassifierSpec("rcdnet", "rcdnet", "liu", "liu",
                   "RcdNet: EfficientNet-Lite0 + depthwise-separable conv + CBAM (Liu et al. 2025)",
                   library="buslib", stats=HALF_STATS, head="head", cam_layer="cbam",
                   offline_weights=partial(efficientnet_lite_weights, 0), offline_prefix="backbone."),
]}


def get_spec(name: str) -> ClassifierSpec:
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier '{name}'; choose one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name]


def _build(spec: ClassifierSpec, num_classes: int, size: int, hub_weights: bool = False) -> nn.Module:
    if size < spec.min_size:
        raise ValueError(f"{spec.name} needs images of at least {spec.min_size} px, got {size}")
    if spec.library == "timm":
        extra = {"img_size": size} if spec.sized else {}
        return timm.create_model(spec.arch, pretrained=hub_weights, num_classes=num_classes, **extra)
    if spec.library == "torchvision":
        return torchvision.models.get_model(spec.arch, weights="DEFAULT" if hub_weights else None,
                                            **({} if hub_weights else {"num_classes": num_classes}))
    return OWN_MODELS[spec.arch](num_classes)


def create_classifier(name: str, num_classes: int, size: int = 224, pretrained: bool | str | Path = False,
                      standardise: bool = False) -> nn.Module:
    """Build a registered classifier; `pretrained`: False (scratch), True (ImageNet), or a state-dict path (whose
    marker decides standardisation); `standardise`: per-image standardisation of the inputs
    (`buslib.models.standardise`)."""
    spec = get_spec(name)
    model = _build(spec, num_classes, size)
    weights = None
    if pretrained is True:
        _load_imagenet(spec, model, num_classes, size)
    elif pretrained:
        path = Path(pretrained)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no weight file for classifier '{name}'")
        weights = torch.load(path, map_location="cpu", weights_only=True)
    if standardise or (weights is not None and standardises_inputs(weights)):
        standardise_inputs(model)
    if weights is not None:
        _load_without_head(spec, model, weights, str(pretrained))
    return model


def load_classifier(name: str, num_classes: int, size: int, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """A registered classifier holding `state_dict` (standardising its inputs where the weights say so), in eval
    mode; half-precision weights are cast to the network's float32 as they load."""
    model = create_classifier(name, num_classes, size, standardise=standardises_inputs(state_dict))
    model.load_state_dict(state_dict)
    return model.eval()


def _is_head(spec: ClassifierSpec, key: str) -> bool:
    return key.startswith(spec.head + ".")


def _load_without_head(spec: ClassifierSpec, model: nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or [k for k in missing if not _is_head(spec, k) and k != MARKER]:   # a plain start may standardise
        raise ValueError(f"{source}: does not fit '{spec.name}' (missing {missing[:3]}, unexpected {unexpected[:3]})")


def init_head(spec: ClassifierSpec, model: nn.Module, std: float = 0.01) -> None:
    """Every linear layer of the head drawn from N(0, std), biases zero. timm's default for EfficientNet,
    uniform(+-1/sqrt(classes)), is +-0.71 for two classes: first-epoch losses of 2.5 instead of 0.6, whose
    gradients then damage the pretrained features."""
    for layer in model.get_submodule(spec.head).modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.zeros_(layer.bias)


def _load_imagenet(spec: ClassifierSpec, model: nn.Module, num_classes: int, size: int) -> None:
    """ImageNet weights into everything but the head (then a small head): offline where the spec has them,
    else from the hub."""
    if spec.offline_weights is not None:
        weights = {spec.offline_prefix + k: v for k, v in spec.offline_weights().items()}
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in weights.items() if k in own and not _is_head(spec, k)}, strict=False)
        init_head(spec, model)
        return
    try:
        reference = _build(spec, num_classes, size, hub_weights=True)
    except Exception as err:  # the hubs raise many kinds of network errors
        raise RuntimeError(f"ImageNet weights for '{spec.name}' could not be downloaded ({type(err).__name__}: {err});"
                           " run with a network, pass a local weight file, or use pretrained=False") from err
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in reference.state_dict().items()
                           if k in own and v.shape == own[k].shape and not _is_head(spec, k)}, strict=False)
    init_head(spec, model)


def cam_layer(spec: ClassifierSpec, model: nn.Module) -> nn.Module:
    """The module named by the spec's dotted `cam_layer` path."""
    layer = model
    for part in spec.cam_layer.split("."):
        layer = layer[int(part)] if part.lstrip("-").isdigit() else getattr(layer, part)
    return layer

