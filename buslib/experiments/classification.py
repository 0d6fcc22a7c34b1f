"""Notebook 03: train a registered classifier on one split, choose the threshold on validation data,
freeze it, and score the test part with bootstrap CIs over near-duplicate groups."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.loaders import build_dataloaders
from ..data.splits import fold_roles, fold_split, paper_roles, role_rows
from ..data.tasks import TASKS, class_targets
from ..eval.classification import (
    binary_metrics,
    bootstrap_binary_metrics,
    choose_threshold,
    confusion_table,
    multiclass_metrics,
    reliability_curve,
    roc_points,
    sensitivity_threshold,
)
from ..eval.stats import format_ci
from ..infer import inference_ms_per_image, predict_proba
from ..models.registry import create_classifier, get_spec
from ..models.size import model_size
from ..train.callbacks import history
from ..train.classification import classifier_recipe, cls_learner, get_cls_recipe, require_every_class
from ..train.fitting import fit, seed_run

__all__ = ["run_key", "ClsRun", "run_classifier", "frozen_decisions", "results_table", "three_class_table",
           "metrics_frame", "leakage_comparison", "save_run", "TaskData", "prepare_task", "initialisation", "run_many",
           "run_with_hub_weights", "label", "roc_curves", "reliability_curves", "confusion_tables", "auc_table"]


def run_key(model_name: str, task: str, split: str, init: str) -> str:
    """The name a run's weights, metrics and thresholds are filed under, e.g. 'rcdnet_binary_grouped_imagenet'."""
    return f"{model_name}_{task}_{split}" + ("_imagenet" if init == "imagenet" else "")


@dataclass
class ClsRun:
    """A trained classifier, its learning curve, frozen threshold and test results."""

    model_name: str
    task: str
    split: str
    init: str
    recipe: str
    epochs: int
    model: nn.Module
    history: pd.DataFrame
    threshold: float
    test: pd.DataFrame                  # image_id, group, y, prob_* per test image
    valid: pd.DataFrame                 # the same per validation image (thresholds and TTA are chosen there)
    tta: bool                           # horizontal-flip averaging at test time (kept where validation AUC gains)
    triage_threshold: float             # sensitivity >= 0.90 on validation (binary)
    metrics: dict[str, float]
    ci: pd.DataFrame | None
    fit_seconds: float
    train_images_per_s: float
    infer_ms: float

    @property
    def key(self) -> str:
        return run_key(self.model_name, self.task, self.split, self.init)

    @property
    def stats(self) -> tuple:
        return get_spec(self.model_name).stats


def run_classifier(model_name: str, task: str, split: str, frame: pd.DataFrame, roles: Sequence[str],
                   images: np.ndarray, targets: np.ndarray, epochs: int, workdir: Path,
                   pretrained: bool = False, seed: int = 0, n_resamples: int = 1000, monitor: bool = True) -> ClsRun:
    """Train on role 'train', pick the threshold on 'valid' (binary), score 'test'.

    `frame`, `roles`, `images` and `targets` align row by row (the task's rows only);
    `targets` are class indices in the order of `TASKS[task]`. `monitor`: as `fit`'s; the validation images are
    scored after training either way. The run is seeded from its key, so it gives the same result whatever ran
    before it.
    """
    spec = get_spec(model_name)
    recipe = classifier_recipe(spec.recipe, task, pretrained)
    classes = TASKS[task]
    train, valid, test = role_rows(roles, split).values()
    require_every_class(targets[train], len(classes))
    key = run_key(model_name, task, split, "imagenet" if pretrained else "scratch")
    seed_run(key, seed)
    size = images.shape[-1]
    model = create_classifier(model_name, len(classes), size, pretrained, standardise=recipe.standardise)
    dls = build_dataloaders(images, targets, train, valid, recipe.augment, recipe.batch_size, stats=spec.stats)
    learn = cls_learner(model, dls, recipe, len(classes), Path(workdir), label=f"{key} seed {seed}")
    fit(learn, recipe, epochs, monitor)
    model = learn.model.eval()
    valid_prob, tta = _validation_proba(model, images[valid], targets[valid], spec.stats, len(classes) == 2)
    test_prob = predict_proba(model, images[test], spec.stats, tta=tta)
    test_table, valid_table = (_prob_table(frame, rows, targets, prob, classes)
                               for rows, prob in ((test, test_prob), (valid, valid_prob)))
    groups = test_table["group"].to_numpy()
    if len(classes) == 2:
        threshold, triage, metrics = frozen_decisions(targets[valid], valid_prob[:, 1], targets[test], test_prob[:, 1])
        ci = bootstrap_binary_metrics(targets[test], test_prob[:, 1], threshold, groups, n_resamples, seed=seed)
    else:
        threshold, triage, ci = float("nan"), float("nan"), None
        metrics = multiclass_metrics(targets[test], test_prob, classes)
    return ClsRun(model_name, task, split, "imagenet" if pretrained else "scratch", recipe.name, epochs, model,
                  history(learn), threshold, test_table, valid_table, tta, triage, metrics, ci, learn.fit_seconds,
                  learn.train_images / max(learn.fit_seconds, 1e-9), inference_ms_per_image(model, size))


