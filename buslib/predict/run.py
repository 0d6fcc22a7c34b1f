"""`python -m buslib predict`: lesion mask, malignancy probability and call, and Grad-CAM for each image."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch.nn.functional as F
from PIL import Image
from torch import from_numpy
from tqdm.auto import tqdm

from ..data.cache import resize_image
from ..data.images import DataError
from ..experiments.interpretability import compute_cams
from ..infer import masks_at_original_size, predict_seg_logits, segmenter_path
from ..models.bundle import ModelBundle
from ..report.drawing import PRED_COLOUR, cam_overlay, outline
from .ensemble import member_probabilities
from .export import bundle_folder, find_bundles
from .fast import chosen_path
from .inputs import check_output_folder, collect_images, read_scan
from .page import write_page

__all__ = ["NOT_A_DEVICE", "Predictor", "predict_images"]

NOT_A_DEVICE = ("Research model from an open study, not a medical device: not for diagnosis or any clinical "
                "decision.")


@dataclass
class Predictor:
    """The two bundles, built once. A fold-ensemble segmenter runs its members in PyTorch and gives a
    per-pixel variance map; a single one runs on the path the benchmark chose."""

    classifier: ModelBundle
    segmenter: ModelBundle
    folder: Path

    def __post_init__(self) -> None:
        self.cls_members = self.classifier.build_members()
        self.seg_members = self.segmenter.build_members() if self.segmenter.members > 1 else []
        if self.seg_members:
            self.path = f"eager_bf16, mean of {len(self.seg_members)} fold models"
        else:
            self.path = chosen_path(self.folder)
            self.segment = segmenter_path(self.path, self.segmenter.build(), self.segmenter.size, self.folder,
                                          self.segmenter.stats)

    def _segment(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Mask at the original size and, for an ensemble, the per-pixel variance of the members' P(lesion)."""
        small = resize_image(grey, self.segmenter.size)[None]
        if not self.seg_members:
            return masks_at_original_size(self.segment(small), [grey.shape])[0], None
        probs = np.stack([1 / (1 + np.exp(-predict_seg_logits(m, small, stats=self.segmenter.stats, progress=False)))
                          for m in self.seg_members])[:, 0]
        mean = np.clip(probs.mean(0), 1e-6, 1 - 1e-6)
        mask = masks_at_original_size(np.log(mean / (1 - mean))[None], [grey.shape])[0]
        variance = F.interpolate(from_numpy(probs.var(0))[None, None].float(), size=grey.shape, mode="bilinear",
                                 align_corners=False)[0, 0].numpy()
        return mask, variance

    def predict(self, grey: np.ndarray) -> dict:
        """Mask (original size), P(malignant) with the members' spread, call, review flag, and Grad-CAM of the
        first member (original size, in [0, 1]) for one image."""
        mask, variance = self._segment(grey)
        cls_input = resize_image(grey, self.classifier.size)[None]
        probs = member_probabilities(self.classifier, cls_input, self.cls_members)[:, 0]
        prob, spread = float(probs.mean()), float(probs.std())
        cam = compute_cams(self.classifier.arch, self.cls_members[0], cls_input, "gradcam")[0][0]
        cam = F.interpolate(from_numpy(cam)[None, None].float(), size=grey.shape, mode="bilinear",
                            align_corners=False)[0, 0].clamp(0, 1).numpy()
        return {"mask": mask, "variance": variance, "prob_malignant": prob, "prob_sd": spread, "cam": cam,
                "call": "malignant" if prob >= self.classifier.threshold else "benign",
                "review": "uncertain, review" if spread > self.classifier.review_level else ""}


def _row(path: Path, name: str) -> dict:
    return {"image": name, "path": str(path), "status": "ok", "error": "", "flags": ""}


def predict_images(inputs: list[Path], models: Path, out: Path, overwrite: bool = False) -> pd.DataFrame:
    """Predict every image; unreadable ones are reported and skipped. Writes per image `<name>_mask.png`,
    `<name>_overlay.png`, `<name>_cam.jpg` under `out`, plus `predictions.csv` and `index.html`."""
    images = collect_images(inputs)
    check_output_folder(Path(out), images, overwrite)
    bundles = find_bundles(models)
    predictor = Predictor(bundles["classifier"], bundles["segmenter"], bundle_folder(models))
    out = Path(out)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = []
    for index, path in enumerate(tqdm(images, desc="predicting", unit="image")):
        name = f"{index:04d}_{path.stem}"
        row = _row(path, name)
        try:
            grey, flags = read_scan(path)
        except DataError as err:
            rows.append(row | {"status": "failed", "error": str(err)})
            print(f"[buslib] skipped {err}", flush=True)
            continue
        result = predictor.predict(grey)
        Image.fromarray(result["mask"].astype(np.uint8) * 255).save(out / f"{name}_mask.png")
        Image.fromarray(outline(grey, result["mask"], PRED_COLOUR)).save(out / f"{name}_overlay.png")
        Image.fromarray(cam_overlay(grey, result["cam"])).save(out / f"{name}_cam.jpg", quality=85)
        if result["variance"] is not None:  # 0.25 is the largest variance of a probability
            Image.fromarray(cam_overlay(grey, np.clip(result["variance"] / 0.25, 0, 1))).save(
                out / f"{name}_variance.jpg", quality=85)
        rows.append(row | {"flags": "; ".join(flags), "width": grey.shape[1], "height": grey.shape[0],
                           "prob_malignant": result["prob_malignant"], "prob_sd": result["prob_sd"],
                           "review": result["review"], "call": result["call"],
                           "threshold": predictor.classifier.threshold,
                           "lesion_fraction": float(result["mask"].mean()),
                           "mask": f"{name}_mask.png", "overlay": f"{name}_overlay.png", "cam": f"{name}_cam.jpg",
                           "variance": f"{name}_variance.jpg" if result["variance"] is not None else ""})
    table = pd.DataFrame(rows)
    provenance = {f"classifier_{k}": v for k, v in predictor.classifier.provenance.items()}
    provenance |= {f"segmenter_{k}": v for k, v in predictor.segmenter.provenance.items()}
    table = table.assign(classifier=predictor.classifier.arch, classifier_members=predictor.classifier.members,
                         classifier_review_level=predictor.classifier.review_level,
                         segmenter=predictor.segmenter.arch, segmenter_members=predictor.segmenter.members,
                         segmenter_inference=predictor.path, **provenance, note=NOT_A_DEVICE)
    table.to_csv(out / "predictions.csv", index=False)
    write_page(out / "index.html", table, out, NOT_A_DEVICE)
    return table
