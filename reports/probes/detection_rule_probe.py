"""The detection threshold's rule, old against new, on the same five U2NET-Lite folds and lesion classifiers.

Notebook 02 reports a lesion where a score (the segmenter's highest lesion probability, or a normal-vs-lesion
classifier's P(lesion)) passes a threshold set on each fold's validation normal images (about 26) so that new normal
images pass it with probability at most 5%. Up to `4d77e0b`'s parent the threshold was the empirical 95% quantile
(`np.quantile(..., method="higher")`, the 2nd-highest of 26, which 2 in 27 new normals pass); since then it is the
split-conformal quantile (the highest of 26: 1 in 27). This probe trains what notebook 02 trains for it (cpu profile:
128 px, DUTS start, batch norm recalibrated, 4 epochs, strong recipe, normals as empty masks; MobileNetV2 from ImageNet,
12 epochs), then scores out-of-fold detection under both rules for the three gates of notebook 02. The rule changes
only the threshold; the models, scores and gate choices (validation AUC) are the same in both rows.

    python reports/probes/detection_rule_probe.py DATA_DIR WORKDIR OUT_JSON [PROFILE]

WORKDIR holds notebook 01's `splits_busi.csv` of the same profile (e.g. a copy of reports/cpu/splits_busi.csv).
It ran at `4d77e0b` (its output: `detection_rule_probe_fp32_4d77e0b.json`) and runs there: later commits moved the gates
to `buslib/experiments/gating.py`, added the mean of both scores and chose one gate for all folds.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_roles, fold_split
from buslib.data.tasks import class_targets
from buslib.eval.segmentation import summarise_cases
from buslib.experiments import segmentation
from buslib.experiments.classification import TaskData, run_many
from buslib.experiments.segmentation import gate_comparison, gate_runs, lesion_scores, run_folds
from buslib.infer import predict_seg_logits
from buslib.infer.torch_paths import describe_bf16
from buslib.report.context import open_notebook
from buslib.train.segmentation import get_seg_recipe

CONFORMAL = segmentation.choose_detection_threshold


def empirical(scores, has_lesion, max_normal_fp: float = segmentation.MAX_NORMAL_FP) -> float:
    """The rule before: the empirical (1 - max_normal_fp) quantile of the validation normals' scores."""
    normal = np.asarray(scores)[~np.asarray(has_lesion, bool)]
    return float(np.quantile(normal, 1 - max_normal_fp, method="higher")) if len(normal) else 0.0


def with_rule(run, test_scores: np.ndarray, rule, busi, seed: int = 0):
    """The segmenter's own gate of `run` at `rule`'s threshold (test scores computed as run_segmentation does)."""
    threshold = rule(run.valid["score"], run.valid["has_lesion"])
    cases = run.cases.assign(detected=test_scores > threshold)
    if rule is CONFORMAL and not cases["detected"].equals(run.cases["detected"]):
        raise AssertionError(f"{run.key}: the recomputed test scores do not reproduce run_segmentation's detection")
    groups = busi.set_index("image_id").loc[cases["image_id"], "group"].to_numpy()
    return replace(run, cases=cases, summary=summarise_cases(cases, groups, seed), detect_threshold=threshold)


def main(data_dir: str, workdir: str, out_json: str, profile: str = "cpu") -> None:
    ctx = open_notebook("02", profile, data_dir, workdir, 0, 0)
    busi, profile = ctx.load_busi(), ctx.profile
    arrays = load_arrays(busi, profile.seg_size)
    _, full_masks = load_full_resolution(busi)
    folds = run_folds("u2netp", busi, arrays.images, arrays.masks, full_masks, get_seg_recipe("strong"),
                      profile.seg_epochs, ctx.out_dir, 0, init="pretrained", bn="recalibrate")
    lesion = TaskData("lesion", busi, arrays.images, class_targets(busi["label"].to_numpy(), "lesion")[1],
                      {fold_split(f): fold_roles(busi["fold"], f, profile.n_folds) for f in range(profile.n_folds)})
    detectors = [run_many(["mobilenetv2"], lesion, fold_split(f), profile.cls_epochs, ctx.out_dir, 0, pretrained=True,
                          pretrained_epochs=profile.cls_epochs_pretrained)[0] for f in range(profile.n_folds)]
    test_scores = {}
    for fold, run in enumerate(folds):
        test = fold_roles(busi["fold"], fold, profile.n_folds) == "test"
        test_scores[run.split] = lesion_scores(predict_seg_logits(run.model, arrays.images[test], tta=run.tta,
                                                                  progress=False))
    result = {"bf16": describe_bf16(torch.device("cpu")), "rules": {}}
    for name, rule in (("empirical quantile (before)", empirical), ("conformal quantile (now)", CONFORMAL)):
        segmentation.choose_detection_threshold = rule   # detection_gate looks it up here
        runs = [with_rule(run, test_scores[run.split], rule, busi) for run in folds]
        table = gate_comparison(gate_runs(runs, detectors, busi), busi)
        result["rules"][name] = table.to_dict(orient="records")
        print(name, table.to_string(index=False), sep="\n", flush=True)
    segmentation.choose_detection_threshold = CONFORMAL
    Path(out_json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:5])
