"""Drawing on images: mask outlines, CAM heatmaps, gallery tiles and PNG bytes (numpy in, numpy out)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from pytorch_grad_cam.utils.image import show_cam_on_image
from scipy import ndimage

__all__ = ["TRUE_COLOUR", "PRED_COLOUR", "outline", "compare_outlines", "cam_overlay", "tile", "png_bytes",
           "jpeg_data_uri"]

TRUE_COLOUR = (60, 220, 60)
PRED_COLOUR = (255, 60, 60)


def outline(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 60, 60),
            width: int = 2) -> np.ndarray:
    """RGB copy of a grey (H, W) or RGB (H, W, 3) image with the mask's boundary drawn in `colour`."""
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in shape")
    rgb = image.copy() if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    mask = mask.astype(bool)
    edge = mask & ~ndimage.binary_erosion(mask, iterations=width)
    rgb[edge] = colour
    return rgb


def compare_outlines(image: np.ndarray, true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB image with the true mask's boundary in green and the predicted one in red."""
    return outline(outline(image, true, TRUE_COLOUR), pred, PRED_COLOUR)


def cam_overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """A grey uint8 image with its CAM as a JET heatmap (pytorch-grad-cam's `show_cam_on_image`)."""
    rgb = np.repeat(image[..., None], 3, axis=2).astype(np.float32) / 255
    return show_cam_on_image(rgb, cam, use_rgb=True)


def tile(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB or grey array to (width, height) for a gallery."""
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))


def png_bytes(array: np.ndarray) -> bytes:
    """PNG encoding of a uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_data_uri(array: np.ndarray, max_side: int = 320, quality: int = 80) -> str:
    """A `data:` URI of the array as JPEG, shrunk to fit `max_side` pixels: pictures inline in self-contained
    HTML (speckle makes PNG about 5x larger)."""
    image = Image.fromarray(array)
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
