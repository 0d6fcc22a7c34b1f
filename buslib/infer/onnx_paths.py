"""Faster U2-Net inference on CPU: ONNX Runtime in fp32, and int8 by static quantization calibrated on
training images. Each path is a function from uint8 images (N, S, S) to fused-map logits (N, S, S); the
benchmark measures their speed and how much they change the masks, and `predict` takes the fastest one
whose pooled IoU stays within 0.005 of eager fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from ..data.normalise import IMAGENET_STATS, Stats
from ..models.u2net import U2Net
from .torch_paths import predict_seg_logits, to_input

__all__ = ["SEGMENTER_PATHS", "export_onnx", "quantize_int8", "segmenter_path"]

SEGMENTER_PATHS = ("eager_fp32", "eager_bf16", "onnx_fp32", "onnx_int8")
Segment = Callable[[np.ndarray], np.ndarray]


def _inputs(images: np.ndarray, stats: Stats) -> np.ndarray:
    return to_input(images, stats).contiguous().numpy()


def export_onnx(model: U2Net, size: int, path: Path) -> Path:
    """The network traced at `size` x `size` (dynamic batch) to ONNX, outputs: the 7 logit maps."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    torch.onnx.export(model, (torch.zeros(1, 3, size, size),), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


class _Calibration(CalibrationDataReader):
    """Training images, one at a time, for ONNX Runtime's static quantization."""

    def __init__(self, batches: np.ndarray):
        self.batches = iter(batches)

    def get_next(self) -> dict | None:
        batch = next(self.batches, None)
        return None if batch is None else {"input": batch[None]}


def quantize_int8(fp32_path: Path, calibration: np.ndarray, stats: Stats, path: Path) -> Path:
    """Static int8 quantization (QDQ, per-channel weights, activations calibrated on `calibration`, uint8
    training images at the model's size)."""
    quantize_static(str(fp32_path), str(path), _Calibration(_inputs(calibration, stats)),
                    quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8)
    return Path(path)


def _onnx_segment(path: Path, stats: Stats, threads: int) -> Segment:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda images: session.run(None, {"input": _inputs(images, stats)})[0][:, 0]


def segmenter_path(name: str, model: U2Net, size: int, workdir: Path, stats: Stats = IMAGENET_STATS,
                   calibration: np.ndarray | None = None, threads: int = 2, reuse: bool = True) -> Segment:
    """The inference function of path `name` for `model` at `size` px. Its ONNX files are written to
    `workdir`, or, with `reuse`, taken from there when an earlier call left them."""
    if name not in SEGMENTER_PATHS:
        raise ValueError(f"unknown segmenter path '{name}'; choose one of {SEGMENTER_PATHS}")
    if name.startswith("eager"):
        bf16 = name == "eager_bf16"
        return lambda images: predict_seg_logits(model, images, stats=stats, bf16=bf16, progress=False)
    fp32 = Path(workdir) / f"{model.variant}_{size}px_fp32.onnx"
    if not (reuse and fp32.is_file()):
        export_onnx(model, size, fp32)
    if name == "onnx_fp32":
        return _onnx_segment(fp32, stats, threads)
    int8 = fp32.with_name(f"{model.variant}_{size}px_int8.onnx")
    if not (reuse and int8.is_file()):
        if calibration is None:
            raise ValueError("the int8 path needs calibration images (training images at the model's size)")
        quantize_int8(fp32, calibration, stats, int8)
    return _onnx_segment(int8, stats, threads)
