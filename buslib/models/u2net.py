"""U2-Net and U2-Net-lite (u2netp), Qin et al., Pattern Recognition 2020.

One parametrised residual U-block (RSU) and a stage table per variant, instead of
five near-copies. `U2Net.forward` returns logits (B, 7, H, W): channel 0 is the fused
map, channels 1-6 the side outputs (deep supervision). Any input size works: pooling
rounds up and every skip is resized to its target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (height, in_ch, mid_ch, out_ch, dilated): dilated blocks ("RSU-4F") replace pooling by dilation.
Stage = tuple[int, int, int, int, bool]

STAGES: dict[str, dict[str, list[Stage]]] = {
    "u2net": {
        "encoder": [(7, 3, 32, 64, False), (6, 64, 32, 128, False), (5, 128, 64, 256, False),
                    (4, 256, 128, 512, False), (4, 512, 256, 512, True), (4, 512, 256, 512, True)],
        "decoder": [(4, 1024, 256, 512, True), (4, 1024, 128, 256, False), (5, 512, 64, 128, False),
                    (6, 256, 32, 64, False), (7, 128, 16, 64, False)],
    },
    "u2netp": {
        "encoder": [(7, 3, 16, 64, False), (6, 64, 16, 64, False), (5, 64, 16, 64, False),
                    (4, 64, 16, 64, False), (4, 64, 16, 64, True), (4, 64, 16, 64, True)],
        "decoder": [(4, 128, 16, 64, True), (4, 128, 16, 64, False), (5, 128, 16, 64, False),
                    (6, 128, 16, 64, False), (7, 128, 16, 64, False)],
    },
}


__all__ = ["STAGES", "RSU", "U2Net", "u2net", "u2netp"]


def resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x if x.shape[2:] == like.shape[2:] else F.interpolate(x, size=like.shape[2:], mode="bilinear",
                                                                 align_corners=False)


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1):
        super().__init__(nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class RSU(nn.Module):
    """Residual U-block of `height` levels; `dilated` gives RSU-4F (dilations 1, 2, 4, 8, no pooling)."""

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int, dilated: bool = False):
        super().__init__()
        if height < 2:
            raise ValueError(f"RSU height must be at least 2, got {height}")
        self.dilated = dilated
        enc_dilations = [2 ** i for i in range(height)] if dilated else [1] * (height - 1) + [2]
        self.conv_in = ConvBNReLU(in_ch, out_ch)
        self.encoder = nn.ModuleList(
            ConvBNReLU(out_ch if i == 0 else mid_ch, mid_ch, d) for i, d in enumerate(enc_dilations))
        self.decoder = nn.ModuleList(
            ConvBNReLU(2 * mid_ch, out_ch if i == height - 2 else mid_ch, enc_dilations[height - 2 - i])
            for i in range(height - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.conv_in(x)
        skips, h = [], x_in
        for i, conv in enumerate(self.encoder):
            if i > 0 and not self.dilated and i < len(self.encoder) - 1:
                h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
            h = conv(h)
            skips.append(h)
        h = skips.pop()
        for conv in self.decoder:
            skip = skips.pop()
            h = conv(torch.cat([resize_to(h, skip), skip], dim=1))
        return h + x_in


class U2Net(nn.Module):
    """Nested U-structure of RSU stages with six side outputs fused by a 1x1 convolution."""

    def __init__(self, variant: str = "u2netp", out_ch: int = 1):
        super().__init__()
        if variant not in STAGES:
            raise ValueError(f"unknown U2-Net variant '{variant}'; choose one of {sorted(STAGES)}")
        table = STAGES[variant]
        self.variant = variant
        self.encoder = nn.ModuleList(RSU(*stage) for stage in table["encoder"])
        self.decoder = nn.ModuleList(RSU(*stage) for stage in table["decoder"])
        side_channels = [table["encoder"][-1][3]] + [stage[3] for stage in table["decoder"]]
        self.sides = nn.ModuleList(nn.Conv2d(ch, out_ch, 3, padding=1) for ch in side_channels)
        self.fuse = nn.Conv2d(len(side_channels) * out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x
        for i, stage in enumerate(self.encoder):
            if i > 0:
                h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
            h = stage(h)
            skips.append(h)
        features = [skips.pop()]
        h = features[0]
        for stage in self.decoder:
            skip = skips.pop()
            h = stage(torch.cat([resize_to(h, skip), skip], dim=1))
            features.append(h)
        # features run deepest (side 6) to shallowest (side 1); outputs are ordered fused, side 1, ..., side 6.
        sides = [resize_to(side(f), x) for side, f in zip(self.sides, features)][::-1]
        fused = self.fuse(torch.cat(sides, dim=1))
        return torch.cat([fused, *sides], dim=1)


def u2net(out_ch: int = 1) -> U2Net:
    """Full U2-Net (about 44 M parameters, 176.3 MB in fp32)."""
    return U2Net("u2net", out_ch)


def u2netp(out_ch: int = 1) -> U2Net:
    """U2-Net-lite, "U2NET-Lite" in Li et al. 2025 (about 1.13 M parameters, 4.7 MB in fp32)."""
    return U2Net("u2netp", out_ch)
