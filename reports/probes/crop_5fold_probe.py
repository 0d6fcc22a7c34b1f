"""Segment-then-classify on all five grouped folds, on the checkpoints of a cpu run (issue 11's open item).

Notebook 03 trains the predicted-lesion crop classifier on test fold 0 only. This probe trains it on every grouped
fold (EfficientNet-Lite2 from ImageNet, 12 epochs, as notebook 03's crop row; validation and test crops from the
U2NET-Lite of the same fold, fold 0's the fp32 one notebook 03 uses, folds 1-4 from the fold file), and scores,
beside the run's own whole-image fold models (EfficientNet-Lite2, RcdNet, their average):
- pooled validation and out-of-fold test AUC on BUSI, and
- Dataset B AUC of each fold ensemble (each crop member with its own fold's segmenter).
The rule for adding the crop model to the whole-image average was fixed before any number was seen: add it only if
the average's pooled *validation* AUC rises. Dataset B decides nothing.

    python reports/probes/crop_5fold_probe.py DATA_DIR REPORT_DIR OUT_JSON   # REPORT_DIR with its checkpoints/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from buslib.data.cache import load_arrays
from buslib.data.cohort import load_full_resolution
from buslib.data.splits import fold_split
from buslib.eval.classification import binary_metrics
from buslib.experiments.classification import prepare_task
from buslib.experiments.external import load_frozen_classifiers
from buslib.experiments.lesion_crops import lesion_crops, predicted_masks, run_crop_classifier
from buslib.experiments.segmenters import load_fold_segmenters, load_segmenter
from buslib.infer import predict_proba
from buslib.models.registry import get_spec
from buslib.report.context import open_notebook

SIZE = 128  # the cpu profile's classifier and segmenter input size
CROP_LIKE = SimpleNamespace(model_name="effnet_lite2", epochs=12, init="imagenet")


def averages(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Each input alone and the averages compared."""
    return {"crop": table["crop"], "effnet_lite2": table["effnet_lite2"], "rcdnet": table["rcdnet"],
            "effnet_lite2_and_rcdnet": (table["effnet_lite2"] + table["rcdnet"]) / 2,
            "effnet_lite2_and_rcdnet_and_crop": (table["effnet_lite2"] + table["rcdnet"] + table["crop"]) / 3}


def main(data_dir: str, report_dir: str, out_json: str) -> None:
    report = Path(report_dir)
    busi = open_notebook("03", "cpu", data_dir, report, 0, 0).load_busi()
    binary = prepare_task(busi, load_arrays(busi, SIZE).images, "binary", 5, 0)
    full_images, full_masks = load_full_resolution(binary.frame)
    dsb = open_notebook("04", "cpu", data_dir, report, 0, 0).load_dataset_b()
    b_images, _ = load_full_resolution(dsb)
    b_small = load_arrays(dsb, SIZE).images
    b_labels = (dsb["label"] == "malignant").astype(int).to_numpy()
    whole = {(c.model_name, c.split): c for c in load_frozen_classifiers(report, SIZE) if c.init == "imagenet"}
    segmenters = load_fold_segmenters(report) | {"grouped": load_segmenter(report, "u2netp")}  # fold 0 in fp32
    row_of = pd.Series(np.arange(len(binary.frame)), index=binary.frame["image_id"])
    busi_parts, b_parts, folds = [], [], []
    for k in range(5):
        split = fold_split(k)
        run = run_crop_classifier(CROP_LIKE, binary, full_images, full_masks, segmenters[split], SIZE,
                                  report / "probe_crops", 0, split=split)
        folds.append({"split": split, "crop_test_auc": run.metrics["auc"], "crop_valid_auc": run.metrics["valid_auc"]})
        for part, table in (("valid", run.valid), ("test", run.test)):
            rows = row_of.loc[table["image_id"]].to_numpy()
            busi_parts.append(pd.DataFrame({"part": part, "y": table["y"].to_numpy(),
                                            "crop": table["prob_malignant"].to_numpy(),
                                            **{m: whole[(m, split)].predict(binary.images[rows])
                                               for m in ("effnet_lite2", "rcdnet")}}))
        b_crops = lesion_crops(b_images, predicted_masks(segmenters[split], b_images, SIZE), SIZE)
        b_parts.append(pd.DataFrame({"crop": predict_proba(run.model.eval(), b_crops, get_spec("effnet_lite2").stats,
                                                           tta=run.tta)[:, 1],
                                     **{m: whole[(m, split)].predict(b_small) for m in ("effnet_lite2", "rcdnet")}}))
        print(folds[-1], flush=True)
    pooled = pd.concat(busi_parts, ignore_index=True)
    result = {"report_dir": str(report), "folds": folds}
    for part in ("valid", "test"):
        table = pooled[pooled["part"] == part]
        result[f"busi_{part}_pooled_auc"] = {name: binary_metrics(table["y"].to_numpy(), p.to_numpy())["auc"]
                                             for name, p in averages(table).items()}
    mean_b = sum(b_parts) / len(b_parts)
    result["datasetb_fold_ensemble_auc"] = {name: binary_metrics(b_labels, p.to_numpy())["auc"]
                                            for name, p in averages(mean_b).items()}
    valid = result["busi_valid_pooled_auc"]
    result["crop_added_by_validation_rule"] = bool(valid["effnet_lite2_and_rcdnet_and_crop"]
                                                   > valid["effnet_lite2_and_rcdnet"])
    Path(out_json).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
