"""Classification metrics on hand-made predictions."""

import numpy as np
import pytest

from buslib.eval.classification import (
    binary_metrics,
    bootstrap_binary_metrics,
    choose_threshold,
    confusion_table,
    expected_calibration_error,
    multiclass_metrics,
    reliability_curve,
    roc_points,
)


def test_binary_metrics_on_a_hand_made_case():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.1, 0.4])
    m = binary_metrics(y, p, threshold=0.5)   # tp 2, fn 1, fp 1, tn 4
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(4 / 5) and m["f1"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(13 / 15)  # 13 of 15 positive-negative pairs ranked right
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_auc_is_nan_with_one_class_and_ratios_do_not_divide_by_zero():
    m = binary_metrics([0, 0, 0], [0.1, 0.2, 0.7], 0.5)
    assert np.isnan(m["auc"]) and m["recall"] == 0.0 and m["specificity"] == pytest.approx(2 / 3)


def test_threshold_is_chosen_by_youden_on_separable_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.35, 0.4, 0.7, 0.9])
    t = choose_threshold(y, p)
    assert 0.35 < t <= 0.4
    assert binary_metrics(y, p, t)["accuracy"] == 1.0
    assert choose_threshold([1, 1], [0.2, 0.9]) == 0.5


def test_calibration_error_is_zero_when_predictions_match_observed_rates():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25] * 4 + [0.75] * 4)
    assert expected_calibration_error(y, p) == pytest.approx(0.0)
    overconfident = np.array([0.05] * 4 + [0.95] * 4)
    assert expected_calibration_error(y, overconfident) == pytest.approx(0.2)
    curve = reliability_curve(y, p)
    assert curve["count"].tolist() == [4, 4] and curve["observed"].tolist() == [0.25, 0.75]


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.6 + rng.normal(0.2, 0.2, 200), 0, 1)
    ci = bootstrap_binary_metrics(y, p, 0.5, n_resamples=300)
    point = binary_metrics(y, p, 0.5)
    for metric in ("accuracy", "auc", "recall"):
        assert ci.loc[metric, "low"] <= point[metric] <= ci.loc[metric, "high"]


def test_multiclass_per_class_accuracy():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    m = multiclass_metrics(y, probs, ("normal", "benign", "malignant"))
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert (m["accuracy_normal"], m["accuracy_benign"], m["accuracy_malignant"]) == (0.5, 1.0, 0.5)
    with pytest.raises(ValueError, match="do not fit"):
        multiclass_metrics(y, probs[:, :2], ("normal", "benign", "malignant"))


def test_confusion_table_and_roc_points():
    table = confusion_table([0, 1, 1], [0, 0, 1], ("benign", "malignant"))
    assert table.loc["malignant", "benign"] == 1 and table.to_numpy().sum() == 3
    roc = roc_points([0, 1], [0.2, 0.8])
    assert roc["tpr"].iloc[-1] == 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="3 labels but 2 probabilities"):
        binary_metrics([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="must be 0 or 1"):
        binary_metrics([0, 2], [0.1, 0.2])


def test_triage_threshold_keeps_the_asked_sensitivity_and_is_the_highest_that_does():
    from buslib.eval.classification import sensitivity_threshold
    y = np.array([1] * 10 + [0] * 5)
    prob = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.15, 0.25, 0.35, 0.45])
    threshold = sensitivity_threshold(y, prob, 0.90)
    assert threshold == 0.3  # 9 of 10 positives at or above it; the next positive up would keep only 8
    assert (prob[y == 1] >= threshold).mean() >= 0.9
    assert sensitivity_threshold(y, prob, 1.0) == 0.2
    assert sensitivity_threshold(np.zeros(3, int), np.array([0.1, 0.2, 0.3])) == 0.5
