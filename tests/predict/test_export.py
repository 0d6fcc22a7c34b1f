"""Bundles from a report folder: the cross-validated classifier and U2NET-Lite as fold ensembles."""

import json
import math

import pandas as pd
import pytest
import torch

from buslib.artefacts import CHECKPOINTS
from buslib.models.registry import create_classifier
from buslib.models.u2net import U2Net
from buslib.predict.export import classifier_bundle, detector_bundle, find_bundles, segmenter_bundle


def _report(tmp_path):
    """A report folder as notebooks 02 and 03 leave it: three rcdnet folds and a paper-split run, three U2NET-Lites."""
    checkpoints = tmp_path / CHECKPOINTS
    checkpoints.mkdir()
    rows = []
    for split, threshold, tta in (("grouped", 0.3, True), ("grouped_f1", 0.5, False), ("grouped_f2", 0.4, True),
                                  ("li_11_1_3", 0.9, False)):
        key = f"rcdnet_binary_{split}_imagenet"
        torch.save(create_classifier("rcdnet", 2, 64).state_dict(), checkpoints / f"03_{key}.pth")
        rows.append({"key": key, "model": "rcdnet", "task": "binary", "split": split, "init": "imagenet",
                     "threshold": threshold, "triage_threshold": threshold / 2, "tta": tta,
                     "checkpoint": f"03_{key}.pth"})
    pd.DataFrame(rows).to_csv(tmp_path / "03_models.csv", index=False)
    pd.DataFrame([{"key": "rcdnet_binary_oof_pretrained", "model": "rcdnet", "init": "imagenet", "auc": 0.9},
                  {"key": "alexnet_binary_oof_scratch", "model": "alexnet", "init": "scratch", "auc": 0.7}]
                 ).to_csv(tmp_path / "03_oof.csv", index=False)
    for number in ("02", "03"):
        (tmp_path / f"{number}.run.json").write_text(json.dumps({"profile": "smoke", "data": str(tmp_path / "gone")}))
    torch.save({split: U2Net("u2netp").state_dict() for split in ("grouped_f1", "grouped", "grouped_f2")},
               checkpoints / "02_u2netp_folds.pth")


def test_the_best_cross_validated_classifier_and_the_fold_u2netlites_become_ensembles(tmp_path):
    _report(tmp_path)
    classifier = classifier_bundle(tmp_path)
    assert classifier.members == 3 and classifier.threshold == 0.4 and classifier.member_tta == [True, False, True]
    assert classifier.size == 64 and classifier.provenance["key"] == "rcdnet_binary_oof_pretrained"
    assert math.isnan(classifier.review_level) and "no review flag" in classifier.provenance["review"]
    segmenter = segmenter_bundle(tmp_path)
    assert segmenter.members == 3 and segmenter.provenance["key"] == "u2netp_pretrained_oof"
    assert segmenter.zoom_states == []  # notebook 02 trained no zoomed second stage


def test_each_fold_u2netlite_gets_its_own_zoomed_second_stage_and_use(tmp_path):
    _report(tmp_path)
    zoom = {split: {"state": U2Net("u2netp").half().state_dict(), "use": use}
            for split, use in (("grouped_f2", "stage1_only"), ("grouped", "largest_box_margin0.3_passes1"),
                               ("grouped_f1", "all_box_margin0.6_passes2"))}
    zoom["grouped_f1"]["state"]["fuse.bias"] += 7.0  # marks fold 1's stage 2
    torch.save(zoom, tmp_path / CHECKPOINTS / "02_u2netp_zoom_folds.pth")
    segmenter = segmenter_bundle(tmp_path)
    assert segmenter.zoom_uses == ["largest_box_margin0.3_passes1", "all_box_margin0.6_passes2", "stage1_only"]
    assert segmenter.zoom_states[1]["fuse.bias"].float().item() == zoom["grouped_f1"]["state"]["fuse.bias"].item()
    assert segmenter.provenance["key"] == "u2netp_zoom_oof" and "stage1_only" in segmenter.provenance["zoom_uses"]
    del zoom["grouped_f2"]
    torch.save(zoom, tmp_path / CHECKPOINTS / "02_u2netp_zoom_folds.pth")
    with pytest.raises(ValueError, match=r"no zoomed second stage for the segmenter folds \['grouped_f2'\]"):
        segmenter_bundle(tmp_path)


