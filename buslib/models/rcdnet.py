"""RcdNet (Liu et al. 2025) and its blocks: depthwise-separable convolution and CBAM (Woo et al. 2018)."""

from __future__ import annotations

import timm
import torch
from torch import nn

__all__ = ["DepthwiseSeparableConv", "ChannelAttention", "SpatialAttention", "CBAM", "RcdNet"]


class DepthwiseSeparableConv(nn.Sequential):
    """3x3 depthwise then 1x1 pointwise convolution, each with BatchNorm and ReLU6."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch, bias=False), nn.BatchNorm2d(in_ch),
                         nn.ReLU6(inplace=True), nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch),
                         nn.ReLU6(inplace=True))


class ChannelAttention(nn.Module):
    """CBAM channel attention: a shared MLP over average- and max-pooled features."""

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
