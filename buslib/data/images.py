"""Decode ultrasound images and lesion masks, with errors that name the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["DataError", "read_size", "check_mask_size", "read_image", "is_colour", "read_mask"]


class DataError(ValueError):
    """A data file is unreadable, mis-sized or laid out other than expected."""


def read_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding pixels."""
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: not a readable image ({err})") from err


def check_mask_size(mask_path: Path, image_size: tuple[int, int]) -> None:
    """Raise DataError unless the mask file's (width, height) equals its image's."""
    width, height = read_size(mask_path)
    if (width, height) != tuple(image_size):
        raise DataError(f"{mask_path}: mask is {width}x{height} but its image is {image_size[0]}x{image_size[1]}")


def read_image(path: Path) -> np.ndarray:
    """Greyscale uint8 array (H, W). Colour images are converted with ITU-R 601 luma."""
    try:
        with Image.open(path) as im:
            im.load()
            grey = im.convert("L") if im.mode != "L" else im
            return np.asarray(grey, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"{path}: corrupt or truncated image ({err})") from err


def is_colour(path: Path) -> bool:
    """True if the image has colour pixels (Doppler, coloured marks), not just grey in RGB."""
    with Image.open(path) as im:
        if im.mode in ("L", "1", "I", "I;16", "F"):
            return False
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return bool((spread > 30).mean() > 1e-4)


def read_mask(paths: Sequence[Path], shape: tuple[int, int]) -> np.ndarray:
    """Union of one or more binary mask files as a bool array of `shape` (H, W)."""
    if not paths:
        raise DataError(f"no mask file given for an image of shape {shape}")
    union = np.zeros(shape, dtype=bool)
    for path in paths:
        mask = read_image(path)
        if mask.shape != tuple(shape):
            raise DataError(
                f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image is {shape[1]}x{shape[0]}"
            )
        union |= mask > 127
    return union
