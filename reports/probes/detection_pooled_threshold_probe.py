"""The detection threshold from each fold's own validation normals (about 26) against one pooled over the other folds',
and the gate chosen by pooled validation AUC against the share of validation lesions it finds at the operating point.

Notebook 02 reports a lesion where a gate's score (U2NET-Lite's highest lesion probability, the MobileNetV2 lesion
classifier's P(lesion), or their mean) passes a threshold that new normal images are expected to pass with probability
at most 5% (the split-conformal quantile). Until this probe the gate was the one with the highest pooled validation AUC
(the mean, in the cpu reports). With 26 validation normals that quantile is their
highest score, so one normal image that looks like a lesion sets a fold's threshold. The other rule pools, for test
fold f, the validation images of every fold run whose validation fold is not f (4 of 5 runs: about 106 normals, never
an image of fold f) and takes the same quantile there (the 5th-highest normal score).

No training: it loads the fold models a report published (`checkpoints/02_u2netp_folds.pth` at half precision,
`02_u2netp_grouped.pth` for fold 0, `checkpoints/02_lesion_detectors.pth`), scores every fold's validation and test
images as notebook 02 does (128 px, each model's own flip choice, taken from `02_folds.csv` and the detectors' file)
and compares the rules per fold and out of fold. A few minutes on 2 CPU cores.

    python reports/probes/detection_pooled_threshold_probe.py DATA_DIR REPORT_DIR OUT_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_split_table
from buslib.data.readers import read_busi
from buslib.data.splits import fold_roles, fold_split
from buslib.experiments.detectors import load_detector_folds
from buslib.experiments.segmentation import choose_detection_threshold, lesion_scores
from buslib.experiments.segmenters import load_fold_segmenters, load_segmenter
from buslib.infer import predict_proba, predict_seg_logits
from buslib.infer.torch_paths import describe_bf16
from buslib.models.registry import get_spec, load_classifier

N_FOLDS = 5


GATES = ("segmenter", "detector", "mean")


def fold_scores(busi: pd.DataFrame, images: np.ndarray, report: Path) -> list[dict[str, pd.DataFrame]]:
    """Per test fold: each gate's score on its 'valid' and 'test' images."""
    segmenters = load_fold_segmenters(report) | {"grouped": load_segmenter(report, "u2netp")}
    seg_tta = pd.read_csv(report / "02_folds.csv").set_index("fold")["tta"]
    detectors = load_detector_folds(report / "checkpoints" / "02_lesion_detectors.pth")
    stats = get_spec(detectors["model"]).stats
    lesion = (busi["label"] != "normal").to_numpy()
    scores = []
    for fold in range(N_FOLDS):
        split, roles = fold_split(fold), fold_roles(busi["fold"], fold, N_FOLDS)
        saved = detectors["folds"][split]
        detector = load_classifier(detectors["model"], 2, detectors["size"], saved["state"]).eval()
        parts = {}
        for role in ("valid", "test"):
            rows = np.flatnonzero(roles == role)
            segmenter = lesion_scores(predict_seg_logits(segmenters[split], images[rows], progress=False,
                                                         tta=seg_tta[split] in (True, "True")))
            classifier = predict_proba(detector, images[rows], stats, tta=bool(saved["tta"]))[:, 1]
            parts[role] = pd.DataFrame({"image_id": busi["image_id"].to_numpy()[rows], "has_lesion": lesion[rows],
                                        "segmenter": segmenter, "detector": classifier,
                                        "mean": (segmenter + classifier) / 2})
        scores.append(parts)
        print(f"fold {fold} scored", flush=True)
    return scores


def detection(test: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Shares of lesion and normal test images reported at `threshold`."""
    reported = test["score"].to_numpy() > threshold
    lesion = test["has_lesion"].to_numpy(bool)
    return {"threshold": threshold, "lesion_detection_rate": float(reported[lesion].mean()),
            "normal_fp_rate": float(reported[~lesion].mean()), "normals_reported": int(reported[~lesion].sum()),
            "normal_images": int((~lesion).sum())}


def compare(scores: list[dict[str, pd.DataFrame]]) -> dict:
    """Per fold and pooled out of fold: each rule's threshold and detection shares (scores in column 'score')."""
    rules = {"own validation fold": lambda f: scores[f]["valid"],
             "pooled over the other folds' validation": lambda f: pd.concat(
                 [s["valid"] for s in scores if not s["valid"]["image_id"].isin(scores[f]["test"]["image_id"]).any()])}
    result = {}
    for name, validation in rules.items():
        per_fold, reported = [], []
        for fold, parts in enumerate(scores):
            valid = validation(fold)
            threshold = choose_detection_threshold(valid["score"].to_numpy(), valid["has_lesion"].to_numpy(bool))
            per_fold.append({"fold": fold, "validation_normals": int((~valid["has_lesion"]).sum()),
                             **detection(parts["test"], threshold)})
            reported.append(parts["test"].assign(score=parts["test"]["score"] - threshold))
        pooled = detection(pd.concat(reported), 0.0)
        pooled.pop("threshold")
        result[name] = {"folds": per_fold, "out_of_fold": pooled}
        print(name, json.dumps(result[name]["out_of_fold"]), flush=True)
        print(pd.DataFrame(per_fold).to_string(index=False), flush=True)
    return result


def validation_choice(scores: list[dict[str, pd.DataFrame]], gate: str) -> dict[str, float]:
    """A gate's pooled validation AUC and the share of validation lesions past the threshold set on all the pooled
    validation normals (the two ways to choose the gate)."""
    valid = pd.concat([parts["valid"] for parts in scores])
    lesion, score = valid["has_lesion"].to_numpy(bool), valid[gate].to_numpy()
    threshold = choose_detection_threshold(score, lesion)
    return {"valid_auc": float(roc_auc_score(lesion, score)),
            "valid_detection_rate": float((score[lesion] > threshold).mean())}


def main(data_dir: str, report_dir: str, out_json: str) -> None:
    report = Path(report_dir)
    busi = read_busi(data_dir).merge(load_split_table(report / "splits_busi.csv").drop(columns="label"),
                                     on="image_id", validate="one_to_one")
    scores = fold_scores(busi, load_arrays(busi, 128).images, report)
    result = {"report": str(report), "precision": describe_bf16(torch.device("cpu")),
              "gates": {}}
    for gate in GATES:
        print(f"--- gate: {gate}", flush=True)
        gated = [{part: frame.assign(score=frame[gate]) for part, frame in parts.items()} for parts in scores]
        result["gates"][gate] = validation_choice(scores, gate) | {"rules": compare(gated)}
        print(json.dumps(validation_choice(scores, gate)), flush=True)
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
