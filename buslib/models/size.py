"""How big a model is: parameters and the size of its fp32 state dict."""

from __future__ import annotations

from torch import nn

__all__ = ["model_size"]


def model_size(model: nn.Module) -> dict[str, float]:
    """Parameters (millions) and state-dict size (MB, 10^6 bytes) of a model."""
    params = sum(p.numel() for p in model.parameters())
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6
    return {"params_m": params / 1e6, "size_mb": size}
