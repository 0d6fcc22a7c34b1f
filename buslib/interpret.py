"""Class activation maps with pytorch-grad-cam, scored against the lesion masks.

Measured, not only pictured: for each model and CAM method, the share of CAM energy inside
the lesion mask and the pointing-game hit rate (is the CAM's peak inside the lesion?), with
pytorch-grad-cam's `RandomCAM` (random channel weights on the same layer) as the baseline;
and a faithfulness check, `CamMultImageConfidenceChange` (how the predicted class's
probability changes when the image is multiplied by the CAM).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, RandomCAM
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from tqdm.auto import tqdm

from .classifiers import get_spec
from .loaders import to_input
from .viz import compare_outlines, outline, slider_browser, tile

CAM_METHODS = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "hirescam": HiResCAM, "eigencam": EigenCAM,
               "random": RandomCAM}


def vit_reshape_transform(tokens: torch.Tensor) -> torch.Tensor:
    """ViT tokens (B, 1 + H*W, C) -> feature map (B, C, H, W), dropping the class token."""
    grid = tokens[:, 1:, :]
    side = int(round(grid.shape[1] ** 0.5))
    if side * side != grid.shape[1]:
        raise ValueError(f"{grid.shape[1]} patch tokens do not form a square grid")
    return grid.reshape(tokens.shape[0], side, side, tokens.shape[2]).permute(0, 3, 1, 2)


def cam_setup(model_name: str, model: torch.nn.Module) -> tuple[list[torch.nn.Module], Callable | None]:
    """Target layers (from the classifier registry) and reshape transform for a model."""
    spec = get_spec(model_name)
    if spec.cam_layer is None:
        raise ValueError(f"classifier '{model_name}' names no layer for CAMs")
    return [spec.cam_layer(model)], vit_reshape_transform if model_name == "vit" else None


def compute_cams(model_name: str, model: torch.nn.Module, images: np.ndarray, method: str,
                 batch_size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAMs (N, S, S) in [0, 1] for the predicted class, the predicted classes, and the confidence change
    (CamMultImageConfidenceChange) of the predicted class when the image is multiplied by its CAM."""
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method '{method}'; choose one of {sorted(CAM_METHODS)}")
    stats = get_spec(model_name).stats
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    device = next(model.parameters()).device
    layers, reshape = cam_setup(model_name, model)
    np.random.seed(seed)  # RandomCAM draws from numpy's global generator
    cams, preds, changes = [], [], []
    faithfulness = CamMultImageConfidenceChange()
    with CAM_METHODS[method](model=model, target_layers=layers, reshape_transform=reshape) as cam:
        for start in range(0, len(images), batch_size):
            batch = to_input(images[start:start + batch_size], stats).contiguous().to(device)
            with torch.no_grad():
                predicted = model(batch).argmax(1).cpu().numpy()
            maps = cam(input_tensor=batch, targets=[ClassifierOutputTarget(int(c)) for c in predicted])
            maps = np.nan_to_num(maps, nan=0.0)
            changes.append(faithfulness(batch, maps, [ClassifierOutputSoftmaxTarget(int(c)) for c in predicted], model))
            cams.append(maps)
            preds.append(predicted)
    return np.concatenate(cams), np.concatenate(preds), np.concatenate(changes).reshape(-1)


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


def localisation_study(models: dict[str, tuple[str, torch.nn.Module]], datasets: dict[str, tuple[np.ndarray, np.ndarray]],
                       methods: Sequence[str], seed: int = 0) -> tuple[pd.DataFrame, dict]:
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


def summarise_localisation(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean energy inside, pointing-game hit rate and confidence change per model, method and dataset,
    beside the lesion-share expectation of a uniformly random map."""
    return (scores.groupby(["dataset", "model", "method"], sort=False)
            .agg(images=("energy_inside", "size"), energy_inside=("energy_inside", "mean"),
                 pointing_hit_rate=("pointing_hit", "mean"), lesion_share=("lesion_share", "mean"),
                 confidence_change=("confidence_change", "mean"))
            .reset_index())


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """A grey uint8 image with its CAM as a JET heatmap (pytorch-grad-cam's `show_cam_on_image`)."""
    rgb = np.repeat(image[..., None], 3, axis=2).astype(np.float32) / 255
    return show_cam_on_image(rgb, cam, use_rgb=True)


def cam_gallery(images: np.ndarray, masks: np.ndarray, cams: dict[str, np.ndarray], rows: Sequence[int],
                captions: Sequence[str], size: tuple[int, int] = (200, 200)) -> tuple[list[np.ndarray], list[str]]:
    """Tiles for an image x method grid: the image with its lesion outline, then one CAM overlay per method."""
    tiles, titles = [], []
    for row, caption in zip(rows, captions):
        tiles.append(tile(outline(images[row], masks[row], (60, 220, 60)), size))
        titles.append(caption)
        for method, maps in cams.items():
            tiles.append(tile(overlay(images[row], maps[row]), size))
            titles.append(method)
    return tiles, titles


def cam_browser(frame: pd.DataFrame, images: np.ndarray, true_masks: np.ndarray, pred_masks: np.ndarray | None,
                cams: np.ndarray, prob_malignant: np.ndarray, threshold: float, scores: pd.DataFrame):
    """Slider over images: lesion outlines (true green, U2NET-Lite red) beside the CAM, with the prediction."""
    rows = frame.reset_index(drop=True)

    def render(i: int):
        left = (compare_outlines(images[i], true_masks[i], pred_masks[i]) if pred_masks is not None
                else outline(images[i], true_masks[i], (60, 220, 60)))
        predicted = "malignant" if prob_malignant[i] >= threshold else "benign"
        text = (f"<b>{rows.loc[i, 'image_id']}</b> · true {rows.loc[i, 'label']} · predicted <b>{predicted}</b> "
                f"(P(malignant) {prob_malignant[i]:.2f}, threshold {threshold:.2f}) · CAM energy in lesion "
                f"{scores.loc[i, 'energy_inside']:.2f} · peak in lesion: {'yes' if scores.loc[i, 'pointing_hit'] else 'no'}")
        return np.hstack([left, overlay(images[i], cams[i])]), text

    return slider_browser(len(rows), render, width="760px")


def example_tiles(key: str, cams: dict, datasets: dict[str, tuple[np.ndarray, np.ndarray]],
                  frames: dict[str, pd.DataFrame], methods: Sequence[str], per_label: int = 2) -> tuple[list, list[str]]:
    """Gallery tiles for one model: `per_label` images of each label from every dataset, each followed by
    its CAM under every method (cams keyed by (model key, method, dataset) as `localisation_study` returns)."""
    tiles, titles = [], []
    for name, frame in frames.items():
        rows = frame.groupby("label").head(per_label).index.to_numpy()
        captions = [f"{name}: {frame.loc[i, 'image_id']} ({frame.loc[i, 'label']})" for i in rows]
        part = cam_gallery(*datasets[name], {m: cams[(key, m, name)][0] for m in methods}, rows, captions)
        tiles += part[0]
        titles += part[1]
    return tiles, titles
