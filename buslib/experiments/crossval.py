"""Notebook 03's cross-validation: the chosen classifiers trained once per grouped test fold, their
out-of-fold predictions pooled into one set of metrics, and repeats over seeds.

Which models get the five folds is decided on validation data (the fold-0 runs' validation AUC),
never on test predictions. Each fold's thresholds come from that fold's own validation fold. The
cross-validated models are also averaged fold by fold (`averaged_folds`), a combination fixed before any
test prediction is seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.splits import fold_split
from ..eval.classification import binary_metrics, bootstrap_binary_metrics, roc_points
from ..eval.stats import format_ci
from .classification import ClsRun, TaskData, frozen_decisions, run_classifier
from .seeds import repeat_seeds

__all__ = ["JOIN", "choose_by_validation", "run_folds", "averaged_folds", "pooled_validation_auc",
           "averages_by_validation", "pooled_predictions", "out_of_fold",
           "oof_key", "oof_table", "oof_roc_curves", "rerun_with_seeds"]

DECISIONS = ("accuracy", "precision", "recall", "specificity", "f1")
JOIN = "_and_"  # joins the names of models averaged together, e.g. 'rcdnet_and_effnet_lite2'


def choose_by_validation(runs: Sequence[ClsRun], n: int, split: str = "grouped") -> list[ClsRun]:
    """The `n` binary runs on `split` with the best validation AUC, best first."""
    candidates = [r for r in runs if r.task == "binary" and r.split == split]
    if not candidates:
        raise ValueError(f"no binary run on split '{split}'")
    return sorted(candidates, key=lambda r: r.metrics["valid_auc"], reverse=True)[:n]


def run_folds(first: ClsRun, data: TaskData, workdir: Path, seed: int = 0) -> list[ClsRun]:
    """`first` (a fold-0 run, with its learning curve) and the same model, initialisation and epochs trained on
    every other grouped fold, without the per-epoch validation pass where the recipe allows (`run_classifier`)."""
    folds = sorted(split for split in data.roles if split.startswith("grouped"))
    runs = [first]
    for fold in range(1, len(folds)):
        print(f"[{data.task} / cross-validation] {first.model_name} ({first.init}), fold {fold} of {len(folds) - 1}",
              flush=True)
        runs.append(run_classifier(first.model_name, data.task, fold_split(fold), data.frame,
                                   data.roles[fold_split(fold)], data.images, data.targets, first.epochs, workdir,
                                   first.init == "imagenet", seed, monitor=False))
    return runs


def averaged_folds(cv: Sequence[Sequence[ClsRun]]) -> list[ClsRun]:
    """The cross-validated models averaged fold by fold: each image's P(malignant) is the mean of theirs, and each
    fold's thresholds are chosen again on the mean's validation predictions. The model name joins theirs with `JOIN`,
    and so does the initialisation where theirs differ."""
    averaged = []
    for runs in zip(*cv, strict=True):
        if len({r.split for r in runs}) != 1:
            raise ValueError(f"folds out of step: {[r.split for r in runs]}")
        test, valid = (_mean_probabilities([getattr(r, part) for r in runs]) for part in ("test", "valid"))
        threshold, triage, metrics = frozen_decisions(valid["y"], valid["prob_malignant"], test["y"],
                                                      test["prob_malignant"])
        inits = list(dict.fromkeys(r.init for r in runs))   # one, or every one joined: 'imagenet_and_scratch'
        averaged.append(replace(runs[0], model_name=JOIN.join(r.model_name for r in runs), init=JOIN.join(inits),
                                test=test, valid=valid,
                                threshold=threshold, triage_threshold=triage, metrics=metrics, ci=None,
                                tta=any(r.tta for r in runs)))
    return averaged


def pooled_validation_auc(runs: Sequence[ClsRun]) -> float:
    """AUC of every fold's validation predictions pooled (each image is in one validation fold)."""
    valid = pd.concat([r.valid for r in runs], ignore_index=True)
    if valid["image_id"].duplicated().any():
        raise ValueError("an image is in more than one validation fold")
    return binary_metrics(valid["y"].to_numpy(), valid["prob_malignant"].to_numpy())["auc"]


def averages_by_validation(cv: Sequence[Sequence[ClsRun]],
                           candidates: Sequence[Sequence[ClsRun]] = ()) -> list[list[ClsRun]]:
    """The cross-validated models averaged fold by fold (when there are two or more), then forward selection over
    `candidates` (other models' fold runs): the candidate that raises the average's pooled *validation* AUC most
    joins it, one at a time, while one does; each average along the way is a row. Test predictions decide
    nothing."""
    if len(cv) < 2:
        return []
    members, averages = list(cv), [averaged_folds(cv)]
    remaining = list(candidates)
    while remaining:
        score, best = max(((pooled_validation_auc(averaged_folds([*members, c])), i) for i, c in enumerate(remaining)),
                          key=lambda pair: pair[0])
        if score <= pooled_validation_auc(averages[-1]):
            break
        members.append(remaining.pop(best))
        averages.append(averaged_folds(members))
    return averages


