"""The BUSI study cohort: per-image statistics, near-duplicate groups, exclusions and every split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm.auto import tqdm

from .duplicates import DEFAULT_RULE, DuplicateRule, assign_groups, label_conflicts, near_duplicate_pairs
from .images import read_image, read_mask
from .splits import make_split_table

__all__ = ["PAPER_SPLITS", "Cohort", "load_full_resolution", "mask_statistics", "build_cohort", "load_split_table",
           "subset_per_class"]

# The papers' image-level random splits, kept only to compare with them (they leak).
PAPER_SPLITS = {
    "split_li_cls": {"train": 11, "val": 1, "test": 3},
    "split_li_seg": {"train": 12, "test": 3},
    "split_liu_cls": {"train": 7, "val": 3},
}


@dataclass
class Cohort:
    """Everything notebook 01 establishes about BUSI and later notebooks reuse."""

    table: pd.DataFrame
    pairs: pd.DataFrame
    conflicts: pd.DataFrame


def load_full_resolution(frame: pd.DataFrame, progress: bool = True) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Decode every image and its (union) mask at native resolution."""
    images, masks = [], []
    for row in tqdm(frame.itertuples(index=False), total=len(frame), desc="decoding", disable=not progress):
        image = read_image(Path(row.image_path))
        images.append(image)
        masks.append(read_mask([Path(p) for p in row.mask_paths], image.shape))
    return images, masks


def mask_statistics(frame: pd.DataFrame, masks: list[np.ndarray]) -> pd.DataFrame:
    """Lesion area as a fraction of the image and the number of connected lesion regions."""
    return pd.DataFrame({
        "image_id": frame["image_id"].to_numpy(),
        "mask_area_fraction": [float(m.mean()) for m in masks],
        "lesion_regions": [int(ndimage.label(m)[1]) for m in masks],
    })


def build_cohort(frame: pd.DataFrame, images: list[np.ndarray], n_folds: int, seed: int,
                 rule: DuplicateRule = DEFAULT_RULE) -> Cohort:
    """Group near-duplicates, flag label conflicts, and assign grouped folds plus the papers' splits.

    Images of a group that carries two labels are excluded from classification
    (`in_classification` False); they stay available to segmentation.
    """
    pairs = near_duplicate_pairs(frame, images, rule)
    grouped = frame.assign(group=assign_groups(frame, pairs))
    conflicts = label_conflicts(grouped)
    table = make_split_table(grouped, n_folds, seed, PAPER_SPLITS)
    table["group_size"] = table.groupby("group")["image_id"].transform("size")
    table["label_conflict"] = table["group"].isin(conflicts["group"])
    table["in_classification"] = ~table["label_conflict"]
    return Cohort(table=table, pairs=pairs, conflicts=conflicts)


def load_split_table(path: Path) -> pd.DataFrame:
    """Read a split table saved by notebook 01, checking its columns."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no split table; run notebook 01 (python -m buslib study --only 01) first")
    table = pd.read_csv(path)
    needed = {"image_id", "label", "group", "fold", "in_classification", *PAPER_SPLITS}
    if missing := needed - set(table.columns):
        raise ValueError(f"{path}: split table lacks columns {sorted(missing)}")
    return table


def subset_per_class(frame: pd.DataFrame, per_class: int | None, seed: int, label_col: str = "label") -> pd.DataFrame:
    """At most `per_class` rows of each label, drawn at random (the smoke profile's tiny subset); all if None."""
    if per_class is None:
        return frame
    chosen = [part.sample(min(per_class, len(part)), random_state=seed).index for _, part in frame.groupby(label_col)]
    return frame.loc[sorted(np.concatenate(chosen))]
