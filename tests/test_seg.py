"""U2-Net shapes and sizes, segmentation metrics on hand-made masks, and the group bootstrap."""

import numpy as np
import pytest
import torch

from buslib.seg_metrics import confusion_counts, dice_iou, pixel_metrics
from buslib.stats import group_bootstrap_ci
from buslib.u2net import RSU, U2Net, u2net, u2netp


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_u2net_paper():
    assert n_params(u2net()) == pytest.approx(44.0e6, rel=0.01)
    assert n_params(u2netp()) == pytest.approx(1.13e6, rel=0.01)


@pytest.mark.parametrize("size", [(64, 64), (77, 100), (33, 45)])
def test_any_input_size_gives_fused_plus_six_side_logits(size):
    model = u2netp().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 7, *size)


def test_rsu_keeps_resolution_and_channels():
    block = RSU(5, 8, 4, 6).eval()
    with torch.no_grad():
        assert block(torch.randn(2, 8, 30, 41)).shape == (2, 6, 30, 41)
    with pytest.raises(ValueError, match="height"):
        RSU(1, 3, 3, 3)


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown U2-Net variant 'u2netxl'"):
        U2Net("u2netxl")


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


def test_benchmark_reports_positive_finite_figures(tmp_path):
    import json

    from buslib.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--models", "u2netp,rcdnet", "--sizes", "32", "--batch", "2", "--steps", "1",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["model"], r["size"]) for r in rows] == [("u2netp", 32), ("rcdnet", 32)]
    for row in rows:
        assert 0 < row["train_images_per_s"] < float("inf") and 0 < row["infer_ms_per_image"] < float("inf")
    assert main(["bench", "--models", "resnet9000"]) == 2
