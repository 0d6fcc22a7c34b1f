"""The user's images: which files, read as grey, with a flag for anything that is not a plain grey scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.images import DataError, is_colour

__all__ = ["IMAGE_SUFFIXES", "collect_images", "read_scan", "check_output_folder"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def collect_images(inputs: list[Path]) -> list[Path]:
    """Files given, and the PNG/JPEG files inside folders given (recursively, sorted); errors name a missing path."""
    found = []
    for path in map(Path, inputs):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    if not found:
        raise FileNotFoundError(f"no PNG or JPEG images in {[str(p) for p in inputs]}")
    return found


def read_scan(path: Path) -> tuple[np.ndarray, list[str]]:
    """A grey uint8 image and the flags of what was done to it (colour or other layouts processed as grey)."""
    flags = []
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode not in ("L", "RGB", "RGBA", "P", "I;16", "I", "LA"):
                flags.append(f"unusual pixel layout {mode}: processed as grey")
            if mode in ("I;16", "I"):
                array = np.asarray(image, dtype=np.float64)
                span = max(float(array.max() - array.min()), 1.0)
                grey = ((array - array.min()) / span * 255).astype(np.uint8)
                flags.append(f"{mode} (high bit depth) rescaled to 8 bits")
            else:
                grey = np.asarray(image.convert("L"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: corrupt or unreadable image ({err})") from err
    if mode not in ("L", "I;16", "I") and is_colour(path):
        flags.append("colour image (Doppler or coloured marks?): processed as grey, check the result")
    if min(grey.shape) < 64:
        flags.append(f"very small image ({grey.shape[1]}x{grey.shape[0]})")
    return grey, flags


def check_output_folder(out: Path, images: list[Path], overwrite: bool) -> None:
    """Refuse an output folder that holds any input image (never write beside them), and one with earlier
    outputs unless `overwrite`."""
    out = out.resolve()
    inside = [p for p in images if out in p.resolve().parents]
    if inside:
        raise ValueError(f"{out}: holds input images (e.g. {inside[0]}); predictions are never written beside "
                         "the images: choose another --out")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: exists and is not empty; pass --overwrite to replace its predictions")
