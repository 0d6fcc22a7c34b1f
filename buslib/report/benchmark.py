"""Benchmarks (not tests): training images/s and inference ms/image of a model on this machine, and the
seconds an epoch of the study's own training loop takes on fastai's default device (a GPU where there is one)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.loaders import build_dataloaders
from ..infer import autocast, inference_ms_per_image, timed, use_bf16
from ..models.registry import create_classifier, get_spec
from ..models.u2net import STAGES, U2Net
from ..train.classification import cls_learner, get_cls_recipe
from ..train.segmentation import get_seg_recipe, seg_learner

__all__ = ["bench_model", "run_benchmarks", "latency_table", "bench_training_loop", "run_loop_benchmarks"]


def bench_model(model: nn.Module, size: int, batch: int = 8, steps: int = 3, bf16: bool | None = None,
                channels_last: bool = True) -> dict[str, float]:
    """Mean time of `steps` training steps (batch `batch`) and single-image inferences, after one warm-up each."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(batch, 3, size, size).to(memory_format=fmt)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()

    def train_step() -> None:
        with autocast(torch.device("cpu"), bf16):
            out = model(x)
        loss = F.binary_cross_entropy_with_logits(out.float(), torch.zeros_like(out, dtype=torch.float32))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    train_seconds = timed(train_step, steps)
    return {"train_images_per_s": batch / train_seconds,
            "infer_ms_per_image": inference_ms_per_image(model, size, steps, bf16, channels_last)}


def run_benchmarks(factories: dict[str, Callable[[int], nn.Module]], sizes: list[int], out: Path | None,
                   **kwargs) -> list[dict]:
    """Benchmark every model at every size; print a line each and optionally write JSON."""
    rows, kwargs = [], kwargs | {"bf16": use_bf16(torch.device("cpu"), kwargs.get("bf16"))}
    for name, factory in factories.items():
        for size in sizes:
            result = {"model": name, "size": size, "threads": torch.get_num_threads(), **kwargs,
                      **bench_model(factory(size), size, **kwargs)}
            print(f"{name:15s} {size:4d}px  train {result['train_images_per_s']:7.2f} img/s  "
                  f"infer {result['infer_ms_per_image']:8.1f} ms/img", flush=True)
            rows.append(result)
    _save_rows(rows, out)
    return rows


def latency_table(factories: dict[str, Callable[[], nn.Module]], sizes: list[int], steps: int = 3,
                  bf16: bool | None = None) -> pd.DataFrame:
    """Single-image inference ms per model and input size on this machine."""
    return pd.DataFrame([{"model": name, "size_px": size,
                          "infer_ms_per_image": inference_ms_per_image(factory(), size, steps, bf16)}
                         for name, factory in factories.items() for size in sizes])


def bench_training_loop(name: str, size: int, train_images: int = 128, epochs: int = 2,
                        num_workers: int = 0) -> dict[str, float | str]:
    """Training images/s of the study's own loop for `name` ('u2netp', 'u2net' or a classifier) at `size`:
    its loaders and augmentation, its fastai Learner, recipe and callbacks, a validation pass of a third as
    many images each epoch, on random images; after one warm-up epoch, on fastai's default device.
    Comparable with the `train_img_per_s` of the study's runs."""
    generator = np.random.default_rng(0)
    n = train_images + train_images // 3
    images = generator.integers(0, 256, (n, size, size), dtype=np.uint8)
    train, valid = np.arange(train_images), np.arange(train_images, n)
    with tempfile.TemporaryDirectory() as workdir:
        if name in STAGES:
            recipe = get_seg_recipe("strong")
            masks = (generator.random((n, size, size)) < 0.2).astype(np.uint8)
            dls = build_dataloaders(images, masks, train, valid, "li", recipe.batch_size, num_workers=num_workers)
            learn = seg_learner(U2Net(name), dls, recipe, Path(workdir))
        else:
            spec = get_spec(name)
            recipe = get_cls_recipe(spec.recipe)
            targets = np.arange(n) % 2
            dls = build_dataloaders(images, targets, train, valid, recipe.augment, recipe.batch_size,
                                    stats=spec.stats, num_workers=num_workers)
            learn = cls_learner(create_classifier(name, 2, size), dls, recipe, 2, Path(workdir))
        with learn.no_bar(), learn.no_logging():
            learn.fit(1)  # warm-up: allocations, autotuning, first-batch costs
            learn.fit(epochs)
    return {"model": name, "size": size, "device": str(dls.device), "num_workers": num_workers,
            "train_images": train_images, "recipe": recipe.name,
            "train_img_per_s": learn.train_images / learn.fit_seconds,
            "seconds_per_epoch": learn.fit_seconds / epochs}


def run_loop_benchmarks(names: list[str], sizes: list[int], out: Path | None, train_images: int = 128,
                        num_workers: int = 0) -> list[dict]:
    """`bench_training_loop` for every model at every size; print a line each and optionally write JSON."""
    rows = []
    for name in names:
        for size in sizes:
            row = bench_training_loop(name, size, train_images, num_workers=num_workers)
            print(f"{name:15s} {size:4d}px  {row['device']:6s} workers {num_workers}  train loop "
                  f"{row['train_img_per_s']:7.1f} img/s  ({row['seconds_per_epoch']:.2f} s an epoch of "
                  f"{train_images} images)", flush=True)
            rows.append(row)
    _save_rows(rows, out)
    return rows


def _save_rows(rows: list[dict], out: Path | None) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=1))
