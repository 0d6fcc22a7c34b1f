"""Benchmark (not a test): training images/s and inference ms/image of a model on this machine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..infer import autocast, inference_ms_per_image, timed

__all__ = ["bench_model", "run_benchmarks", "latency_table"]


def bench_model(model: nn.Module, size: int, batch: int = 8, steps: int = 3, bf16: bool = True,
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
    rows = []
    for name, factory in factories.items():
        for size in sizes:
            result = {"model": name, "size": size, "threads": torch.get_num_threads(), **kwargs,
                      **bench_model(factory(size), size, **kwargs)}
            print(f"{name:15s} {size:4d}px  train {result['train_images_per_s']:7.2f} img/s  "
                  f"infer {result['infer_ms_per_image']:8.1f} ms/img", flush=True)
            rows.append(result)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=1))
    return rows


def latency_table(factories: dict[str, Callable[[], nn.Module]], sizes: list[int], steps: int = 3,
                  bf16: bool = True) -> pd.DataFrame:
    """Single-image inference ms per model and input size on this machine."""
    return pd.DataFrame([{"model": name, "size_px": size,
                          "infer_ms_per_image": inference_ms_per_image(factory(), size, steps, bf16)}
                         for name, factory in factories.items() for size in sizes])
