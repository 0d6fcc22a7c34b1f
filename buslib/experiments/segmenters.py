"""Notebook 02's trained U2-Nets, loaded back from a report folder for notebooks 03-04, `predict` and probes, and the
fold ensemble with each fold's zoomed second stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..artefacts import artefact_path
from ..data.cache import resize_image
from ..data.normalise import IMAGENET_STATS, Stats
from ..infer import predict_seg_logits
from ..models.bundle import float_state
from ..models.u2net import U2Net
from .zoom import ZoomUse, probability_maps, zoom_probabilities, zoom_use

__all__ = ["load_segmenter", "load_fold_segmenters", "u2netp_from_state", "load_crop_segmenters",
           "load_segmenter_ensemble", "TwoStageEnsemble", "zoom_fold_states", "load_two_stage_ensemble"]


def load_segmenter(report_dir: Path, variant: str) -> U2Net | None:
    """The U2-Net `variant` notebook 02 trained on BUSI's grouped split, or None when its weights are absent."""
    path = artefact_path(report_dir, f"{variant}_weights")
    if not path.is_file():
        return None
    model = U2Net(variant)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_fold_segmenters(report_dir: Path) -> dict[str, U2Net] | None:
    """Notebook 02's cross-validation U2NET-Lites by grouped split ('grouped', 'grouped_f1', ...), from their
    half-precision copies; None when they were not saved."""
    path = artefact_path(report_dir, "u2netp_folds")
    if not path.is_file():
        return None
    states = torch.load(path, map_location="cpu", weights_only=True)
    return {split: u2netp_from_state(state) for split, state in states.items()}


def u2netp_from_state(state: dict[str, torch.Tensor]) -> U2Net:
    """A U2NET-Lite in eval mode from a (possibly half-precision) state dict."""
    model = U2Net("u2netp")
    model.load_state_dict(float_state(state))
    return model.eval()


def load_crop_segmenters(report_dir: Path) -> dict[str, U2Net]:
    """The U2NET-Lite of each grouped split that the crop classifiers segment with: test fold 0's full-precision
    model (the one notebook 02 reports) and the other folds' half-precision copies; empty when none was saved."""
    fold0 = load_segmenter(report_dir, "u2netp")
    return (load_fold_segmenters(report_dir) or {}) | ({"grouped": fold0} if fold0 is not None else {})


@dataclass
class TwoStageEnsemble:
    """Fold U2NET-Lites averaged at each image's own size, each member's map first refined by its fold's zoomed second
    stage with the use that fold chose on validation (a use of None keeps that member's stage 1; no stage 2 models
    and no uses at all: every member's stage 1 alone). Stage 1 runs without the test-time flip, stage 2 with it.
    `predict` runs it; notebook 04 scores it on Dataset B."""

    stage1: Sequence[nn.Module]
    zooms: Sequence[nn.Module | None]
    uses: Sequence[ZoomUse | None]
    size: int
    stats: Stats = IMAGENET_STATS

    def __post_init__(self) -> None:
        if not self.zooms and not self.uses:
            self.zooms, self.uses = [None] * len(self.stage1), [None] * len(self.stage1)
        if not self.stage1 or not len(self.stage1) == len(self.zooms) == len(self.uses):
            raise ValueError(f"a two-stage ensemble needs one stage 2 and one use per stage-1 member: got "
                             f"{len(self.stage1)} members, {len(self.zooms)} stage 2 models and {len(self.uses)} uses")
        missing = [k for k, (zoom, use) in enumerate(zip(self.zooms, self.uses)) if use is not None and zoom is None]
        if missing:
            raise ValueError(f"members {missing} have a zoom use but no stage 2 model")

    def member_maps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """For each grey image (any size), its members' P(lesion) maps at that size (members x height x width)."""
        small = np.stack([resize_image(image, self.size) for image in images])
        shapes = [image.shape for image in images]
        per_member = []
        for model, zoom, use in zip(self.stage1, self.zooms, self.uses):
            maps = probability_maps(predict_seg_logits(model, small, stats=self.stats, progress=False), shapes)
            per_member.append(maps if use is None else zoom_probabilities(zoom, images, maps, use, self.size))
        return [np.stack(member) for member in zip(*per_member)]

    def masks(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each image's lesion mask at its size: the members' mean P(lesion) above 0.5."""
        return [maps.mean(0) > 0.5 for maps in self.member_maps(images)]


def load_segmenter_ensemble(report_dir: Path, size: int) -> TwoStageEnsemble | None:
    """The cross-validation U2NET-Lites of notebook 02 (inputs of `size` px) averaged at each image's size, without
    their second stages (what `predict` runs when a bundle has none), or None when they were not saved."""
    folds = load_fold_segmenters(report_dir)
    if folds is None:
        return None
    return TwoStageEnsemble(list(folds.values()), [], [], size)


def zoom_fold_states(report_dir: Path, splits: list[str]) -> tuple[list[dict[str, torch.Tensor]], list[str]] | None:
    """Each split's zoomed second stage and the use chosen for it, in the order of `splits`; None when notebook 02
    saved none (a profile that does not run it, or a report older than it)."""
    path = artefact_path(report_dir, "u2netp_zoom_folds")
    if not path.is_file():
        return None
    folds = torch.load(path, map_location="cpu", weights_only=True)
    missing = sorted(set(splits) - set(folds))
    if missing:
        raise ValueError(f"{path}: no zoomed second stage for the segmenter folds {missing} (it has {sorted(folds)}); "
                         "run notebook 02 again")
    return [folds[split]["state"] for split in splits], [folds[split]["use"] for split in splits]


def load_two_stage_ensemble(report_dir: Path, size: int) -> TwoStageEnsemble | None:
    """Notebook 02's cross-validation U2NET-Lites, each with its zoomed second stage and chosen use (inputs of `size`
    px), as `predict` runs them; None when either was not saved."""
    folds = load_fold_segmenters(report_dir)
    zoom = None if folds is None else zoom_fold_states(report_dir, list(folds))
    if zoom is None:
        return None
    states, uses = zoom
    return TwoStageEnsemble(list(folds.values()), [u2netp_from_state(state) for state in states],
                            [zoom_use(name) for name in uses], size)
