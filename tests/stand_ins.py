"""Tiny stand-in networks for tests that need a model's behaviour, not its training."""

import torch


class BrightIsLesion(torch.nn.Module):
    """A stand-in segmenter: logit > 0 where the normalised input is bright."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        return x[:, :1] * self.scale
