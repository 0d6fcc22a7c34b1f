"""Segmentation metrics and the group bootstrap."""

import numpy as np
import pytest

from buslib.eval.segmentation import confusion_counts, dice_iou, pixel_metrics
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
