"""Does a class activation map point at the lesion? Energy inside the mask and the pointing game,
against the lesion-share expectation of a uniformly random map and against RandomCAM."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["energy_inside", "pointing_hit", "score_cams", "summarise_localisation", "margin_over_random"]


def energy_inside(cam: np.ndarray, mask: np.ndarray) -> float:
    """Share of the CAM's total energy (sum of values) that lies inside the mask; NaN for an empty mask
    or an all-zero CAM."""
    total = float(cam.sum())
    if not mask.any() or total <= 0:
        return float("nan")
    return float(cam[mask.astype(bool)].sum() / total)


def pointing_hit(cam: np.ndarray, mask: np.ndarray) -> float:
    """1 if the CAM's maximum lies inside the mask, else 0 (NaN for an empty mask). Ties take the first."""
    if not mask.any():
        return float("nan")
    return float(mask.reshape(-1)[int(np.argmax(cam))] > 0)


def score_cams(cams: np.ndarray, masks: np.ndarray) -> pd.DataFrame:
    """Per image: energy inside the lesion, pointing-game hit, and the lesion's share of the image
    (what a uniformly random map would score on both)."""
    if cams.shape != masks.shape:
        raise ValueError(f"CAMs {cams.shape} and masks {masks.shape} differ in shape")
    return pd.DataFrame({"energy_inside": [energy_inside(c, m) for c, m in zip(cams, masks)],
                         "pointing_hit": [pointing_hit(c, m) for c, m in zip(cams, masks)],
                         "lesion_share": masks.reshape(len(masks), -1).mean(1)})


def summarise_localisation(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean energy inside, pointing-game hit rate and confidence change per model, method and dataset,
    beside the lesion-share expectation of a uniformly random map."""
    return (scores.groupby(["dataset", "model", "method"], sort=False)
            .agg(images=("energy_inside", "size"), energy_inside=("energy_inside", "mean"),
                 pointing_hit_rate=("pointing_hit", "mean"), lesion_share=("lesion_share", "mean"),
                 confidence_change=("confidence_change", "mean"))
            .reset_index())


def margin_over_random(summary: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Each real method's rows of `summary` with `energy_over_random`: its energy inside minus the
    baseline method's for the same dataset and model; largest margin first."""
    real = summary[summary["method"] != baseline]
    random = summary[summary["method"] == baseline][["dataset", "model", "energy_inside"]]
    merged = real.merge(random, on=["dataset", "model"], suffixes=("", "_random"), validate="many_to_one")
    merged["energy_over_random"] = merged["energy_inside"] - merged.pop("energy_inside_random")
    return merged.sort_values("energy_over_random", ascending=False).reset_index(drop=True)
