"""Seed-to-seed spread: the same run repeated with other training seeds, reported beside the bootstrap CI.

A bootstrap interval says how much a number would move with other test images; the seed spread says how
much it moves when only the training seed changes (initialisation, shuffling, augmentation, dropout).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = ["repeat_seeds", "spread_table"]

R = TypeVar("R")


def repeat_seeds(run: Callable[..., R], repeats: int, first_seed: int, *args, **kwargs) -> list[R]:
    """`run(*args, seed=s, **kwargs)` for `repeats` seeds s = first_seed, first_seed + 1, ..."""
    return [run(*args, seed=first_seed + k, **kwargs) for k in range(repeats)]


def spread_table(key: str, per_seed: Sequence[dict[str, float]], metrics: Sequence[str]) -> pd.DataFrame:
    """One row for `key`: the number of seeds, then mean, SD (ddof 1), min and max of each metric over them."""
    if not per_seed:
        raise ValueError(f"no seed runs for '{key}'")
    row: dict[str, object] = {"key": key, "seeds": len(per_seed)}
    for metric in metrics:
        values = np.array([float(result[metric]) for result in per_seed])
        row |= {f"{metric}_mean": values.mean(), f"{metric}_sd": values.std(ddof=1) if len(values) > 1 else 0.0,
                f"{metric}_min": values.min(), f"{metric}_max": values.max()}
    return pd.DataFrame([row])
