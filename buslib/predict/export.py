"""Bundles from a study report folder: the segmenter, the headline classifier and, where notebook 02 saved
them, the lesion detectors (the lesion / no-lesion gate notebook 02 chose), with their provenance.

Where the study cross-validated them, all are fold ensembles (`buslib.predict.ensemble`); otherwise
the single test-fold-0 models that notebooks 04 and 05 rank by BUSI test AUC (and no detector).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..artefacts import artefact_path, require_artefact
from ..data.locate import BUSI_DIRNAME
from ..data.manifest import manifest_path_for, sha256_file
from ..experiments.detectors import load_detector_folds
from ..experiments.external import internal_auc
from ..experiments.lesion_gate import GATE_SCORES, fold_thresholds, gates_in
from ..experiments.segmenters import zoom_fold_states
from ..models.bundle import ModelBundle, load_bundle, save_bundle
from ..models.registry import get_spec
from ..profiles import resolve_profile
from .ensemble import ensemble_rows, review_level, segmenter_fold_states

__all__ = ["BUNDLES_DIR", "classifier_bundle", "segmenter_bundle", "detector_bundle", "export_bundles", "bundle_folder",
           "find_bundles"]

BUNDLES_DIR = "bundles"


def _provenance(report_dir: Path, number: str, **extra: str) -> dict[str, str]:
    record_path = report_dir / f"{number}.run.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    facts = {"report": str(report_dir), "run": record.get("run_id", "unknown"), "commit": record.get("commit", "?"),
             "profile": record.get("profile", "?"), "data": record.get("data", "?"),
             "data_manifest": _manifest_digest(Path(record.get("data", "")) / BUSI_DIRNAME), "notebook": number}
    return facts | extra


def _manifest_digest(dataset: Path) -> str:
    """sha256 (first 12) of the BUSI manifest the models were trained against, or 'none'."""
    manifest = manifest_path_for(dataset)
    return sha256_file(manifest)[:12] if manifest.is_file() else "none"


def _profile(report_dir: Path, number: str):
    record = report_dir / f"{number}.run.json"
    return resolve_profile(json.loads(record.read_text())["profile"] if record.is_file() else "cpu")


def _weights(report_dir: Path, checkpoint: str) -> dict[str, torch.Tensor]:
    weights = artefact_path(report_dir, "cls_checkpoints") / checkpoint
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: the classifier's weights are missing (they are not committed: run "
                                "notebook 03 with the cpu or gpu profile)")
    return torch.load(weights, map_location="cpu", weights_only=True)


def classifier_bundle(report_dir: Path) -> ModelBundle:
    """The cross-validated classifier with the best pooled out-of-fold AUC, as the ensemble of its fold models
    (threshold: the median of theirs, each chosen on BUSI validation data); without cross-validation, the
    grouped-split classifier with the best BUSI test AUC, as notebooks 04 and 05 rank them."""
    models = pd.read_csv(require_artefact(report_dir, "cls_models"))
    size = _profile(report_dir, "03").cls_size
    ensemble = ensemble_rows(report_dir, models)
    if ensemble is not None:
        best, folds = ensemble
        states = [_weights(report_dir, row.checkpoint) for row in folds.itertuples()]
        bundle = ModelBundle("classifier", best["model"], size, states[0], get_spec(best["model"]).stats,
                             float(folds["threshold"].median()), fold_states=states[1:],
                             member_tta=[bool(flip) for flip in folds["tta"]])
        bundle.review_level, review = review_level(report_dir, bundle)
        bundle.provenance = _provenance(report_dir, "03", key=best["key"], review=review,
                                        split=f"grouped: ensemble of {len(folds)} fold models, threshold the median "
                                              "of their validation-fold thresholds",
                                        auc_busi_out_of_fold=f"{best['auc']:.4f}")
        return bundle
    results = pd.read_csv(require_artefact(report_dir, "cls_results"))
    candidates = models[(models["task"] == "binary") & (models["split"] == "grouped")]
    if candidates.empty:
        raise FileNotFoundError(f"{report_dir}: no grouped-split binary classifier in the model table")
    auc = internal_auc(results)
    best = max(candidates.itertuples(), key=lambda row: auc.get(row.key, float("-inf")))
    return ModelBundle("classifier", best.model, size, _weights(report_dir, best.checkpoint),
                       get_spec(best.model).stats, float(best.threshold),
                       _provenance(report_dir, "03", key=best.key, split="grouped: test fold 0, threshold on "
                                   "validation fold 1", auc_busi_test=f"{auc.get(best.key, float('nan')):.4f}"),
                       member_tta=[bool(getattr(best, "tta", False))])


def segmenter_bundle(report_dir: Path) -> ModelBundle:
    """U2NET-Lite as notebook 02 trained it: the ensemble of its cross-validation fold models where they
    were saved, each with its zoomed second stage where notebook 02 trained those, else test fold 0's model."""
    size = _profile(report_dir, "02").seg_size
    folds = segmenter_fold_states(report_dir)
    if folds:
        states = list(folds.values())
        zoom = zoom_fold_states(report_dir, list(folds))
        zoom_states, zoom_uses = zoom or ([], [])
        facts = {"key": "u2netp_zoom_oof" if zoom else "u2netp_pretrained_oof",
                 "split": f"grouped: ensemble of {len(folds)} fold models"}
        if zoom:
            facts["zoom_uses"] = ", ".join(zoom_uses)
        return ModelBundle("segmenter", "u2netp", size, states[0], fold_states=states[1:],
                           provenance=_provenance(report_dir, "02", **facts), zoom_states=zoom_states,
                           zoom_uses=zoom_uses)
    return ModelBundle("segmenter", "u2netp", size,
                       torch.load(require_artefact(report_dir, "u2netp_weights"), map_location="cpu",
                                  weights_only=True),
                       provenance=_provenance(report_dir, "02", key="u2netp_pretrained_grouped",
                                              split="grouped: test fold 0"))


