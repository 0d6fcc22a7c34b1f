"""Inference, the one place that turns images into model inputs and runs models: PyTorch (batched, bf16
autocast where the device runs it natively, timing) and the ONNX Runtime fp32 / int8 paths of the segmenter."""

from .onnx_paths import SEGMENTER_PATHS, export_onnx, quantize_int8, segmenter_path
from .torch_paths import (
    BF16_ENV,
    autocast,
    inference_ms_per_image,
    masks_at_original_size,
    predict_proba,
    predict_seg_logits,
    predict_seg_logits_with_flip,
    timed,
    to_input,
    use_bf16,
)

__all__ = ["SEGMENTER_PATHS", "export_onnx", "quantize_int8", "segmenter_path", "BF16_ENV", "autocast",
           "inference_ms_per_image", "masks_at_original_size", "predict_proba", "predict_seg_logits",
           "predict_seg_logits_with_flip", "timed",
           "to_input", "use_bf16"]
