"""`python -m buslib predict`: lesion mask, malignancy probability and call, Grad-CAM, and the lesion detector's
verdict for each image.

The detector is the lesion gate notebook 02 chose on BUSI validation data (`buslib.experiments.lesion_gate`). It is
advisory: it flags an image where it sees no lesion but withholds nothing, because its threshold is set on BUSI's
normal images and need not transfer (notebook 04 measures it on Dataset B, where every image holds a lesion)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from ..data.cache import resize_image
from ..data.images import DataError
from ..experiments.interpretability import compute_cams
from ..experiments.lesion_gate import GATE_SCORES, gate_from_bundle
from ..experiments.segmenters import TwoStageEnsemble
from ..experiments.zoom import zoom_use
from ..infer import masks_at_original_size, segmenter_path, use_bf16
from ..models.bundle import ModelBundle
from ..report.drawing import PRED_COLOUR, cam_overlay, outline
from .ensemble import member_probabilities
from .export import bundle_folder, find_bundles
from .fast import chosen_path
from .inputs import check_output_folder, collect_images, read_scan
from .page import write_page

__all__ = ["NOT_A_DEVICE", "NO_LESION", "Predictor", "predict_images"]

NOT_A_DEVICE = ("Research model from an open study, not a medical device: not for diagnosis or any clinical "
                "decision.")


NO_LESION = "detector: no lesion (outline and call still given)"


@dataclass
class Predictor:
    """The bundles, built once. A fold-ensemble segmenter runs its members in PyTorch (each refined by its zoomed
    second stage where the bundle has them) and gives a per-pixel variance map; a single one runs on the path the
    benchmark chose. The detector, where there is one, only flags."""

    classifier: ModelBundle
    segmenter: ModelBundle
    folder: Path
    detector: ModelBundle | None = None

    def __post_init__(self) -> None:
        self.cls_members = self.classifier.build_members()
        self.gate = gate_from_bundle(self.detector) if self.detector is not None else None
        self.seg_ensemble = None
        if self.segmenter.members > 1:
            members = self.segmenter.build_members()
            uses = [zoom_use(name) for name in self.segmenter.zoom_uses]
            self.seg_ensemble = TwoStageEnsemble(members, self.segmenter.build_zoom_members(), uses,
                                                 self.segmenter.size, self.segmenter.stats)
            precision = "bf16" if use_bf16(torch.device("cpu")) else "fp32"
            self.path = f"eager_{precision}, mean of {len(members)} fold models"
            if self.segmenter.zoom_states:
                self.path += (f", each refined by its zoomed second stage ({', '.join(self.segmenter.zoom_uses)}; "
                              "chosen on validation images)")
        else:
            self.path = chosen_path(self.folder)
            self.segment = segmenter_path(self.path, self.segmenter.build(), self.segmenter.size, self.folder,
                                          self.segmenter.stats)

    def _segment(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Mask at the original size and, for an ensemble, the per-pixel variance of the members' P(lesion)."""
        if self.seg_ensemble is None:
            small = resize_image(grey, self.segmenter.size)[None]
            return masks_at_original_size(self.segment(small), [grey.shape])[0], None
        probs = self.seg_ensemble.member_maps([grey])[0]
        return probs.mean(0) > 0.5, probs.var(0)

    def _lesion(self, grey: np.ndarray) -> tuple[float, bool]:
        """The lesion gate's ensemble score (the fold members' mean) and whether it reports a lesion (NaN, True without
        a detector)."""
        if self.gate is None:
            return float("nan"), True
        score = float(self.gate.member_scores([grey]).mean())
        return score, score > self.gate.threshold

    def predict(self, grey: np.ndarray) -> dict:
        """For one image: P(lesion) and the detector's verdict; the mask (original size); P(malignant) with the
        members' spread; the call; the flags (members' disagreement, the detector seeing no lesion); and Grad-CAM
        of the first classifier member (original size, in [0, 1])."""
        prob_lesion, lesion = self._lesion(grey)
        mask, variance = self._segment(grey)
        cls_input = resize_image(grey, self.classifier.size)[None]
        probs = member_probabilities(self.classifier, cls_input, self.cls_members)[:, 0]
        prob, spread = float(probs.mean()), float(probs.std())
        cam = compute_cams(self.classifier.arch, self.cls_members[0], cls_input, "gradcam")[0][0]
        cam = F.interpolate(torch.from_numpy(cam)[None, None].float(), size=grey.shape, mode="bilinear",
                            align_corners=False)[0, 0].clamp(0, 1).numpy()
        flags = ["uncertain, review"] if spread > self.classifier.review_level else []
        return {"prob_lesion": prob_lesion, "lesion": lesion, "mask": mask, "variance": variance,
                "prob_malignant": prob, "prob_sd": spread, "cam": cam,
                "call": "malignant" if prob >= self.classifier.threshold else "benign",
                "review": "; ".join(flags + ([] if lesion else [NO_LESION]))}