def frozen_decisions(valid_y: np.ndarray, valid_p: np.ndarray, test_y: np.ndarray,
                     test_p: np.ndarray) -> tuple[float, float, dict[str, float]]:
    """Youden's and the triage threshold chosen on validation P(malignant), and the test metrics at them
    (with the validation AUC)."""
    threshold, triage = choose_threshold(valid_y, valid_p), sensitivity_threshold(valid_y, valid_p)
    metrics = binary_metrics(test_y, test_p, threshold)
    triaged = binary_metrics(test_y, test_p, triage)
    metrics |= {"triage_recall": triaged["recall"], "triage_specificity": triaged["specificity"],
                "valid_auc": binary_metrics(valid_y, valid_p)["auc"]}
    return threshold, triage, metrics


def _validation_proba(model: nn.Module, images: np.ndarray, y: np.ndarray, stats: tuple,
                      binary: bool) -> tuple[np.ndarray, bool]:
    """Validation probabilities, and whether averaging with the horizontal flip is kept (binary: it raises
    the validation AUC); the probabilities are those of the kept choice."""
    plain = predict_proba(model, images, stats)
    if not binary:
        return plain, False
    flipped = predict_proba(model, images, stats, tta=True)
    keep = binary_metrics(y, flipped[:, 1])["auc"] > binary_metrics(y, plain[:, 1])["auc"]
    return (flipped, True) if keep else (plain, False)


def _prob_table(frame: pd.DataFrame, rows: np.ndarray, targets: np.ndarray, prob: np.ndarray,
                classes: Sequence[str]) -> pd.DataFrame:
    """image_id, group, y and prob_<class> of the given rows."""
    groups = frame["group"].to_numpy()[rows] if "group" in frame else np.arange(len(rows))
    return pd.DataFrame({"image_id": frame["image_id"].to_numpy()[rows], "group": groups, "y": targets[rows],
                         **{f"prob_{c}": prob[:, i] for i, c in enumerate(classes)}})


def results_table(runs: Sequence[ClsRun]) -> pd.DataFrame:
    """One row per binary run: init, recipe, split, metrics with 95% CIs, threshold, size and speed."""
    rows = []
    for run in runs:
        if run.task != "binary":
            continue
        row = {"model": run.model_name, "init": run.init, "recipe": run.recipe, "split": run.split,
               "epochs": run.epochs, **{k: run.metrics[k] for k in ("accuracy", "precision", "recall",
                                                                   "specificity", "f1", "auc")}}
        row["auc_95ci"] = format_ci(run.ci.loc["auc", "low"], run.ci.loc["auc", "high"])
        row["accuracy_95ci"] = format_ci(run.ci.loc["accuracy", "low"], run.ci.loc["accuracy", "high"])
        row |= {"ece": run.metrics["ece"], "brier": run.metrics["brier"], "threshold": run.threshold, "tta": run.tta,
                "triage_recall": run.metrics["triage_recall"], "triage_specificity": run.metrics["triage_specificity"],
                "params_m": model_size(run.model)["params_m"],
                "train_minutes": run.fit_seconds / 60, "train_img_per_s": run.train_images_per_s,
                "infer_ms": run.infer_ms}
        rows.append(row)
    return pd.DataFrame(rows)


def three_class_table(runs: Sequence[ClsRun]) -> pd.DataFrame:
    """One row per three-class run: accuracy, macro F1 and per-class accuracy."""
    return pd.DataFrame([{"model": r.model_name, "init": r.init, "split": r.split, **r.metrics}
                         for r in runs if r.task == "three_class"])


def metrics_frame(runs: Sequence[ClsRun]) -> pd.DataFrame:
    """One row per run, keyed by its key: every finite metric, its CI bounds and the training minutes."""
    rows = []
    for run in runs:
        row = {"key": run.key, **run.metrics, "train_minutes": run.fit_seconds / 60}
        if run.ci is not None:
            row |= {f"{m}_ci_{side}": run.ci.loc[m, side] for m in run.ci.index for side in ("low", "high")}
        rows.append(row)
    return pd.DataFrame(rows)


def leakage_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Each run on a papers' random split beside the same model and initialisation on the grouped split."""
    grouped = results[results["split"] == "grouped"][["model", "init", "auc"]]
    random = results[results["split"] != "grouped"][["model", "init", "split", "auc"]]
    return random.merge(grouped, on=["model", "init"], suffixes=("_random", "_grouped"))


def save_run(run: ClsRun, folder: Path) -> dict:
    """Write the weights to `folder/03_<key>.pth` and return the row notebooks 04 and 05 read back."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"03_{run.key}.pth"
    torch.save(run.model.state_dict(), path)
    return {"key": run.key, "model": run.model_name, "task": run.task, "split": run.split, "init": run.init,
            "threshold": run.threshold, "triage_threshold": run.triage_threshold, "tta": run.tta,
            "checkpoint": path.name, "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}


@dataclass
class TaskData:
    """One task's rows (classification cohort), their resized images, class targets and split roles."""

    task: str
    frame: pd.DataFrame
    images: np.ndarray
    targets: np.ndarray
    roles: dict[str, np.ndarray]


