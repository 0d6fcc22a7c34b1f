"""RcdNet and MobileNetV2 (ImageNet start, Liu's recipe) cross-validated over BUSI's 5 grouped folds on a GPU, at
the gpu profile's settings (224 px, Liu's 30 epochs) and, as a same-machine control, at the cpu profile's (128 px,
12 epochs); every fold model also predicts all of Dataset B. It answers one question of issue 11: do the papers'
resolution and epochs close the gap between the cpu report's Dataset B AUC and 0.90?

Each fold runs notebook 03's own `run_classifier` (the same seed keys as the cpu report's runs; threshold, triage
point and test-time flip chosen on that fold's validation images). `summarise` scores what notebooks 03 and 04 score
for these models: pooled out-of-fold metrics of each model and of the two averaged fold by fold (notebook 03's
`averaged_folds`), and on Dataset B each model's fold ensemble and the ten fold models of both together, at the median
of their BUSI thresholds (notebook 04's `FoldEnsemble`), with intervals that resample near-duplicate groups.

The data cannot travel to the GPU machine as files (over the size limit), so `prepare` (run where the data is)
writes the study's own arrays (`load_arrays`) as lossless WebP with their sha256, the cohort tables, and the two
ImageNet weight files; `train` checks each decoded array against its sha256 before it trains and writes its JSON
after every fold, so a run stopped early keeps the folds it finished.

    python reports/device/classifiers_224px_probe.py prepare DATA_DIR REPORT_DIR INPUT_DIR   # REPORT_DIR: notebook 01's
    BUSLIB_CACHE=INPUT_DIR python reports/device/classifiers_224px_probe.py train INPUT_DIR MODEL SIZE EPOCHS OUT_JSON
    python reports/device/classifiers_224px_probe.py summarise OUT_JSON [OUT_JSON ...]
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from buslib.data.cache import load_arrays
from buslib.data.splits import fold_split
from buslib.eval.classification import binary_metrics, bootstrap_binary_metrics
from buslib.eval.stats import format_ci
from buslib.experiments.classification import ClsRun, prepare_task, run_classifier
from buslib.experiments.crossval import JOIN, averaged_folds, out_of_fold
from buslib.infer import predict_proba
from buslib.models.weights import weight_file, weights_dir

SIZES = (128, 224)   # the cpu profile's and the gpu profile's
WEIGHTS = ("mobilenetv2_imagenet", "efficientnet_lite0_imagenet")   # MobileNetV2's, RcdNet's backbone's
N_FOLDS = 5
BUSI_COLUMNS = ["image_id", "label", "fold", "group", "in_classification", "split_li_cls", "split_liu_cls"]


def _write_images(images: np.ndarray, path: Path) -> None:
    """`images` (N, S, S) uint8 as lossless WebP blobs in one npz, with the sha256 of the array beside it."""
    blobs = {}
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "WEBP", lossless=True, quality=100, method=4)
        blobs[f"img{i}"] = np.frombuffer(buffer.getvalue(), np.uint8)
    np.savez(path, **blobs)
    path.with_suffix(".sha256").write_text(hashlib.sha256(images.tobytes()).hexdigest())


def _read_images(path: Path) -> np.ndarray:
    """The array `_write_images` stored, checked against its sha256."""
    with np.load(path) as blobs:
        decoded = [np.asarray(Image.open(io.BytesIO(blobs[f"img{i}"].tobytes()))) for i in range(len(blobs.files))]
    images = np.stack([a[..., 0] if a.ndim == 3 else a for a in decoded])   # grey WebP decodes as three channels
    expected = path.with_suffix(".sha256").read_text().strip()
    if hashlib.sha256(images.tobytes()).hexdigest() != expected:
        raise SystemExit(f"{path}: decoded images differ from the arrays prepared (sha256 {expected[:12]})")
    return images


def prepare(data_dir: str, report_dir: str, folder: str) -> None:
    """Write the inputs of `train` into `folder`, from the data and notebook 01's cohort table in `report_dir`."""
    # imported here only: they need packages that the GPU machine lacks (imagehash, plotly)
    from buslib.data.cohort import load_full_resolution
    from buslib.data.duplicates import assign_groups, near_duplicate_pairs
    from buslib.report.context import open_notebook

    ctx = open_notebook("03", "gpu", data_dir, report_dir, 0, 0)
    busi, dsb = ctx.load_busi(), ctx.load_dataset_b()
    busi = busi[busi["in_classification"] & (busi["label"] != "normal")]   # the binary task's rows: less to carry
    b_images, _ = load_full_resolution(dsb)
    dsb["group"] = assign_groups(dsb, near_duplicate_pairs(dsb, b_images))
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    busi[BUSI_COLUMNS].to_csv(out / "busi.csv", index=False)
    dsb[["image_id", "label", "group"]].to_csv(out / "datasetb.csv", index=False)
    for size in SIZES:
        _write_images(load_arrays(busi, size).images, out / f"busi_{size}px.npz")
        _write_images(load_arrays(dsb, size).images, out / f"datasetb_{size}px.npz")
    (out / "weights").mkdir(exist_ok=True)
    for key in WEIGHTS:
        shutil.copy(weight_file(key), out / "weights" / weight_file(key).name)


