"""Notebook 02's LiteMedSAM rows: U2NET-Lite's predicted lesion box given to LiteMedSAM as its prompt (a two-stage
segmenter), and the true lesion box as the upper bound of that pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..eval.segmentation import headline_columns, score_cases, summarise_cases
from ..infer import use_bf16
from ..models.medsam import box_prompt, segment_with_boxes
from .segmentation import SegRun, case_groups

__all__ = ["BOXES", "medsam_cases", "refinement_table"]

BOXES = ("predicted_box", "true_box")  # U2NET-Lite's largest predicted region; the true lesion's


def medsam_cases(run: SegRun, model: nn.Module, test_images: Sequence[np.ndarray],
                 test_masks: Sequence[np.ndarray]) -> dict[str, tuple[pd.DataFrame, list[np.ndarray]]]:
    """`run`'s test images segmented by `model` from each box in `BOXES`: per-image scores (with `run`'s own
    detection decisions, so only the outlines differ) and the masks, by box."""
    boxes = {"predicted_box": [box_prompt(p) for p in run.predictions],
             "true_box": [box_prompt(m) for m in test_masks]}
    masks = segment_with_boxes(model, test_images, boxes, bf16=use_bf16(torch.device("cpu")))
    detected = run.cases["detected"].to_numpy(bool)
    return {name: (score_cases(run.cases["image_id"], masks[name], test_masks, detected=detected), masks[name])
            for name in BOXES}


def refinement_table(run: SegRun, refined: dict[str, tuple[pd.DataFrame, list]], frame: pd.DataFrame,
                     seed: int = 0) -> pd.DataFrame:
    """One row per system on `run`'s test images: U2NET-Lite alone and LiteMedSAM from each box, with the
    pooled IoU, per-image means with group-bootstrap 95% intervals, and the detection-gated IoU."""
    groups = case_groups(frame, run.cases)
    systems = {"u2netp": run.cases, **{f"u2netp_litemedsam_{name}" if name == "predicted_box" else
                                       f"litemedsam_{name}": cases for name, (cases, _) in refined.items()}}
    rows = []
    for system, cases in systems.items():
        s = summarise_cases(cases, groups, seed)
        rows.append({"system": system, **headline_columns(s), "iou_gated": s["iou_gated"],
                     "lesion_images": s["lesion_images"]})
    return pd.DataFrame(rows)
