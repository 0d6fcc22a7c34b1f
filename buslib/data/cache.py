"""Resized uint8 arrays of a dataset, cached on disk and keyed by size and a hash of the files."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from .images import read_image, read_mask
from .manifest import sha256_file

__all__ = ["ArrayCache", "default_cache_dir", "data_hash", "resize_image", "resize_pair", "load_arrays"]


@dataclass
class ArrayCache:
    """Images (N, S, S) uint8 and lesion masks (N, S, S) uint8 in {0, 1}, rows as in the frame."""

    image_ids: np.ndarray
    images: np.ndarray
    masks: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.image_ids)


def default_cache_dir() -> Path:
    """$BUSLIB_CACHE, else ~/.cache/buslib."""
    return Path(os.environ.get("BUSLIB_CACHE", Path.home() / ".cache" / "buslib"))


def data_hash(frame: pd.DataFrame) -> str:
    """sha256 over the ids and file contents of every image and mask in the frame, in order."""
    digest = hashlib.sha256()
    for row in frame.itertuples(index=False):
        digest.update(row.image_id.encode())
        for path in (row.image_path, *row.mask_paths):
            digest.update(Path(path).name.encode() + sha256_file(Path(path)).encode())
    return digest.hexdigest()


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (antialiased) resize of a grey uint8 image to `size` x `size`, as the study's inputs are made."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear (antialiased) resize of the image; the mask is resized bilinearly and thresholded at 0.5."""
    small = resize_image(image, size)
    soft = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.BILINEAR))
    return small, (soft > 127).astype(np.uint8)


def load_arrays(frame: pd.DataFrame, size: int, cache_dir: Path | None = None,
                progress: bool = True) -> ArrayCache:
    """Return the frame's images and masks at `size` x `size`, decoding PNGs only on a cache miss."""
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    dataset = str(frame["dataset"].iloc[0]) if len(frame) else "empty"
    path = Path(cache_dir or default_cache_dir()) / f"{dataset}-{size}px-{data_hash(frame)[:16]}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return ArrayCache(stored["image_ids"], stored["images"], stored["masks"], path)
    images = np.empty((len(frame), size, size), np.uint8)
    masks = np.empty_like(images)
    rows = frame.itertuples(index=False)
    for i, row in enumerate(tqdm(rows, total=len(frame), desc=f"caching {dataset} at {size}px", disable=not progress)):
        image = read_image(Path(row.image_path))
        mask = read_mask([Path(p) for p in row.mask_paths], image.shape)
        images[i], masks[i] = resize_pair(image, mask, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, image_ids=frame["image_id"].to_numpy(str), images=images, masks=masks)
    tmp.replace(path)
    return ArrayCache(frame["image_id"].to_numpy(str), images, masks, path)
