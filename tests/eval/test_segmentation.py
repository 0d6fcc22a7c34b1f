"""Segmentation metrics and the group bootstrap."""

import numpy as np
import pytest

from buslib.eval.segmentation import (
    confusion_counts,
    dice_iou,
    headline_columns,
    pixel_metrics,
    score_cases,
    summarise_cases,
)
from buslib.eval.stats import group_bootstrap_ci


def test_pixel_metrics_on_a_hand_made_case():
    true = np.zeros((4, 4), bool)
    true[:2, :2] = True          # 4 lesion pixels
    pred = np.zeros((4, 4), bool)
    pred[:2, 1:3] = True         # 2 hit, 2 false positives, 2 missed
    counts = confusion_counts(pred, true)
    assert counts.tolist() == [2, 2, 2, 10]
    m = pixel_metrics([counts])
    assert m == pytest.approx({"accuracy": 12 / 16, "recall": 0.5, "precision": 0.5, "f1": 0.5, "iou": 2 / 6})
    assert dice_iou(pred, true) == pytest.approx((0.5, 1 / 3))


def test_pixel_metrics_pool_images_before_dividing():
    a = confusion_counts(np.ones((2, 2), bool), np.ones((2, 2), bool))
    b = confusion_counts(np.zeros((2, 2), bool), np.ones((2, 2), bool))
    assert pixel_metrics([a, b])["recall"] == 0.5


def test_empty_mask_rule():
    empty = np.zeros((3, 3), bool)
    spot = empty.copy()
    spot[1, 1] = True
    assert dice_iou(empty, empty) == (1.0, 1.0)
    assert dice_iou(spot, empty) == (0.0, 0.0)
    assert dice_iou(empty, spot) == (0.0, 0.0)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_counts(np.zeros((2, 2)), np.zeros((3, 2)))


def test_group_bootstrap_is_wider_than_the_image_bootstrap_for_clustered_data():
    values = np.repeat([0.2, 0.9, 0.4, 0.7, 0.5, 0.8], 10)
    groups = np.repeat(np.arange(6), 10)
    image_low, image_high = group_bootstrap_ci(values, None, seed=0)
    group_low, group_high = group_bootstrap_ci(values, groups, seed=0)
    assert group_low <= values.mean() <= group_high
    assert (group_high - group_low) > 2 * (image_high - image_low)


def test_group_bootstrap_bad_input():
    with pytest.raises(ValueError, match="empty"):
        group_bootstrap_ci([])
    with pytest.raises(ValueError, match="3 values but 2 group labels"):
        group_bootstrap_ci([1, 2, 3], [0, 1])


def test_pooled_iou_interval_brackets_the_pooled_iou_not_the_mean():
    """One large well-segmented lesion and many small missed ones: the pooled IoU is high, the mean low, and each
    interval goes with its own statistic (the pooled one resamples whole images' pixel counts)."""
    rng = np.random.default_rng(0)
    truths, predictions = [], []
    for i in range(40):
        true = np.zeros((40, 40), bool)
        if i % 4 == 0:
            true[:30, :30] = True
            pred = true.copy()
            pred[:rng.integers(1, 5)] = False   # large lesion, nearly whole
        else:
            true[:4, :4] = True
            pred = np.zeros_like(true)
            pred[2:6, 2:6] = True               # small lesion, a quarter of it found (IoU 1/7)
        truths.append(true)
        predictions.append(pred)
    summary = summarise_cases(score_cases([str(i) for i in range(40)], predictions, truths))
    assert summary["iou"] > 0.8 > 0.5 > summary["iou_mean"]
    assert summary["iou_ci_low"] <= summary["iou"] <= summary["iou_ci_high"]
    assert summary["iou_mean_ci_low"] <= summary["iou_mean"] <= summary["iou_mean_ci_high"]
    assert summary["iou_ci_low"] > summary["iou_mean_ci_high"]
    columns = headline_columns(summary)
    assert list(columns) == ["iou", "iou_95ci", "dice_mean", "dice_mean_95ci", "iou_mean", "iou_mean_95ci"]
    assert columns["iou_95ci"] == f"{summary['iou_ci_low']:.3f}-{summary['iou_ci_high']:.3f}"


def test_group_bootstrap_takes_rows_of_a_two_column_sample():
    pairs = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 4.0]])
    low, high = group_bootstrap_ci(pairs, statistic=lambda rows: rows[:, 0].sum() / rows[:, 1].sum())
    assert 0 <= low <= 0.4 <= high <= 0.75