def test_the_fold_lesion_classifiers_become_a_detector_with_the_median_threshold(tmp_path):
    assert detector_bundle(tmp_path) is None  # notebook 02 saved none: predict runs without a detector
    (tmp_path / CHECKPOINTS).mkdir()
    states = {split: create_classifier("mobilenetv2", 2, 64).half().state_dict() for split in ("grouped", "grouped_f1")}
    folds = {"grouped_f1": {"state": states["grouped_f1"], "tta": False, "threshold": 0.8},
             "grouped": {"state": states["grouped"], "tta": True, "threshold": 0.6}}
    torch.save({"model": "mobilenetv2", "size": 64, "folds": folds}, tmp_path / CHECKPOINTS / "02_lesion_detectors.pth")
    pd.DataFrame({"gate": ["segmenter", "detector"], "lesion_detection_rate": [0.6, 0.7],
                  "normal_fp_rate": [0.07, 0.098]}).to_csv(tmp_path / "02_detection.csv", index=False)
    (tmp_path / "02.run.json").write_text(json.dumps({"profile": "smoke", "run_id": "r1"}))

    detector = detector_bundle(tmp_path)
    assert detector.kind == "detector" and detector.members == 2 and detector.threshold == 0.7
    assert detector.member_tta == [True, False] and detector.size == 64  # test fold 0 first
    assert "normal images flagged 0.098" in detector.provenance["detection_out_of_fold"]
    assert detector.provenance["run"] == "r1" and detector.provenance["key"] == "mobilenetv2_lesion_folds"
    assert detector.build_members()[1](torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_the_detector_bundle_runs_the_gate_notebook_02_chose_with_its_fold_u2netlites(tmp_path):
    (tmp_path / CHECKPOINTS).mkdir()
    folds = {split: {"state": create_classifier("mobilenetv2", 2, 64).half().state_dict(), "tta": False,
                     "threshold": 0.9, "gate_thresholds": {"segmenter": seg, "detector": 0.9, "mean": 0.5},
                     "segmenter_tta": split == "grouped"}
             for split, seg in (("grouped_f1", 0.98), ("grouped", 0.99))}
    torch.save({"model": "mobilenetv2", "size": 64, "folds": folds, "gate": "segmenter"},
               tmp_path / CHECKPOINTS / "02_lesion_detectors.pth")
    pd.DataFrame({"gate": ["segmenter", "detector"], "lesion_detection_rate": [0.64, 0.4],
                  "normal_fp_rate": [0.038, 0.03]}).to_csv(tmp_path / "02_detection.csv", index=False)
    (tmp_path / "02.run.json").write_text(json.dumps({"profile": "smoke", "run_id": "r1"}))
    with pytest.raises(ValueError, match="needs the U2NET-Lites of the folds"):
        detector_bundle(tmp_path)  # the gate uses the fold U2NET-Lites, and none were saved
    segmenters = {split: U2Net("u2netp").half().state_dict() for split in ("grouped_f1", "grouped")}
    segmenters["grouped"]["fuse.bias"].fill_(3.0)
    torch.save(segmenters, tmp_path / CHECKPOINTS / "02_u2netp_folds.pth")

    detector = detector_bundle(tmp_path)
    assert detector.gate == "segmenter" and detector.gate_thresholds == [0.99, 0.98]  # test fold 0 first
    assert detector.threshold == pytest.approx(0.985) and detector.gate_tta == [True, False]
    assert detector.gate_size == 64 and float(detector.gate_states[0]["fuse.bias"]) == 3.0  # the smoke profile's
    assert detector.provenance["gate"].startswith("segmenter: the fold U2NET-Lites' highest P(lesion)")
    assert "lesions found 0.640, normal images flagged 0.038" in detector.provenance["detection_out_of_fold"]


def test_a_reports_bundles_are_exported_again_after_its_notebooks_run_again(tmp_path, capsys):
    import os

    _report(tmp_path)
    assert find_bundles(tmp_path)["detector"] is None and "exporting" in capsys.readouterr().out
    bundle = tmp_path / "bundles" / "classifier.pt"
    os.utime(bundle, (1_000_000, 1_000_000))
    for number in ("02", "03"):
        os.utime(tmp_path / f"{number}.run.json", (999_000, 999_000))
    find_bundles(tmp_path)
    assert "exporting" not in capsys.readouterr().out and bundle.stat().st_mtime == 1_000_000  # still current
    os.utime(tmp_path / "02.run.json", (1_001_000, 1_001_000))  # notebook 02 ran since
    find_bundles(tmp_path)
    assert "exporting" in capsys.readouterr().out and bundle.stat().st_mtime > 1_001_000
