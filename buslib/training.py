"""fastai pieces shared by segmentation and classification: bf16 autocast on any device, timing, history."""

from __future__ import annotations

import time

import pandas as pd
import torch
from fastai.callback.channelslast import ChannelsLast
from fastai.callback.core import Callback
from fastai.learner import Learner


class Autocast(Callback):
    """bf16 autocast on the DataLoaders' device (fastai's `MixedPrecision` is CUDA-only).

    bf16 needs no loss scaling; predictions are cast back to fp32 before the loss.
    """

    order = 10

    def __init__(self, dtype: torch.dtype = torch.bfloat16):
        self.dtype = dtype

    def before_batch(self) -> None:
        self.context = torch.autocast(self.dls.device.type, dtype=self.dtype)
        self.context.__enter__()

    def after_pred(self) -> None:
        self.learn.pred = self.pred.float()

    def after_loss(self) -> None:
        self.context.__exit__(None, None, None)

    def after_cancel_batch(self) -> None:
        self.context.__exit__(None, None, None)


class FitTimer(Callback):
    """Wall-clock seconds of training (`learn.fit_seconds`) and training images seen."""

    order = 90

    def before_fit(self) -> None:
        self.learn.fit_seconds, self.learn.train_images = 0.0, 0
        self.start = time.perf_counter()

    def after_batch(self) -> None:
        if self.training:
            self.learn.train_images += self.x.shape[0]

    def after_fit(self) -> None:
        self.learn.fit_seconds = time.perf_counter() - self.start


def speed_callbacks(bf16: bool = True, channels_last: bool = True) -> list[Callback]:
    """channels_last and bf16 autocast: both faster on this project's CPU (STUDY.md §4) and on GPUs."""
    return [*([ChannelsLast()] if channels_last else []), *([Autocast()] if bf16 else []), FitTimer()]


def history(learn: Learner) -> pd.DataFrame:
    """One row per epoch: train loss, valid loss and the learner's metrics (from fastai's Recorder)."""
    names = [n for n in learn.recorder.metric_names if n not in ("epoch", "time")]
    frame = pd.DataFrame([list(row) for row in learn.recorder.values], columns=names)
    return frame.assign(epoch=range(1, len(frame) + 1))


def autocast_context(device: torch.device, bf16: bool = True):
    """Autocast for inference on `device`, or a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