def prepare_task(frame: pd.DataFrame, images: np.ndarray, task: str, n_folds: int, seed: int) -> TaskData:
    """Rows of `task` (frame/images aligned, `in_classification` rows only) with the grouped roles of every
    test fold ('grouped' for fold 0, 'grouped_f<k>') and the papers' random-split roles (Li 11:1:3, Liu 7:3)."""
    keep = frame["in_classification"].to_numpy(bool)
    rows, targets = class_targets(frame["label"].to_numpy()[keep], task)
    chosen = np.flatnonzero(keep)[rows]
    part = frame.iloc[chosen].reset_index(drop=True)
    roles = {fold_split(fold): fold_roles(part["fold"], fold, n_folds) for fold in range(n_folds)}
    roles |= {"li_11_1_3": paper_roles(part["split_li_cls"], seed),
             "liu_7_3": paper_roles(part["split_liu_cls"], seed)}
    return TaskData(task, part, images[chosen], targets, roles)


def initialisation(model_name: str, use_hub: bool) -> bool:
    """ImageNet weights where they can be had: offline ones always, hub ones only when asked for."""
    return get_spec(model_name).offline_weights is not None or use_hub


def run_many(models: Sequence[str], data: TaskData, split: str, epochs: int | None, workdir: Path, seed: int = 0,
             use_hub: bool = False, pretrained: bool | None = None,
             pretrained_epochs: int | None = None, monitor: bool = True) -> list[ClsRun]:
    """Train and score each model on one task and split, in order, with a progress line per model.

    `epochs` (scratch) and `pretrained_epochs` (ImageNet start; None: as `epochs`): None takes each model's
    paper recipe's own; `pretrained` None takes `initialisation(model, use_hub)`, True or False forces it;
    `monitor` as `run_classifier`'s.
    """
    runs = []
    for name in models:
        init = initialisation(name, use_hub) if pretrained is None else pretrained
        n_epochs = ((pretrained_epochs or epochs) if init else epochs) or get_cls_recipe(get_spec(name).recipe).epochs
        print(f"[{data.task} / {split}] {name} ({'ImageNet' if init else 'scratch'}), {n_epochs} epochs", flush=True)
        runs.append(run_classifier(name, data.task, split, data.frame, data.roles[split], data.images, data.targets,
                                   n_epochs, workdir, init, seed, monitor=monitor))
    return runs


def run_with_hub_weights(models: Sequence[str], data: TaskData, split: str, epochs: int | None, workdir: Path,
                         use_hub: bool, seed: int = 0) -> tuple[list[ClsRun], str]:
    """The hub-pretrained variants (e.g. Li's 'ResNet-34 with pre-training'): run when weights can be had,
    otherwise none, with a note saying why."""
    if not use_hub:
        return [], "not run: hub weights switched off (PRETRAINED_HUB = False; this machine has no model hub)"
    try:
        return run_many(models, data, split, epochs, workdir, seed, pretrained=True), "run with ImageNet weights"
    except RuntimeError as err:
        return [], f"not run: {err}"


def label(run: ClsRun) -> str:
    """Short display name: model, and init/split where they are not the defaults."""
    parts = [run.model_name] + (["ImageNet"] if run.init == "imagenet" else []) + (
        [run.split] if run.split != "grouped" else [])
    return " · ".join(parts)


def roc_curves(runs: Sequence[ClsRun]) -> dict[str, pd.DataFrame]:
    return {label(r): roc_points(r.test["y"], r.test["prob_malignant"]) for r in runs if r.task == "binary"}


def reliability_curves(runs: Sequence[ClsRun], bins: int = 10) -> dict[str, pd.DataFrame]:
    return {label(r): reliability_curve(r.test["y"], r.test["prob_malignant"], bins)
            for r in runs if r.task == "binary"}


def confusion_tables(runs: Sequence[ClsRun]) -> dict[str, pd.DataFrame]:
    """Binary runs at their frozen threshold; three-class runs by argmax."""
    tables = {}
    for r in runs:
        classes = TASKS[r.task]
        probs = r.test[[f"prob_{c}" for c in classes]].to_numpy()
        pred = (probs[:, 1] >= r.threshold).astype(int) if r.task == "binary" else probs.argmax(1)
        tables[label(r) + ("" if r.task == "binary" else " · 3-class")] = confusion_table(r.test["y"], pred, classes)
    return tables


def auc_table(runs: Sequence[ClsRun]) -> pd.DataFrame:
    """AUC with its 95% CI per binary run, labelled for a bar chart, best first."""
    rows = [{"label": label(r), "auc": r.metrics["auc"], "low": r.ci.loc["auc", "low"], "high": r.ci.loc["auc", "high"]}
            for r in runs if r.task == "binary"]
    return pd.DataFrame(rows).sort_values("auc", ascending=False)
