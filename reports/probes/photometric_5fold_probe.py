"""Does photometric augmentation help the headline classifiers across scanners? RcdNet and MobileNetV2 (ImageNet start,
Liu's recipe, the cpu profile's 128 px and 12 epochs) cross-validated over BUSI's 5 grouped folds twice on one machine:
with Liu's augmentation as the study trains them ('liu') and with Liu's geometry plus brightness/contrast jitter of
0.3 and Li's Gaussian blur ('liu_photometric', `buslib.data.loaders.augmentations`). Every fold model also predicts
all of Dataset B.

Why: Dataset B's images average 0.75 times BUSI's brightness (mean grey 63 against 84, 95th percentile 138 against
178; unlabelled pixels only), a gain that Liu's geometric augmentation never shows the models.

The decision rule, fixed before either variant ran (Dataset B decides nothing): the study adopts 'liu_photometric' for
its ImageNet-started benign/malignant classifiers (whole image and lesion crop; notebook 02's lesion detectors keep
Liu's augmentation) if the two models averaged fold by fold (notebook 03's `averaged_folds`) keep a pooled
out-of-fold BUSI AUC of at least the 'liu' pair's minus 0.005 on this machine; BUSI cannot show a gain in robustness to
a gain it does not contain, so non-inferiority there is what it can test. Dataset B is reported for both, whichever
way the rule goes.

    python reports/probes/photometric_5fold_probe.py train DATA_DIR REPORT_DIR VARIANT MODEL OUT_JSON
    python reports/probes/photometric_5fold_probe.py summarise OUT_JSON [OUT_JSON ...]

REPORT_DIR holds notebook 01's split table (e.g. reports/cpu); the per-fold JSON is written after every fold.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.duplicates import assign_groups, near_duplicate_pairs
from buslib.data.splits import fold_split
from buslib.eval.classification import binary_metrics, bootstrap_binary_metrics
from buslib.eval.stats import format_ci
from buslib.experiments.classification import ClsRun, prepare_task, run_classifier
from buslib.experiments.crossval import JOIN, averaged_folds, out_of_fold
from buslib.infer import predict_proba
from buslib.infer.torch_paths import describe_bf16
from buslib.report.context import open_notebook
from buslib.train import classification as cls_training

SIZE, EPOCHS, N_FOLDS = 128, 12, 5   # the cpu profile's
VARIANTS = ("liu", "liu_photometric")
MARGIN = 0.005   # the rule's non-inferiority margin on the pair's pooled out-of-fold AUC


def use_variant(variant: str) -> None:
    """Every Liu-based recipe the study may pick for these runs trains with augmentation `variant` and without
    per-image standardisation (the study's choice since the standardisation probe), as when this probe ran."""
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant '{variant}'; choose one of {VARIANTS}")
    for name in ("liu", "liu_photometric", "liu_photometric_standardised"):
        cls_training.CLS_RECIPES[name] = replace(cls_training.CLS_RECIPES[name], augment=variant, standardise=False)


def train(data_dir: str, report_dir: str, variant: str, model_name: str, out_json: str) -> None:
    """Cross-validate `model_name` with augmentation `variant`, each fold model also predicting Dataset B."""
    use_variant(variant)
    ctx = open_notebook("03", "cpu", data_dir, report_dir, 0, 0)
    busi, dsb = ctx.load_busi(), ctx.load_dataset_b()
    busi = busi[busi["in_classification"] & (busi["label"] != "normal")]
    dsb["group"] = assign_groups(dsb, near_duplicate_pairs(dsb, load_full_resolution(dsb)[0]))
    data = prepare_task(busi, load_arrays(busi, SIZE).images, "binary", N_FOLDS, seed=0)
    b_images = load_arrays(dsb, SIZE).images
    result = {"model": model_name, "variant": variant, "size_px": SIZE, "epochs": EPOCHS, "torch": torch.__version__,
              "precision": describe_bf16(torch.device("cpu")), "datasetb": dsb[["image_id", "label", "group"]]
              .to_dict("list"), "folds": []}
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        for fold in range(N_FOLDS):
            split = fold_split(fold)
            print(f"[{model_name} {variant}] fold {fold}", flush=True)
            run = run_classifier(model_name, "binary", split, data.frame, data.roles[split], data.images,
                                 data.targets, EPOCHS, Path(workdir), pretrained=True, seed=0, monitor=False)
            b_prob = predict_proba(run.model, b_images, run.stats, tta=run.tta)[:, 1]
            result["folds"].append({"split": split, "threshold": run.threshold,
                                    "triage_threshold": run.triage_threshold, "tta": run.tta, "metrics": run.metrics,
                                    "fit_seconds": run.fit_seconds, "test": run.test.to_dict("list"),
                                    "valid": run.valid.to_dict("list"), "datasetb_prob": b_prob.tolist()})
            result["seconds"] = time.time() - started
            Path(out_json).write_text(json.dumps(result))


def _fold_runs(result: dict) -> list[ClsRun]:
    """The folds of one `train` output as notebook 03's runs (no weights, history or per-fold intervals)."""
    return [ClsRun(result["model"], "binary", fold["split"], "imagenet", result["variant"], result["epochs"], None,
                   pd.DataFrame(), fold["threshold"], pd.DataFrame(fold["test"]), pd.DataFrame(fold["valid"]),
                   fold["tta"], fold["triage_threshold"], fold["metrics"], None, fold["fit_seconds"], float("nan"),
                   float("nan")) for fold in result["folds"]]


def _datasetb_row(folds: list[dict], dsb: pd.DataFrame) -> dict:
    """Dataset B metrics of `folds`' models averaged, at the median of their BUSI thresholds, grouped intervals."""
    labels = (dsb["label"] == "malignant").astype(int).to_numpy()
    prob = np.mean([fold["datasetb_prob"] for fold in folds], axis=0)
    threshold = float(np.median([fold["threshold"] for fold in folds]))
    metrics = binary_metrics(labels, prob, threshold)
    ci = bootstrap_binary_metrics(labels, prob, threshold, dsb["group"].to_numpy(), 1000, seed=0)
    return {"datasetb_auc": metrics["auc"], "datasetb_auc_95ci": format_ci(ci.loc["auc", "low"], ci.loc["auc", "high"]),
            "datasetb_accuracy": metrics["accuracy"], "datasetb_recall": metrics["recall"],
            "datasetb_specificity": metrics["specificity"]}


def variant_rows(variant: str, complete: list[dict]) -> list[dict]:
    """Pooled out-of-fold BUSI and Dataset B metrics of each model of one variant (complete `train` outputs), and of
    the two averaged fold by fold where there are two (the last row)."""
    dsb = pd.DataFrame(complete[0]["datasetb"])
    members = [(r["model"], _fold_runs(r), r["folds"]) for r in complete]
    if len(complete) == 2:
        members.append((JOIN.join(r["model"] for r in complete), averaged_folds([m[1] for m in members]),
                        [f for r in complete for f in r["folds"]]))
    rows = []
    for name, runs, folds in members:
        oof = out_of_fold(runs)
        rows.append({"variant": variant, "model": name, "oof_auc": oof["auc"],
                     "oof_auc_95ci": format_ci(oof["auc_ci_low"], oof["auc_ci_high"]),
                     "oof_accuracy": oof["accuracy"], **_datasetb_row(folds, dsb),
                     "train_minutes": sum(f["fit_seconds"] for f in folds) / 60})
    return rows


def summarise(paths: list[str]) -> None:
    """Pooled out-of-fold BUSI and Dataset B metrics of each model and pair, by variant, and the rule's verdict."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    rows, pair_auc = [], {}
    for variant in VARIANTS:
        complete = [r for r in results if r["variant"] == variant and len(r["folds"]) == N_FOLDS]
        if complete:
            rows += variant_rows(variant, complete)
            if JOIN in rows[-1]["model"]:   # the pair's row
                pair_auc[variant] = rows[-1]["oof_auc"]
    print(f"precision: {', '.join(sorted({r['precision'] for r in results}))}\n")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f"))
    if len(pair_auc) == 2:
        keep = pair_auc["liu_photometric"] >= pair_auc["liu"] - MARGIN
        print(f"\nrule: pair out-of-fold AUC {pair_auc['liu_photometric']:.4f} (liu_photometric) against "
              f"{pair_auc['liu']:.4f} (liu) - {MARGIN}: {'adopt' if keep else 'do not adopt'} liu_photometric")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "train":
        train(*args)
    elif command == "summarise":
        summarise(args)
    else:
        raise SystemExit(f"unknown command '{command}'; choose train or summarise")
