"""Does per-image standardisation make the headline classifiers see Dataset B as they see BUSI? RcdNet and MobileNetV2
(ImageNet start, the study's 'liu_photometric' recipe, the cpu profile's 128 px and 12 epochs) cross-validated over
BUSI's 5 grouped folds with one change: each image, after the usual ImageNet normalisation, is shifted and scaled
to mean 0 and SD 1 (per channel, over its pixels) before the network (`PerImageStandardise`). Every fold model also
predicts all of Dataset B. The baseline is the same script's predecessor, `photometric_5fold_probe.py`, whose
'liu_photometric' outputs (`photometric_2c877c2/`, bf16 on a 2-core Xeon with `amx_bf16`) were trained by the same
code path.

Why: Dataset B's images are darker than BUSI's (mean grey 63 against 84, 95th percentile 138 against 178; unlabelled
pixels only). Photometric augmentation shows the models such gains; standardisation removes any gain and offset of the
grey levels before the network sees them, in training and at test alike.

The decision rule, fixed before the standardised variant ran (Dataset B decides nothing): the study adopts per-image
standardisation for its ImageNet-started benign/malignant classifiers if the two models averaged fold by fold
(notebook 03's `averaged_folds`) keep a pooled out-of-fold BUSI AUC of at least the photometric pair's (0.9317) minus
0.005. The baseline counts only if `check` reproduces its fold-0 MobileNetV2 test AUC to 4 digits on the machine that
runs this probe; otherwise both variants run here. Dataset B is reported for both, whichever way the rule goes.

    python reports/probes/standardise_5fold_probe.py check DATA_DIR REPORT_DIR BASELINE_JSON
    python reports/probes/standardise_5fold_probe.py train DATA_DIR REPORT_DIR MODEL OUT_JSON
    python reports/probes/standardise_5fold_probe.py summarise BASELINE_DIR OUT_JSON [OUT_JSON ...]

REPORT_DIR holds notebook 01's split table (e.g. a copy of reports/cpu/splits_busi.csv and 01*).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
from photometric_5fold_probe import EPOCHS, N_FOLDS, SIZE, use_variant, variant_rows
from photometric_5fold_probe import train as photometric_train
from torch import nn

from buslib.data.cache import load_arrays
from buslib.experiments import classification as cls_experiments
from buslib.experiments.classification import prepare_task, run_classifier
from buslib.experiments.crossval import JOIN
from buslib.report.context import open_notebook

BASELINE_PAIR_AUC, MARGIN = 0.9317, 0.005   # the photometric pair's pooled out-of-fold AUC (photometric_2c877c2)


class PerImageStandardise(nn.Module):
    """Each image shifted and scaled to mean 0 and SD 1 per channel over its pixels: any gain and offset of its grey
    levels is gone before the network sees it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = x.mean((2, 3), keepdim=True), x.std((2, 3), keepdim=True)
        return (x - mean) / std.clamp_min(1e-6)


def check(data_dir: str, report_dir: str, baseline_json: str) -> None:
    """Train fold 0 of the baseline (no standardisation) and compare its test AUC with the stored one."""
    stored = json.loads(Path(baseline_json).read_text())
    use_variant("liu_photometric")
    ctx = open_notebook("03", "cpu", data_dir, report_dir, 0, 0)
    busi = ctx.load_busi()
    busi = busi[busi["in_classification"] & (busi["label"] != "normal")]
    data = prepare_task(busi, load_arrays(busi, SIZE).images, "binary", N_FOLDS, seed=0)
    with tempfile.TemporaryDirectory() as workdir:
        run = run_classifier(stored["model"], "binary", "grouped", data.frame, data.roles["grouped"], data.images,
                             data.targets, EPOCHS, Path(workdir), pretrained=True, seed=0, monitor=False)
    before = stored["folds"][0]["metrics"]["auc"]
    print(f"fold 0 {stored['model']} test AUC: now {run.metrics['auc']:.6f}, stored {before:.6f}: "
          f"{'reproduced' if round(run.metrics['auc'], 4) == round(before, 4) else 'NOT reproduced'}")


def train(data_dir: str, report_dir: str, model_name: str, out_json: str) -> None:
    """The photometric probe's training of `model_name`, with `PerImageStandardise` in front of every network."""
    create = cls_experiments.create_classifier
    cls_experiments.create_classifier = lambda *args, **kwargs: nn.Sequential(PerImageStandardise(),
                                                                              create(*args, **kwargs))
    photometric_train(data_dir, report_dir, "liu_photometric", model_name, out_json)


def summarise(baseline_dir: str, paths: list[str]) -> None:
    """Pooled out-of-fold BUSI and Dataset B metrics of each model and pair, baseline and standardised, and the rule."""
    variants = {"photometric (baseline)": sorted(Path(baseline_dir).glob("liu_photometric_*.json")),
                "photometric + per-image standardisation": [Path(p) for p in paths]}
    rows, pair_auc = [], {}
    for variant, files in variants.items():
        complete = [r for r in (json.loads(f.read_text()) for f in files) if len(r["folds"]) == N_FOLDS]
        if complete:
            rows += [row | {"precision": complete[0]["precision"]} for row in variant_rows(variant, complete)]
            if JOIN in rows[-1]["model"]:   # the pair's row
                pair_auc[variant] = rows[-1]["oof_auc"]
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f"))
    new = pair_auc.get("photometric + per-image standardisation")
    if new is not None:
        keep = new >= BASELINE_PAIR_AUC - MARGIN
        print(f"\nrule: pair out-of-fold AUC {new:.4f} (standardised) against {BASELINE_PAIR_AUC} (photometric) - "
              f"{MARGIN}: {'adopt' if keep else 'do not adopt'} per-image standardisation")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "check":
        check(*args)
    elif command == "train":
        train(*args)
    elif command == "summarise":
        summarise(args[0], args[1:])
    else:
        raise SystemExit(f"unknown command '{command}'; choose check, train or summarise")
