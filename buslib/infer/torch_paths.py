"""PyTorch inference: uint8 images to normalised model inputs, batched prediction under bf16 autocast where the
device runs it natively, timing."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.normalise import IMAGENET_STATS, Stats, normalise

__all__ = ["to_input", "BF16_ENV", "native_bf16", "use_bf16", "describe_bf16", "autocast", "predict_seg_logits",
           "predict_proba", "masks_at_original_size", "inference_ms_per_image", "timed"]


def to_input(images: np.ndarray, stats: Stats = IMAGENET_STATS) -> torch.Tensor:
    """uint8 grey images (N, S, S) -> normalised float (N, 3, S, S) in channels_last, as the loaders give them."""
    batch = torch.tensor(np.asarray(images), dtype=torch.float32).div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    return normalise(batch, stats).contiguous(memory_format=torch.channels_last)


BF16_ENV = "BUSLIB_BF16"   # 1 or 0 overrides the choice `native_bf16` makes
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def _cpu_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast pays on `device`: a GPU that supports bf16, or a CPU with avx512_bf16 or AMX. Other CPUs
    emulate bf16 and run 2-3 times slower than fp32 (U2NET-Lite training at 128 px on 2 cores of a Xeon with avx512
    but no avx512_bf16: 2.5 img/s in bf16, 6.4 in fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(_cpu_flags() & _BF16_CPU_FLAGS)


def use_bf16(device: torch.device, bf16: bool | None = None) -> bool:
    """`bf16` where given; else $BUSLIB_BF16 (1 or 0) where set; else `native_bf16(device)`."""
    if bf16 is not None:
        return bf16
    setting = os.environ.get(BF16_ENV, "").strip()
    if setting not in ("", "0", "1"):
        raise ValueError(f"{BF16_ENV}={setting!r}: expected 1 (bf16 autocast), 0 (fp32) or unset (bf16 where native)")
    return setting == "1" if setting else native_bf16(device)


def describe_bf16(device: torch.device) -> str:
    """Whether training and inference on `device` run under bf16 autocast, and why (for a run's provenance)."""
    setting = os.environ.get(BF16_ENV, "").strip()
    why = (f"${BF16_ENV}={setting}" if setting else
           "native on this device" if native_bf16(device) else "no native bf16 on this device, so fp32")
    return f"{'on' if use_bf16(device) else 'off'} ({why})"


def autocast(device: torch.device, bf16: bool | None = None) -> torch.autocast:
    """bf16 autocast on `device` where `use_bf16` says so, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device, bf16))


def _batched_outputs(model: nn.Module, images: np.ndarray, stats: Stats, batch_size: int, bf16: bool | None,
                     progress: bool, desc: str, hflip: bool = False) -> list[torch.Tensor]:
    """The model's fp32 outputs, batch by batch, in eval mode and without gradients; `hflip`: of the
    horizontally flipped images (segmentation maps flipped back)."""
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    for start in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress):
        batch = to_input(images[start:start + batch_size], stats).to(device)
        if hflip:
            batch = batch.flip(-1)
        with torch.inference_mode(), autocast(device, bf16):
            out = model(batch).float().cpu()
        outputs.append(out.flip(-1) if hflip and out.ndim == 4 else out)
    return outputs


def predict_seg_logits(model: nn.Module, images: np.ndarray, batch_size: int = 16, stats: Stats = IMAGENET_STATS,
                       bf16: bool | None = None, progress: bool = True, tta: bool = False) -> np.ndarray:
    """U2-Net fused-map logits (N, S, S) float32 for uint8 images (N, S, S) at the training resolution;
    `tta` averages the probabilities of the image and its horizontal flip (returned as logits)."""
    if tta:
        return predict_seg_logits_with_flip(model, images, batch_size, stats, bf16, progress)[1]
    if not len(images):
        return np.empty(images.shape, np.float32)
    return torch.cat([out[:, 0] for out in _batched_outputs(model, images, stats, batch_size, bf16, progress,
                                                           "predicting masks")]).numpy()


def predict_seg_logits_with_flip(model: nn.Module, images: np.ndarray, batch_size: int = 16,
                                 stats: Stats = IMAGENET_STATS, bf16: bool | None = None,
                                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`predict_seg_logits` without and with `tta` at the cost of one pass each (plain, then flip-averaged)."""
    plain = predict_seg_logits(model, images, batch_size, stats, bf16, progress)
    if not len(images):
        return plain, plain
    flipped = torch.cat([out[:, 0] for out in _batched_outputs(model, images, stats, batch_size, bf16, progress,
                                                              "predicting flipped", hflip=True)])
    averaged = torch.logit((torch.from_numpy(plain).sigmoid() + flipped.sigmoid()) / 2, eps=1e-6)
    return plain, averaged.numpy()


def predict_proba(model: nn.Module, images: np.ndarray, stats: Stats, batch_size: int = 32,
                  bf16: bool | None = None, progress: bool = False, tta: bool = False) -> np.ndarray:
    """Softmax probabilities (N, classes) for uint8 grey images (N, S, S), normalised with `stats`;
    `tta` averages them with those of the horizontally flipped images."""
    proba = torch.softmax(torch.cat(_batched_outputs(model, images, stats, batch_size, bf16, progress,
                                                     "predicting")), dim=1)
    if tta:
        flipped = torch.softmax(torch.cat(_batched_outputs(model, images, stats, batch_size, bf16, progress,
                                                           "predicting flipped", hflip=True)), dim=1)
        proba = (proba + flipped) / 2
    return proba.numpy()


def masks_at_original_size(logits: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Bilinearly upsample each logit map to its image's (height, width) and threshold at 0 (p = 0.5)."""
    if len(logits) != len(shapes):
        raise ValueError(f"{len(logits)} logit maps but {len(shapes)} image shapes")
    masks = []
    for logit, shape in zip(logits, shapes):
        full = F.interpolate(torch.from_numpy(logit)[None, None], size=tuple(shape), mode="bilinear",
                             align_corners=False)
        masks.append(full[0, 0].numpy() > 0)
    return masks


def inference_ms_per_image(model: nn.Module, size: int, steps: int = 3, bf16: bool | None = None,
                           channels_last: bool = True) -> float:
    """Mean milliseconds of one single-image forward pass at `size` x `size`, after one warm-up."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).eval()
    device = next(model.parameters()).device
    x = torch.randn(1, 3, size, size, device=device).to(memory_format=fmt)

    def infer_step() -> None:
        with torch.inference_mode(), autocast(device, bf16):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 1000 * timed(infer_step, steps)


def timed(step, steps: int) -> float:
    """Mean seconds of `steps` calls of `step()`, after one warm-up call."""
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps
