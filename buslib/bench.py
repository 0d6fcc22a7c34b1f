"""Benchmark (not a test): training images/s and inference ms/image of a model on this machine."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn


def _autocast(bf16: bool, device: torch.device = torch.device("cpu")):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def bench_model(model: nn.Module, size: int, batch: int = 8, steps: int = 3, bf16: bool = True,
                channels_last: bool = True) -> dict[str, float]:
    """Mean time of `steps` training steps (batch `batch`) and single-image inferences, after one warm-up each."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(batch, 3, size, size).to(memory_format=fmt)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()

    def train_step() -> None:
        with _autocast(bf16):
            out = model(x)
        loss = F.binary_cross_entropy_with_logits(out.float(), torch.zeros_like(out, dtype=torch.float32))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    train_seconds = _timed(train_step, steps)
    return {"train_images_per_s": batch / train_seconds,
            "infer_ms_per_image": inference_ms_per_image(model, size, steps, bf16, channels_last)}


def inference_ms_per_image(model: nn.Module, size: int, steps: int = 3, bf16: bool = True,
                           channels_last: bool = True) -> float:
    """Mean milliseconds of one single-image forward pass at `size` x `size`, after one warm-up."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).eval()
    device = next(model.parameters()).device
    x = torch.randn(1, 3, size, size, device=device).to(memory_format=fmt)

    def infer_step() -> None:
        with torch.inference_mode(), _autocast(bf16, device):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 1000 * _timed(infer_step, steps)


def _timed(step: Callable[[], None], steps: int) -> float:
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


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
