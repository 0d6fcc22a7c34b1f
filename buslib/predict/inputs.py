"""The user's images: which files, read as grey, with a flag for anything that is not a plain grey scan."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.images import DataError, is_colour

__all__ = ["IMAGE_SUFFIXES", "collect_images", "read_scan", "check_output_folder"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
_MASK_STEM = re.compile(r"_mask(_\d+)?$", re.IGNORECASE)   # BUSI's lesion masks lie beside their scans


def _why_left_out(path: Path) -> str | None:
    """Why a file found in a folder is not a scan to predict, or None when it is one."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file (PNG, JPEG, TIFF or BMP)"
    if _MASK_STEM.search(path.stem):
        return "a lesion mask by its name (ends in _mask), not a scan"
    return None


def collect_images(inputs: list[Path]) -> tuple[list[Path], dict[Path, str]]:
    """The files given, and the scans inside the folders given (recursively, sorted), with every other file found in
    those folders and why it was left out. A file named explicitly is always kept; errors name a missing path."""
    found, left_out = [], {}
    for path in map(Path, inputs):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if reason := _why_left_out(file):
                    left_out[file] = reason
                else:
                    found.append(file)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    if not found:
        raise FileNotFoundError(f"no PNG, JPEG, TIFF or BMP scans in {[str(p) for p in inputs]}"
                                + (f" ({len(left_out)} other files left out, e.g. {next(iter(left_out))}: "
                                   f"{next(iter(left_out.values()))})" if left_out else ""))
    return found, left_out


def read_scan(path: Path) -> tuple[np.ndarray, list[str]]:
    """A grey uint8 image and the flags of what was done to it (colour or other layouts processed as grey)."""
    flags = []
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if getattr(image, "n_frames", 1) > 1:
                flags.append(f"{image.n_frames} frames (a cine loop or a multi-page file?): the first was used")
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
