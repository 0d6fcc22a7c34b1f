"""Fold ensembles for `predict`: the cross-validated single whole-image architecture with the best pooled out-of-fold
AUC (all its fold models; a bundle holds one architecture, so averages and crop classifiers are left out) and the
cross-validated U2NET-Lite, as notebook 04 takes them to Dataset B.

The review level (member disagreement above which an image is flagged "uncertain, review") is set on
BUSI as notebook 04 sets it: the SD of the members' P(malignant) that the top 10% of BUSI lesion images
reach. It needs the BUSI data the study ran on; without it the bundle carries no review level and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..artefacts import artefact_path
from ..data.cache import load_arrays
from ..data.cohort import load_split_table
from ..data.images import DataError
from ..data.readers import read_busi
from ..experiments.crossval import JOIN
from ..experiments.external import REVIEW_SHARE, disagreement_level
from ..experiments.lesion_crops import is_crop_model
from ..infer import predict_proba
from ..models.bundle import ModelBundle

__all__ = ["ensemble_rows", "review_level", "member_probabilities", "segmenter_fold_states"]


def ensemble_rows(report_dir: Path, models: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame] | None:
    """The best cross-validated single architecture's row of `03_oof.csv` and its fold models' rows of `03_models.csv`
    (test fold 0 first), or None when notebook 03 cross-validated nothing."""
    oof_path = artefact_path(report_dir, "cls_oof")
    if not oof_path.is_file():
        return None
    oof = pd.read_csv(oof_path)
    whole_image = ~oof["model"].str.contains(JOIN, regex=False) & ~oof["model"].map(is_crop_model)
    best = oof[whole_image].sort_values("auc", ascending=False).iloc[0]
    folds = models[(models["task"] == "binary") & (models["model"] == best["model"]) & (models["init"] == best["init"])
                   & models["split"].str.startswith("grouped")]
    return best, folds.sort_values("split", key=lambda s: s.str.len()).reset_index(drop=True)


def member_probabilities(bundle: ModelBundle, images: np.ndarray, members: list | None = None) -> np.ndarray:
    """P(malignant) of every member of a classifier bundle (members x images), each with its own flip choice."""
    members = members or bundle.build_members()
    return np.stack([predict_proba(model, images, bundle.stats, tta=bundle.flip(i))[:, 1]
                     for i, model in enumerate(members)])


def review_level(report_dir: Path, bundle: ModelBundle) -> tuple[float, str]:
    """The member SD above which an image is flagged, from the BUSI lesion images the study ran on; NaN and
    the reason when those images cannot be read."""
    record_path = report_dir / "03.run.json"
    data = Path(json.loads(record_path.read_text()).get("data", "")) if record_path.is_file() else None
    try:
        splits = load_split_table(artefact_path(report_dir, "splits"))
        busi = read_busi(data).merge(splits.drop(columns="label"), on="image_id", validate="one_to_one")
    except (FileNotFoundError, DataError, TypeError, ValueError) as err:
        return float("nan"), f"no review flag: the study's BUSI data could not be read ({err})"
    lesions = busi[busi["in_classification"] & (busi["label"] != "normal")]
    level = disagreement_level(member_probabilities(bundle, load_arrays(lesions, bundle.size).images))
    return level, (f"flagged when the {bundle.members} fold models' P(malignant) has SD > {level:.4f}, the level the "
                   f"top {REVIEW_SHARE:.0%} of {len(lesions)} BUSI lesion images reach")


def segmenter_fold_states(report_dir: Path) -> dict[str, dict[str, torch.Tensor]] | None:
    """The cross-validated U2NET-Lites' weights by split (test fold 0 first), or None when notebook 02 saved none."""
    path = artefact_path(report_dir, "u2netp_folds")
    if not path.is_file():
        return None
    folds = torch.load(path, map_location="cpu", weights_only=True)
    return {split: folds[split] for split in sorted(folds, key=len)}
