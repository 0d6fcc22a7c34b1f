"""fastai callbacks shared by segmentation and classification: bf16 autocast where native, timing, history."""

from __future__ import annotations

import time

import pandas as pd
import torch
from fastai.callback.channelslast import ChannelsLast
from fastai.callback.core import Callback, CancelValidException
from fastai.learner import Learner

from ..infer.torch_paths import use_bf16

__all__ = ["Autocast", "FitTimer", "EpochLog", "SkipValidation", "speed_callbacks", "history"]


class Autocast(Callback):
    """bf16 autocast on the DataLoaders' device (fastai's `MixedPrecision` is CUDA-only): `bf16` True or False, or
    None to use it where the device runs it natively (`infer.use_bf16`, decided when fitting starts).

    bf16 needs no loss scaling; predictions are cast back to fp32 before the loss.
    """

    order = 10

    def __init__(self, bf16: bool | None = None):
        self.bf16 = bf16

    def before_fit(self) -> None:
        self.enabled = use_bf16(torch.device(self.dls.device or "cpu"), self.bf16)

    def before_batch(self) -> None:
        self.context = torch.autocast(self.dls.device.type, dtype=torch.bfloat16, enabled=self.enabled)
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


class EpochLog(Callback):
    """One plain line per epoch on stdout: the recorded losses and metrics, time so far and the ETA.

    fastai's own progress bars live inside the notebook; papermill streams stdout to the console,
    so a headless study shows what is training and how long is left."""

    order = 95  # after the Recorder has logged the epoch

    def __init__(self, label: str):
        self.label = label

    def before_fit(self) -> None:
        self.start = time.perf_counter()

    def after_epoch(self) -> None:
        done, total = self.epoch + 1, self.n_epoch
        elapsed = time.perf_counter() - self.start
        names = [n for n in self.recorder.metric_names if n not in ("epoch", "time")]
        values = ", ".join(f"{n} {float(v):.4f}" for n, v in zip(names, self.recorder.values[-1]))
        print(f"[{self.label}] epoch {done}/{total}: {values} | {elapsed / 60:.1f} min, "
              f"ETA {elapsed / done * (total - done) / 60:.1f} min", flush=True)


class SkipValidation(Callback):
    """No validation pass after each epoch (the Recorder logs the training loss only): for runs whose learning
    curve nobody looks at and whose validation data is scored once after training."""

    def before_validate(self) -> None:
        raise CancelValidException


def speed_callbacks(bf16: bool | None = None, channels_last: bool = True) -> list[Callback]:
    """channels_last and bf16 autocast (None: where native): on a 2-core CPU with avx512_bf16 they raise training
    speed by 15-65% (channels_last) and up to 2x (bf16, e.g. ResNet-18 31 -> 55 img/s at 224 px); on GPUs too."""
    return [*([ChannelsLast()] if channels_last else []), *([Autocast(bf16)] if bf16 is not False else []), FitTimer()]


def history(learn: Learner) -> pd.DataFrame:
    """One row per epoch: train loss, valid loss and the learner's metrics (from fastai's Recorder); NaN where an
    epoch was not validated (`SkipValidation`)."""
    names = [n for n in learn.recorder.metric_names if n not in ("epoch", "time")]
    rows = [list(row) + [float("nan")] * (len(names) - len(row)) for row in learn.recorder.values]
    frame = pd.DataFrame(rows, columns=names)
    return frame.assign(epoch=range(1, len(frame) + 1))
