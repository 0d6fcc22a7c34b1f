"""Notebook 05: class activation maps with pytorch-grad-cam, scored against the lesion masks.

Measured, not only pictured: for each model and CAM method, the share of CAM energy inside
the lesion mask and the pointing-game hit rate (`buslib.eval.localisation`), with
pytorch-grad-cam's `RandomCAM` (random channel weights on the same layer) as the baseline;
and a faithfulness check, `CamMultImageConfidenceChange` (how the predicted class's
probability changes when the image is multiplied by the CAM).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, RandomCAM
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from tqdm.auto import tqdm

from ..eval.localisation import score_cams
from ..infer import to_input
from ..models.registry import cam_layer, get_spec

__all__ = ["CAM_METHODS", "RESHAPE_TRANSFORMS", "vit_reshape_transform", "compute_cams", "score_localisation"]

CAM_METHODS = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "hirescam": HiResCAM, "eigencam": EigenCAM,
               "random": RandomCAM}


def vit_reshape_transform(tokens: torch.Tensor) -> torch.Tensor:
    """ViT tokens (B, 1 + H*W, C) -> feature map (B, C, H, W), dropping the class token."""
    grid = tokens[:, 1:, :]
    side = int(round(grid.shape[1] ** 0.5))
    if side * side != grid.shape[1]:
        raise ValueError(f"{grid.shape[1]} patch tokens do not form a square grid")
    return grid.reshape(tokens.shape[0], side, side, tokens.shape[2]).permute(0, 3, 1, 2)


# The registry names a reshape by key (`ClassifierSpec.cam_reshape`); pytorch-grad-cam takes the function.
RESHAPE_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"vit_tokens": vit_reshape_transform}


def compute_cams(model_name: str, model: torch.nn.Module, images: np.ndarray, method: str,
                 batch_size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAMs (N, S, S) in [0, 1] for the predicted class, the predicted classes, and the confidence change
    (CamMultImageConfidenceChange) of the predicted class when the image is multiplied by its CAM."""
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method '{method}'; choose one of {sorted(CAM_METHODS)}")
    spec = get_spec(model_name)
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    device = next(model.parameters()).device
    reshape = RESHAPE_TRANSFORMS[spec.cam_reshape] if spec.cam_reshape else None
    np.random.seed(seed)  # RandomCAM draws from numpy's global generator
    cams, preds, changes = [], [], []
    faithfulness = CamMultImageConfidenceChange()
    with CAM_METHODS[method](model=model, target_layers=[cam_layer(spec, model)], reshape_transform=reshape) as cam:
        for start in range(0, len(images), batch_size):
            batch = to_input(images[start:start + batch_size], spec.stats).contiguous().to(device)
            with torch.no_grad():
                predicted = model(batch).argmax(1).cpu().numpy()
            maps = cam(input_tensor=batch, targets=[ClassifierOutputTarget(int(c)) for c in predicted])
            maps = np.nan_to_num(maps, nan=0.0)
            changes.append(faithfulness(batch, maps, [ClassifierOutputSoftmaxTarget(int(c)) for c in predicted], model))
            cams.append(maps)
            preds.append(predicted)
    return np.concatenate(cams), np.concatenate(preds), np.concatenate(changes).reshape(-1)


def score_localisation(models: dict[str, tuple[str, torch.nn.Module]],
                       datasets: dict[str, tuple[np.ndarray, np.ndarray]], methods: Sequence[str],
                       seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Every (model, method, dataset): per-image CAM scores, plus the CAMs themselves keyed by the triple.

    `models` maps a display key to (registry name, model); `datasets` maps a name to (images, masks).
    """
    rows, cams = [], {}
    jobs = [(k, m, d) for k in models for m in methods for d in datasets]
    for key, method, dataset in tqdm(jobs, desc="CAMs"):
        name, model = models[key]
        images, masks = datasets[dataset]
        maps, predicted, change = compute_cams(name, model, images, method, seed=seed)
        cams[(key, method, dataset)] = (maps, predicted)
        scores = score_cams(maps, masks).assign(model=key, method=method, dataset=dataset, image=range(len(maps)),
                                                predicted=predicted, confidence_change=change)
        rows.append(scores)
    return pd.concat(rows, ignore_index=True), cams