def train(folder: str, model_name: str, size: int, epochs: int, out_json: str) -> None:
    """Cross-validate `model_name` at `size` px for `epochs`, each fold model also predicting Dataset B."""
    inputs = Path(folder)
    if weights_dir().resolve() != (inputs / "weights").resolve():
        raise SystemExit(f"set BUSLIB_CACHE={inputs} so that the ImageNet weights are read from {inputs / 'weights'}")
    busi, dsb = pd.read_csv(inputs / "busi.csv"), pd.read_csv(inputs / "datasetb.csv")
    images, b_images = _read_images(inputs / f"busi_{size}px.npz"), _read_images(inputs / f"datasetb_{size}px.npz")
    data = prepare_task(busi, images, "binary", N_FOLDS, seed=0)
    result = {"model": model_name, "size_px": size, "epochs": epochs, "device": torch.cuda.get_device_name(0)
              if torch.cuda.is_available() else "cpu", "torch": torch.__version__, "datasetb": dsb.to_dict("list"),
              "folds": []}
    started = time.time()
    for fold in range(N_FOLDS):
        split = fold_split(fold)
        print(f"[{model_name} {size}px] fold {fold}: {epochs} epochs", flush=True)
        run = run_classifier(model_name, "binary", split, data.frame, data.roles[split], data.images, data.targets,
                             epochs, inputs / f"work_{model_name}_{size}px", pretrained=True, seed=0, monitor=fold == 0)
        b_prob = predict_proba(run.model, b_images, run.stats, tta=run.tta)[:, 1]
        result["folds"].append({"split": split, "threshold": run.threshold, "triage_threshold": run.triage_threshold,
                                "tta": run.tta, "metrics": run.metrics, "fit_seconds": run.fit_seconds,
                                "train_images_per_s": run.train_images_per_s, "test": run.test.to_dict("list"),
                                "valid": run.valid.to_dict("list"), "history": run.history.to_dict("list"),
                                "datasetb_prob": b_prob.tolist()})
        result["seconds"] = time.time() - started
        Path(out_json).write_text(json.dumps(result))


def _fold_runs(result: dict) -> list[ClsRun]:
    """The folds of one `train` output as notebook 03's runs (no weights, no per-fold intervals)."""
    return [ClsRun(result["model"], "binary", fold["split"], "imagenet", "liu", result["epochs"], None,
                   pd.DataFrame(fold["history"]), fold["threshold"], pd.DataFrame(fold["test"]),
                   pd.DataFrame(fold["valid"]), fold["tta"], fold["triage_threshold"], fold["metrics"], None,
                   fold["fit_seconds"], fold["train_images_per_s"], float("nan")) for fold in result["folds"]]


def _datasetb_row(name: str, folds: list[dict], dsb: pd.DataFrame) -> dict:
    """Dataset B metrics of `folds`' models averaged, at the median of their BUSI thresholds, grouped intervals."""
    labels = (dsb["label"] == "malignant").astype(int).to_numpy()
    prob = np.mean([fold["datasetb_prob"] for fold in folds], axis=0)
    threshold = float(np.median([fold["threshold"] for fold in folds]))
    metrics = binary_metrics(labels, prob, threshold)
    ci = bootstrap_binary_metrics(labels, prob, threshold, dsb["group"].to_numpy(), 1000, seed=0)
    return {"model": name, "members": len(folds), "auc": metrics["auc"],
            "auc_95ci": format_ci(ci.loc["auc", "low"], ci.loc["auc", "high"]), "accuracy": metrics["accuracy"],
            "recall": metrics["recall"], "specificity": metrics["specificity"], "threshold": threshold}


def summarise(paths: list[str]) -> None:
    """Out-of-fold BUSI and Dataset B tables, by size and epochs, of every `train` output given."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    busi_rows, b_rows = [], []
    for setting in sorted({(r["size_px"], r["epochs"]) for r in results}):
        chosen = [r for r in results if (r["size_px"], r["epochs"]) == setting]
        tag = {"size_px": setting[0], "epochs": setting[1]}
        dsb = pd.DataFrame(chosen[0]["datasetb"])
        complete = [r for r in chosen if len(r["folds"]) == N_FOLDS]
        for r in chosen:
            if r not in complete:
                print(f"{r['model']} at {setting[0]} px: {len(r['folds'])} of {N_FOLDS} folds finished; left out")
        cv = [_fold_runs(r) for r in complete]
        pairs = [averaged_folds(cv)] if len(cv) == 2 else []
        for runs in [*cv, *pairs]:
            oof = out_of_fold(runs)
            busi_rows.append({**tag, "model": runs[0].model_name, "oof_auc": oof["auc"], "oof_auc_95ci":
                              format_ci(oof["auc_ci_low"], oof["auc_ci_high"]), "oof_accuracy": oof["accuracy"],
                              "images": oof["images"]})
        for r in complete:
            b_rows.append({**tag, **_datasetb_row(r["model"], r["folds"], dsb),
                           "train_minutes": sum(f["fit_seconds"] for f in r["folds"]) / 60})
        if len(complete) == 2:
            b_rows.append({**tag, **_datasetb_row(JOIN.join(r["model"] for r in complete),
                                                  [f for r in complete for f in r["folds"]], dsb)})
    devices = sorted({f"{r['device']} (torch {r['torch']})" for r in results})
    print(f"devices: {', '.join(devices)}\n\nBUSI, pooled out of fold\n")
    print(pd.DataFrame(busi_rows).to_markdown(index=False, floatfmt=".4f"))
    print("\nDataset B, fold ensembles at the median BUSI threshold\n")
    print(pd.DataFrame(b_rows).to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "prepare":
        prepare(*args)
    elif command == "train":
        train(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif command == "summarise":
        summarise(args)
    else:
        raise SystemExit(f"unknown command '{command}'; choose prepare, train or summarise")