def _mean_probabilities(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The first table with P(benign) and P(malignant) averaged over all of them (same images, same order)."""
    if any(not t["image_id"].equals(tables[0]["image_id"]) for t in tables):
        raise ValueError("the models' predictions cover different images")
    mean = tables[0].copy()
    mean["prob_malignant"] = np.mean([t["prob_malignant"].to_numpy() for t in tables], axis=0)
    mean["prob_benign"] = 1 - mean["prob_malignant"]
    return mean


def pooled_predictions(runs: Sequence[ClsRun]) -> pd.DataFrame:
    """Every fold's test predictions in one table, with the fold's thresholds; raises if an image repeats."""
    pooled = pd.concat([r.test.assign(fold=r.split, threshold=r.threshold, triage=r.triage_threshold) for r in runs],
                       ignore_index=True)
    if pooled["image_id"].duplicated().any():
        raise ValueError("an image is in more than one test fold")
    return pooled


def out_of_fold(runs: Sequence[ClsRun], seed: int = 0, n_resamples: int = 1000) -> dict[str, float]:
    """Metrics of every fold's test predictions pooled (each image predicted once, by the model that never
    saw it), with 95% intervals by group bootstrap over all images. Decisions use each fold's own
    frozen thresholds (Youden's and the triage point), so they are not re-tuned on the pooled set."""
    pooled = pooled_predictions(runs)
    y, prob, groups = pooled["y"].to_numpy(), pooled["prob_malignant"].to_numpy(), pooled["group"].to_numpy()
    at_youden = prob - pooled["threshold"].to_numpy() + 0.5  # prob >= fold threshold  <=>  shifted >= 0.5
    at_triage = prob - pooled["triage"].to_numpy() + 0.5
    summary = binary_metrics(y, prob) | {m: binary_metrics(y, at_youden)[m] for m in DECISIONS}
    triaged = binary_metrics(y, at_triage)
    summary |= {"triage_recall": triaged["recall"], "triage_specificity": triaged["specificity"]}
    raw = bootstrap_binary_metrics(y, prob, 0.5, groups, n_resamples, seed=seed)
    decided = bootstrap_binary_metrics(y, at_youden, 0.5, groups, n_resamples, seed=seed)
    for metric, ci in (("auc", raw), ("accuracy", decided), ("recall", decided), ("specificity", decided)):
        summary |= {f"{metric}_ci_low": ci.loc[metric, "low"], f"{metric}_ci_high": ci.loc[metric, "high"]}
    return summary | {"images": len(pooled), "folds": len(runs)}


def oof_key(run: ClsRun) -> str:
    """The metrics name of a cross-validated model, e.g. 'effnet_lite0_binary_oof_pretrained' ('_mixed' for an
    average of ImageNet-started and scratch models)."""
    start = {"imagenet": "pretrained", "scratch": "scratch"}.get(run.init, "mixed")
    return f"{run.model_name}_{run.task}_oof_{start}"


def oof_table(cv: Sequence[Sequence[ClsRun]], seed: int = 0) -> pd.DataFrame:
    """One row per cross-validated model: pooled validation AUC, pooled out-of-fold metrics with CIs, and the
    spread over folds."""
    rows = []
    for runs in cv:
        s = out_of_fold(runs, seed)
        fold_auc = np.array([r.metrics["auc"] for r in runs])
        rows.append({"key": oof_key(runs[0]), "model": runs[0].model_name, "init": runs[0].init, "folds": s["folds"],
                     "images": s["images"], "valid_auc": pooled_validation_auc(runs), "auc": s["auc"],
                     "auc_95ci": format_ci(s["auc_ci_low"], s["auc_ci_high"]),
                     "accuracy": s["accuracy"], "accuracy_95ci": format_ci(s["accuracy_ci_low"], s["accuracy_ci_high"]),
                     "recall": s["recall"], "specificity": s["specificity"], "triage_recall": s["triage_recall"],
                     "triage_specificity": s["triage_specificity"], "brier": s["brier"], "ece": s["ece"],
                     "fold_auc_mean": fold_auc.mean(), "fold_auc_sd": fold_auc.std(ddof=1),
                     "folds_with_tta": sum(r.tta for r in runs)})
    return pd.DataFrame(rows)


def oof_roc_curves(cv: Sequence[Sequence[ClsRun]]) -> dict[str, pd.DataFrame]:
    """ROC points of each cross-validated model's pooled out-of-fold predictions."""
    curves = {}
    for runs in cv:
        pooled = pooled_predictions(runs)
        curves[f"{runs[0].model_name} ({runs[0].init}), {len(runs)} folds"] = roc_points(pooled["y"],
                                                                                       pooled["prob_malignant"])
    return curves


def rerun_with_seeds(run: ClsRun, data: TaskData, repeats: int, first_seed: int, workdir: Path) -> list[ClsRun]:
    """The same model, task, split, epochs and initialisation trained again with `repeats` other seeds."""
    return repeat_seeds(run_classifier, repeats, first_seed, run.model_name, run.task, run.split, data.frame,
                        data.roles[run.split], data.images, data.targets, run.epochs, workdir,
                        pretrained=run.init == "imagenet")