def _detector_facts(detector: ModelBundle | None) -> dict:
    """The detector's columns of `predictions.csv`: what it is, its threshold and where it came from."""
    if detector is None:
        return {"detector": "none (the models' report saved no lesion detectors)"}
    members = len(detector.gate_thresholds) or detector.members  # the gate's fold members
    return {"detector": detector.arch, "detector_members": members, "lesion_gate": detector.gate,
            "lesion_score": GATE_SCORES[detector.gate], "lesion_threshold": detector.threshold,
            **{f"detector_{k}": v for k, v in detector.provenance.items()}}


def _row(path: Path, name: str) -> dict:
    return {"image": name, "path": str(path), "status": "ok", "error": "", "flags": ""}


def predict_images(inputs: list[Path], models: Path, out: Path, overwrite: bool = False) -> pd.DataFrame:
    """Predict every image; unreadable ones, and files in the folders that are not scans, are reported and
    skipped (rows with status 'failed' or 'left out'). Writes per image `<name>_mask.png`,
    `<name>_overlay.png`, `<name>_cam.jpg` under `out`, plus `predictions.csv` and `index.html`."""
    images, left_out = collect_images(inputs)
    check_output_folder(Path(out), images, overwrite)
    bundles = find_bundles(models)
    predictor = Predictor(bundles["classifier"], bundles["segmenter"], bundle_folder(models), bundles["detector"])
    out = Path(out)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = [_row(path, "") | {"status": "left out", "error": f"{path}: {reason}"} for path, reason in left_out.items()]
    if left_out:
        print(f"[buslib] left out {len(left_out)} files found in the folders (listed in predictions.csv and "
              f"index.html), e.g. {next(iter(left_out))}: {next(iter(left_out.values()))}", flush=True)
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
                           "prob_lesion": result["prob_lesion"], "lesion": result["lesion"],
                           "prob_malignant": result["prob_malignant"], "prob_sd": result["prob_sd"],
                           "review": result["review"], "call": result["call"],
                           "threshold": predictor.classifier.threshold,
                           "lesion_fraction": float(result["mask"].mean()),
                           "mask": f"{name}_mask.png", "overlay": f"{name}_overlay.png", "cam": f"{name}_cam.jpg",
                           "variance": f"{name}_variance.jpg" if result["variance"] is not None else ""})
    table = pd.DataFrame(rows)
    provenance = {f"classifier_{k}": v for k, v in predictor.classifier.provenance.items()}
    provenance |= {f"segmenter_{k}": v for k, v in predictor.segmenter.provenance.items()}
    provenance |= _detector_facts(predictor.detector)
    table = table.assign(classifier=predictor.classifier.arch, classifier_members=predictor.classifier.members,
                         classifier_review_level=predictor.classifier.review_level,
                         segmenter=predictor.segmenter.arch, segmenter_members=predictor.segmenter.members,
                         segmenter_inference=predictor.path, **provenance, note=NOT_A_DEVICE)
    table.to_csv(out / "predictions.csv", index=False)
    write_page(out / "index.html", table, out, NOT_A_DEVICE)
    return table