def detector_bundle(report_dir: Path) -> ModelBundle | None:
    """The lesion gate notebook 02 chose, as one ensemble: its fold lesion classifiers (normal vs lesion) and, where the
    gate uses them, its fold U2NET-Lites; the threshold is the median of the folds' on the gate's score, each chosen
    on BUSI validation normals (`segmentation.pooled_detection_threshold`). A report from before the gate was saved
    gives the lesion classifiers alone. With the gate's pooled out-of-fold detection where 02 recorded it; None where
    notebook 02 saved no detectors."""
    saved = load_detector_folds(artefact_path(report_dir, "lesion_detectors"))
    if saved is None:
        return None
    _, chosen = gates_in(saved)
    gate = chosen or "detector"
    folds = list(saved["folds"].values())
    thresholds = fold_thresholds(saved, gate)
    facts = {"key": f"{saved['model']}_lesion_folds", "gate": f"{gate}: {GATE_SCORES[gate]}",
             "split": f"grouped: ensemble of {len(folds)} fold models, threshold the median of their validation-fold "
                      "thresholds"}
    table = artefact_path(report_dir, "seg_detection")
    if table.is_file():
        alone = pd.read_csv(table).set_index("gate").loc[gate]
        facts["detection_out_of_fold"] = (f"each fold model on its test fold: lesions found "
                                          f"{alone['lesion_detection_rate']:.3f}, normal images flagged "
                                          f"{alone['normal_fp_rate']:.3f}")
    segmenter_parts = {}
    if gate != "detector":
        segmenters = segmenter_fold_states(report_dir) or {}
        if set(segmenters) != set(saved["folds"]):
            raise ValueError(f"{report_dir}: the lesion gate '{gate}' needs the U2NET-Lites of the folds "
                             f"{list(saved['folds'])}, found {list(segmenters)}; run notebook 02 again")
        segmenter_parts = {"gate_states": [segmenters[split] for split in saved["folds"]],
                           "gate_tta": [bool(fold["segmenter_tta"]) for fold in folds],
                           "gate_size": _profile(report_dir, "02").seg_size}
    return ModelBundle("detector", saved["model"], saved["size"], folds[0]["state"],
                       get_spec(saved["model"]).stats, float(np.median(thresholds)),
                       _provenance(report_dir, "02", **facts), [fold["state"] for fold in folds[1:]],
                       [bool(fold["tta"]) for fold in folds], gate=gate, gate_thresholds=thresholds,
                       **segmenter_parts)


def export_bundles(report_dir: Path, target: Path | None = None) -> dict[str, Path]:
    """Write `classifier.pt`, `segmenter.pt` and, where notebook 02 saved lesion detectors, `detector.pt` from a
    report folder (default: into its `bundles/`)."""
    report_dir = Path(report_dir)
    target = Path(target or report_dir / BUNDLES_DIR)
    written = {"classifier": save_bundle(classifier_bundle(report_dir), target / "classifier.pt"),
               "segmenter": save_bundle(segmenter_bundle(report_dir), target / "segmenter.pt")}
    detector = detector_bundle(report_dir)
    if detector is not None:
        written["detector"] = save_bundle(detector, target / "detector.pt")
    else:
        (target / "detector.pt").unlink(missing_ok=True)  # an earlier export's detector belongs to other models
    return written


def bundle_folder(models: Path) -> Path:
    """The folder of bundles: `models` itself when it holds them, else a report folder's `bundles/`."""
    models = Path(models)
    return models if (models / "classifier.pt").is_file() else models / BUNDLES_DIR


def _stale(report_dir: Path, folder: Path) -> bool:
    """Whether notebook 02 or 03 ran again after the report's bundles were exported (its models are newer)."""
    exported = (folder / "classifier.pt").stat().st_mtime
    return any(record.is_file() and record.stat().st_mtime > exported
               for record in (report_dir / "02.run.json", report_dir / "03.run.json"))


def find_bundles(models: Path) -> dict[str, ModelBundle | None]:
    """The bundles under `models`: a folder holding `classifier.pt`, `segmenter.pt` and optionally `detector.pt`
    (None where it is absent), or a report folder (its `bundles/`, exported on first use and again whenever
    notebook 02 or 03 has run since)."""
    models = Path(models)
    folder = models if (models / "classifier.pt").is_file() else models / BUNDLES_DIR
    report = (models / "03_models.csv").is_file()
    if not (folder / "classifier.pt").is_file() or (report and _stale(models, folder)):
        if not report:
            raise FileNotFoundError(f"{models}: neither model bundles (classifier.pt, segmenter.pt) nor a study "
                                    "report folder (03_models.csv); pass --models reports/cpu or a bundle folder")
        print(f"[buslib] exporting the models of {models} into {folder}", flush=True)
        export_bundles(models, folder)
    bundles = {kind: load_bundle(folder / f"{kind}.pt") for kind in ("classifier", "segmenter")}
    return bundles | {"detector": load_bundle(folder / "detector.pt") if (folder / "detector.pt").is_file() else None}
