"""Screen images for burnt-in annotations: colour (Doppler, coloured marks) and bright calipers/text.

A screening heuristic, not ground truth: notebook 01 shows what it flags. Marks are
pixels brighter than 200 that stand more than 90 grey levels above a 7x7
morphological opening (thin bright structures); an image with more than
`MARK_PIXELS` of them is flagged. Speckle and specular tissue lines rarely pass both.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from .images import is_colour

__all__ = ["MARK_PIXELS", "mark_pixel_count", "screen_burnt_in"]

MARK_PIXELS = 300


def mark_pixel_count(image: np.ndarray) -> int:
    """Number of thin, near-white pixels (calipers, text, dotted measurement lines)."""
    tophat = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, np.ones((7, 7), np.uint8))
    return int(((tophat > 90) & (image > 200)).sum())


def screen_burnt_in(frame: pd.DataFrame, images: Sequence[np.ndarray]) -> pd.DataFrame:
    """Per image: colour flag, mark-pixel count and whether it probably carries calipers or text."""
    marks = [mark_pixel_count(image) for image in images]
    return pd.DataFrame({
        "image_id": frame["image_id"].to_numpy(),
        "colour": [is_colour(p) for p in frame["image_path"]],
        "mark_pixels": marks,
        "marks": [m > MARK_PIXELS for m in marks],
    })
