"""Notebook 02's lesion gate on new images: the gate it chose, each fold at its threshold, and the folds' ensemble."""

import numpy as np
import pytest
import torch

from buslib.artefacts import artefact_path
from buslib.data.cohort import load_full_resolution
from buslib.data.readers import read_dataset_b
from buslib.experiments.lesion_gate import LesionGate, external_detection, load_lesion_gate, saved_gates
from buslib.models.registry import create_classifier
from buslib.models.u2net import U2Net

SPLITS = ("grouped_f1", "grouped")  # saved out of order: test fold 0 must come first when read


def _detector_state(bias: float) -> dict:
    """An RcdNet lesion classifier that says P(lesion) ~1 (bias > 0) or ~0 (bias < 0) on every image."""
    torch.manual_seed(0)
    state = create_classifier("rcdnet", 2, 64).state_dict()
    state["head.3.bias"] += torch.tensor([-bias, bias])
    return {k: v.half() for k, v in state.items()}


def _segmenter_state(bias: float) -> dict:
    """A U2NET-Lite whose fused map is ~1 (bias > 0) or ~0 (bias < 0) everywhere."""
    torch.manual_seed(0)
    state = U2Net("u2netp").state_dict()
    state["fuse.weight"].zero_()
    state["fuse.bias"].fill_(bias)
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _save(report, gate: str | None) -> None:
    """Fold models as notebook 02 saves them: fold 'grouped_f1' says 'no lesion' to every image and 'grouped' 'lesion'
    (with its segmenter's threshold too high for it); with `gate`, the gate thresholds notebook 02 saves since then."""
    folds = {}
    for split in SPLITS:
        sign = 1 if split == "grouped" else -1
        folds[split] = {"state": _detector_state(8.0 * sign), "tta": split == "grouped", "threshold": 0.5}
        if gate:
            folds[split] |= {"gate_thresholds": {"segmenter": 1.0 if split == "grouped" else 0.5,
                                                 "detector": 0.5, "mean": 0.5}, "segmenter_tta": split == "grouped"}
    path = artefact_path(report, "lesion_detectors")
    path.parent.mkdir(exist_ok=True)
    torch.save({"model": "rcdnet", "size": 64, "folds": folds} | ({"gate": gate} if gate else {}), path)
    torch.save({split: _segmenter_state(20.0 if split == "grouped" else -20.0) for split in SPLITS},
               artefact_path(report, "u2netp_folds"))


@pytest.fixture(scope="module")
def dataset_b(phantom_root):
    frame = read_dataset_b(phantom_root / "DatasetB")
    images, _ = load_full_resolution(frame, progress=False)
    malignant = (frame["label"] == "malignant").to_numpy()
    assert 0 < malignant.sum() < len(frame)
    return images, malignant


def test_a_report_from_before_the_gate_was_saved_gives_the_lesion_classifiers_alone(dataset_b, tmp_path):
    images, malignant = dataset_b
    assert external_detection(tmp_path, images, malignant, 64) is None and load_lesion_gate(tmp_path, 64) is None
    _save(tmp_path, None)
    assert saved_gates(tmp_path) == (("detector",), None)
    assert load_lesion_gate(tmp_path, 64).gate == "detector"
    with pytest.raises(ValueError, match="no thresholds for the 'segmenter' gate.*run notebook 02 again"):
        load_lesion_gate(tmp_path, 64, "segmenter")
    table = external_detection(tmp_path, images, malignant, 64).set_index("which")
    assert table.index.tolist() == ["grouped", "grouped_f1", "ensemble of the folds"]  # test fold 0 first
    assert table.loc["grouped", "lesion_detection_rate"] == 1 and table.loc["grouped_f1", "lesion_detection_rate"] == 0
    assert table.loc["grouped", "detection_rate_malignant"] == 1
    assert table.loc["grouped_f1", "detection_rate_benign"] == 0
    assert table.loc["ensemble of the folds", "mean_score"] == pytest.approx(0.5, abs=0.01)
    assert (table["images"] == len(images)).all() and (table["threshold"] == 0.5).all()
    assert not table["chosen_in_02"].any()


def test_every_saved_gate_is_measured_and_the_chosen_one_loads_by_default(dataset_b, tmp_path):
    images, malignant = dataset_b
    _save(tmp_path, "segmenter")
    gate = load_lesion_gate(tmp_path, 32)
    assert gate.gate == "segmenter" and gate.thresholds == (1.0, 0.5) and gate.segmenter_tta == (True, False)
    assert gate.segmenter_size == 32 and not gate.detectors and gate.threshold == 0.75
    scores = gate.member_scores(images[:3])
    assert scores.shape == (2, 3) and (scores[0] > 0.999).all() and (scores[1] < 1e-6).all()
    # fold 'grouped' scores ~1 but its threshold is higher still; the ensemble's mean (~0.5) is under the median
    assert not gate.member_reports(scores).any() and not gate.ensemble_reports(scores).any()

    table = external_detection(tmp_path, images, malignant, 32).set_index(["gate", "which"])
    assert table.index.get_level_values("gate").unique().tolist() == ["segmenter", "detector", "mean"]
    assert table.loc[("segmenter", "grouped"), "lesion_detection_rate"] == 0
    assert table.loc[("detector", "grouped"), "lesion_detection_rate"] == 1
    assert table.loc[("mean", "grouped"), "lesion_detection_rate"] == 1  # (~1 + ~1) / 2 > 0.5
    assert table.loc[("mean", "grouped_f1"), "lesion_detection_rate"] == 0
    assert table["chosen_in_02"].groupby("gate").all().to_dict() == {"detector": False, "mean": False,
                                                                     "segmenter": True}


def test_a_gate_needs_every_model_its_score_uses():
    with pytest.raises(ValueError, match="unknown lesion gate 'max'"):
        LesionGate("max", (0.5,))
    with pytest.raises(ValueError, match="needs one of its detectors .* got 0 detectors"):
        LesionGate("mean", (0.5,), segmenters=(U2Net("u2netp"),), segmenter_tta=(False,), segmenter_size=32)
    LesionGate("detector", (0.5, 0.6), detectors=(torch.nn.Identity(),) * 2, detector_tta=(False, True))
    with pytest.raises(ValueError, match="2 segmenters, 1 flip choices, 2 thresholds"):
        LesionGate("segmenter", (0.5, 0.6), segmenters=(U2Net("u2netp"),) * 2, segmenter_tta=(False,))
    assert np.median([0.5, 0.6]) == LesionGate("detector", (0.5, 0.6), detectors=(torch.nn.Identity(),) * 2,
                                               detector_tta=(False, True)).threshold
