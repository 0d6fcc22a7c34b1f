"""U2-Net weights from an ONNX export of the upstream network (Qin et al.'s u2net / u2netp).

In the exports batch norm is folded into the convolutions, and the convolution nodes come in the
upstream forward order: every RSU stage (input conv, encoder, decoder), then side outputs 1 to 6
(shallowest first), then the fusing 1x1 convolution. This project's U2Net keeps its side convolutions
deepest first, so they are mapped by meaning, not by position; shapes and dilations are checked for
every convolution, and each batch norm after a mapped convolution is set to the identity.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .u2net import RSU, U2Net

__all__ = ["onnx_convolutions", "upstream_order", "u2net_from_onnx"]


def onnx_convolutions(path: Path) -> list[dict]:
    """Weight, bias and dilation of every Conv node of an ONNX graph, in node order."""
    graph = onnx.load(str(path)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        attributes = {a.name: list(a.ints) for a in node.attribute}
        convs.append({"name": node.name, "weight": tensors[node.input[1]],
                      "bias": tensors[node.input[2]] if len(node.input) > 2 else None,
                      "dilation": tuple(attributes.get("dilations", [1, 1]))})
    return convs


def _rsu_convs(block: RSU) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    layers = [block.conv_in, *block.encoder, *block.decoder]
    return [(layer[0], layer[1]) for layer in layers]


def upstream_order(model: U2Net) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Our convolutions (with the batch norm after each) in the upstream network's forward order."""
    pairs = [pair for stage in [*model.encoder, *model.decoder] for pair in _rsu_convs(stage)]
    pairs += [(side, None) for side in reversed(model.sides)]  # upstream: side 1 (shallowest) first
    return pairs + [(model.fuse, None)]


def u2net_from_onnx(variant: str, path: Path) -> U2Net:
    """A U2Net `variant` carrying the ONNX export's weights; raises ValueError where the graphs disagree."""
    model = U2Net(variant)
    source = onnx_convolutions(path)
    ours = upstream_order(model)
    if len(source) != len(ours):
        raise ValueError(f"{path}: {len(source)} convolutions, but {variant} has {len(ours)}")
    with torch.no_grad():
        for index, (src, (conv, bn)) in enumerate(zip(source, ours)):
            if tuple(src["weight"].shape) != tuple(conv.weight.shape) or src["dilation"] != conv.dilation:
                raise ValueError(f"{path}: convolution {index} ({src['name']}) is {src['weight'].shape} with "
                                 f"dilation {src['dilation']}; {variant} expects {tuple(conv.weight.shape)} with "
                                 f"dilation {conv.dilation}")
            conv.weight.copy_(torch.tensor(src["weight"]))
            conv.bias.copy_(torch.tensor(src["bias"]))
            if bn is not None:  # folded into the convolution: the batch norm must do nothing
                bn.weight.fill_(1.0)
                bn.bias.zero_()
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
    return model.eval()
