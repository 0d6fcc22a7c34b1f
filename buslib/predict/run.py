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
from ..infer import masks_at_original_size, predict_proba, segmenter_path
from ..models.bundle import ModelBundle
from ..report.drawing import PRED_COLOUR, cam_overlay, outline
from .export import bundle_folder, find_bundles
from .fast import chosen_path
from .inputs import check_output_folder, collect_images, read_scan
from .page import write_page

__all__ = ["NOT_A_DEVICE", "Predictor", "predict_images"]

NOT_A_DEVICE = ("Research model from an open study, not a medical device: not for diagnosis or any clinical "
                "decision.")


@dataclass
class Predictor:
    """The two bundles, built once."""

    classifier: ModelBundle
    segmenter: ModelBundle
    folder: Path

    def __post_init__(self) -> None:
        self.cls_model = self.classifier.build()
        self.path = chosen_path(self.folder)
        self.segment = segmenter_path(self.path, self.segmenter.build(), self.segmenter.size, self.folder,
                                      self.segmenter.stats)

    def predict(self, grey: np.ndarray) -> dict:
        """Mask (original size), P(malignant), call, and Grad-CAM (original size, in [0, 1]) for one image."""
        mask = masks_at_original_size(self.segment(resize_image(grey, self.segmenter.size)[None]), [grey.shape])[0]
        cls_input = resize_image(grey, self.classifier.size)[None]
        prob = float(predict_proba(self.cls_model, cls_input, self.classifier.stats)[0, 1])
        cam = compute_cams(self.classifier.arch, self.cls_model, cls_input, "gradcam")[0][0]
        cam = F.interpolate(from_numpy(cam)[None, None].float(), size=grey.shape, mode="bilinear",
                            align_corners=False)[0, 0].clamp(0, 1).numpy()
        return {"mask": mask, "prob_malignant": prob, "cam": cam,
                "call": "malignant" if prob >= self.classifier.threshold else "benign"}


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
        rows.append(row | {"flags": "; ".join(flags), "width": grey.shape[1], "height": grey.shape[0],
                           "prob_malignant": result["prob_malignant"], "call": result["call"],
                           "threshold": predictor.classifier.threshold,
                           "lesion_fraction": float(result["mask"].mean()),
                           "mask": f"{name}_mask.png", "overlay": f"{name}_overlay.png", "cam": f"{name}_cam.jpg"})
    table = pd.DataFrame(rows)
    provenance = {f"classifier_{k}": v for k, v in predictor.classifier.provenance.items()}
    provenance |= {f"segmenter_{k}": v for k, v in predictor.segmenter.provenance.items()}
    table = table.assign(classifier=predictor.classifier.arch, segmenter=predictor.segmenter.arch,
                         segmenter_inference=predictor.path, **provenance, note=NOT_A_DEVICE)
    table.to_csv(out / "predictions.csv", index=False)
    write_page(out / "index.html", table, out, NOT_A_DEVICE)
    return table
