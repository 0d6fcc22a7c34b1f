"""The lesion / no-lesion gate of notebook 02: whose score decides, its pooled threshold, and the one choice for all
folds."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from buslib.eval.segmentation import score_cases, summarise_cases
from buslib.experiments.segmentation import SegRun


def _gated_pair(segmenter_valid_scores, detector_valid_scores):
    """A fold-0 segmentation run (2 lesion + 1 normal test images, every one with a predicted lesion; segmenter test
    scores 0.8, 0.6, 0.7) and a lesion classifier on the same split (test P(lesion) 0.9, 0.2, 0.1), with the given
    validation scores for images v0, v1 (lesion) and v2, v3 (normal)."""
    mask = np.pad(np.ones((4, 4), bool), 3)
    cases = score_cases(["t0", "t1", "t2"], [mask] * 3, [mask, mask, np.zeros_like(mask)]).assign(score=[0.8, 0.6, 0.7])
    valid = pd.DataFrame({"image_id": ["v0", "v1", "v2", "v3"], "has_lesion": [True, True, False, False],
                          "score": segmenter_valid_scores})
    run = SegRun("k", "u2netp", "grouped", "pretrained", "recalibrate", True, False, 1, None, pd.DataFrame(), cases,
                 summarise_cases(cases), 1.0, 1.0, [mask] * 3, 0.5, 0.5, 0.0, valid)
    detector = SimpleNamespace(task="lesion", split="grouped", key="det", model_name="det",
                               valid=pd.DataFrame({"image_id": ["v3", "v2", "v1", "v0"],
                                                   "prob_lesion": detector_valid_scores[::-1]}),
                               test=pd.DataFrame({"image_id": ["t2", "t1", "t0"], "prob_lesion": [0.1, 0.2, 0.9]}))
    frame = pd.DataFrame({"image_id": ["t0", "t1", "t2", "v0", "v1", "v2", "v3"], "group": range(7)})
    return run, detector, frame


def test_the_lesion_classifier_or_the_mean_of_both_scores_can_decide_detection():
    from buslib.experiments.gating import detection_gate
    run, detector, frame = _gated_pair([0.9, 0.5, 0.95, 0.4], [0.9, 0.8, 0.1, 0.3])
    assert run.summary["empty_false_positive_rate"] == 1.0 and run.summary["lesion_detection_rate"] == 1.0
    assert detection_gate(run, detector, frame, "segmenter") is run
    gated = detection_gate(run, detector, frame)
    assert gated.gate == "det" and gated.detect_threshold == pytest.approx(0.3)  # the highest validation normal
    assert gated.cases["detected"].tolist() == [True, False, False]
    assert gated.cases["score"].tolist() == [0.9, 0.2, 0.1]                       # aligned by image, not by row
    assert gated.summary["empty_false_positive_rate"] == 0.0 and gated.summary["lesion_detection_rate"] == 0.5
    assert gated.summary["iou"] == run.summary["iou"]                              # the outlines are untouched
    assert gated.valid["score"].tolist() == [0.9, 0.8, 0.1, 0.3]

    both = detection_gate(run, detector, frame, "mean")
    assert both.gate == "mean of segmenter and det"
    assert both.valid["score"].tolist() == pytest.approx([0.9, 0.65, 0.525, 0.35])
    assert both.detect_threshold == pytest.approx(0.525)
    assert both.cases["score"].tolist() == pytest.approx([0.85, 0.4, 0.4])
    assert both.cases["detected"].tolist() == [True, False, False]


def test_a_detection_gate_refuses_an_unknown_gate_a_gated_run_and_another_split():
    from buslib.experiments.gating import detection_gate
    run, detector, frame = _gated_pair([0.9, 0.5, 0.95, 0.4], [0.9, 0.8, 0.1, 0.3])
    with pytest.raises(ValueError, match="unknown detection gate 'both'"):
        detection_gate(run, detector, frame, "both")
    with pytest.raises(ValueError, match="already gated by 'det'"):
        detection_gate(detection_gate(run, detector, frame), detector, frame, "mean")
    detector.split = "grouped_f1"
    with pytest.raises(ValueError, match="not a lesion classifier on split 'grouped'"):
        detection_gate(run, detector, frame)


def test_one_gate_is_chosen_for_every_fold_by_the_lesions_it_finds_on_pooled_validation_images():
    from buslib.experiments.gating import choose_gate, gate_comparison, gate_runs
    run, detector, frame = _gated_pair([0.9, 0.5, 0.95, 0.4], [0.9, 0.8, 0.1, 0.3])
    gates = gate_runs([run], [detector], frame)
    assert gates["segmenter"][0].cases["detected"].tolist() == [False, False, False]  # above 0.95: nothing reported
    assert choose_gate(gates) == "detector"                                         # ties with 'mean': the first
    assert gates["chosen_on_validation"] is gates["detector"]
    table = gate_comparison(gates, frame).set_index("gate")
    assert table.index.tolist() == ["segmenter", "detector", "mean", "chosen_on_validation"]
    assert table["score"].tolist() == ["segmenter", "det", "mean of segmenter and det", "det"]
    assert table.loc["detector", "normal_fp_rate"] == 0.0 and table.loc["detector", "lesion_detection_rate"] == 0.5
    assert table["valid_auc"].tolist() == [0.5, 1.0, 1.0, 1.0]
    assert table["valid_detection_rate"].tolist() == [0.0, 1.0, 1.0, 1.0]

    run, detector, frame = _gated_pair([0.9, 0.8, 0.1, 0.3], [0.9, 0.5, 0.95, 0.4])   # the segmenter separates
    assert choose_gate(gate_runs([run], [detector], frame)) == "segmenter"


def test_the_operating_point_not_the_auc_chooses_the_gate():
    from buslib.experiments.gating import choose_gate, pooled_validation_auc, pooled_validation_detection
    run = _gated_pair([0.9, 0.5, 0.95, 0.4], [0.9, 0.8, 0.1, 0.3])[0]
    lesion = [True] * 3 + [False] * 4

    def scored(scores):
        return [SegRun(**{**vars(run), "valid": pd.DataFrame({"image_id": list("abcdefg"), "has_lesion": lesion,
                                                               "score": scores})})]
    # ranks every lesion above 3 of 4 normals, but one normal above them all: AUC 0.75, no lesion past the threshold
    ranks_well = scored([0.8, 0.8, 0.8, 0.9, 0.1, 0.1, 0.1])
    # ranks two lesions below every normal but one above them all: AUC 0.33, one lesion in three found
    finds_one = scored([0.95, 0.1, 0.1, 0.5, 0.2, 0.2, 0.2])
    assert pooled_validation_auc(ranks_well) == 0.75 and pooled_validation_detection(ranks_well) == 0.0
    assert pooled_validation_auc(finds_one) == pytest.approx(1 / 3)
    assert pooled_validation_detection(finds_one) == pytest.approx(1 / 3)
    assert choose_gate({"segmenter": ranks_well, "detector": finds_one, "mean": ranks_well}) == "detector"


def _rotation_run(test_id: str, valid_ids: list[str], valid_scores: list[float], test_score: float) -> SegRun:
    """A fold run testing normal image `test_id` and a lesion image (both scored `test_score`), validated on normal
    images `valid_ids` (scored `valid_scores`)."""
    empty, lesion = np.zeros((8, 8), bool), np.pad(np.ones((2, 2), bool), 3)
    cases = score_cases([test_id, test_id + "L"], [lesion, lesion], [empty, lesion]).assign(score=test_score)
    valid = pd.DataFrame({"image_id": valid_ids, "has_lesion": False, "score": valid_scores})
    return SegRun(test_id, "u2netp", test_id, "pretrained", "recalibrate", True, False, 1, None, pd.DataFrame(), cases,
                  summarise_cases(cases), 1.0, 1.0, [lesion, lesion], 0.5, 0.5, 0.0, valid)


def test_each_fold_threshold_pools_every_validation_fold_but_its_own_test_fold():
    from buslib.experiments.gating import pool_thresholds
    # a rotation of three folds a, b, c: each run tests one and validates the next
    runs = [_rotation_run("a0", ["b0", "b1"], [0.2, 0.3], 0.5),
            _rotation_run("b0", ["c0", "c1"], [0.4, 0.9], 0.5),
            _rotation_run("c0", ["a0", "a1"], [0.6, 0.7], 0.5)]
    frame = pd.DataFrame({"image_id": ["a0", "a1", "b0", "b1", "c0", "c1", "a0L", "b0L", "c0L"], "group": range(9)})
    pooled = pool_thresholds(runs, frame)
    # a: folds b and c (0.2-0.9), never its own images a0, a1 validated by run c; highest of 4 normals for 5%
    assert [run.detect_threshold for run in pooled] == [0.9, 0.9, 0.7]
    assert pooled[2].cases["detected"].tolist() == [False, False]
    assert pool_thresholds([runs[1]], frame)[0].detect_threshold == 0.9            # alone: its own validation fold
    with_low = pool_thresholds([runs[0], _rotation_run("b0", ["c0", "c1"], [0.1, 0.2], 0.5)], frame)
    assert with_low[0].detect_threshold == 0.3 and with_low[0].cases["detected"].tolist() == [True, True]
    assert with_low[0].summary["empty_false_positive_rate"] == 1.0                 # the summary is scored again
    assert with_low[0].summary["lesion_detection_rate"] == 1.0
