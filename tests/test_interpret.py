"""CAM scores on hand-made maps, the ViT reshape, and CAMs from pytorch-grad-cam on a real network."""

import numpy as np
import pytest
import torch

from buslib.classifiers import create_classifier
from buslib.interpret import (CAM_METHODS, compute_cams, energy_inside, pointing_hit, score_cams,
                              summarise_localisation, vit_reshape_transform)
from buslib.papers import LI_TABLE1, beside_paper


def test_energy_and_pointing_on_hand_made_maps():
    mask = np.zeros((4, 4), np.uint8)
    mask[:2, :2] = 1
    cam = np.zeros((4, 4))
    cam[0, 0], cam[3, 3] = 3.0, 1.0
    assert energy_inside(cam, mask) == pytest.approx(0.75)
    assert pointing_hit(cam, mask) == 1.0
    assert pointing_hit(cam.T[::-1, ::-1], mask) == 0.0
    assert np.isnan(energy_inside(cam, np.zeros_like(mask))) and np.isnan(energy_inside(np.zeros((4, 4)), mask))


def test_a_uniform_map_scores_the_lesion_share():
    masks = np.zeros((2, 10, 10), np.uint8)
    masks[:, :5, :] = 1
    scores = score_cams(np.ones((2, 10, 10)), masks)
    assert scores["energy_inside"].tolist() == [0.5, 0.5] and scores["lesion_share"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="differ in shape"):
        score_cams(np.ones((2, 5, 5)), masks)


def test_vit_tokens_become_a_feature_map():
    tokens = torch.arange(2 * 17 * 3, dtype=torch.float32).reshape(2, 17, 3)
    grid = vit_reshape_transform(tokens)
    assert grid.shape == (2, 3, 4, 4) and torch.equal(grid[0, :, 0, 0], tokens[0, 1])
    with pytest.raises(ValueError, match="square grid"):
        vit_reshape_transform(torch.zeros(1, 6, 3))


@pytest.mark.parametrize("model_name", ["mobilenetv2", "vit"])
def test_cams_of_every_method_are_maps_in_the_unit_interval(model_name):
    model = create_classifier(model_name, 2, size=32)
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    for method in CAM_METHODS:
        cams, predicted, change = compute_cams(model_name, model, images, method)
        assert cams.shape == (3, 32, 32) and cams.min() >= 0 and cams.max() <= 1 + 1e-6
        assert predicted.shape == (3,) and change.shape == (3,)
    with pytest.raises(ValueError, match="unknown CAM method 'scorecam'"):
        compute_cams(model_name, model, images, "scorecam")


def test_localisation_summary_averages_per_model_and_method():
    import pandas as pd

    scores = pd.DataFrame({"dataset": "d", "model": "m", "method": ["a", "a", "b"], "energy_inside": [0.2, 0.4, 0.1],
                           "pointing_hit": [1.0, 0.0, 0.0], "lesion_share": 0.1, "confidence_change": 0.0})
    summary = summarise_localisation(scores).set_index("method")
    assert summary.loc["a", "energy_inside"] == pytest.approx(0.3) and summary.loc["a", "pointing_hit_rate"] == 0.5


def test_papers_rows_follow_ours():
    import pandas as pd

    ours = pd.DataFrame({"model": ["u2netp", "u2netp", "u2net"], "iou": [0.6, 0.7, 0.5]})
    table = beside_paper(ours, LI_TABLE1, "Li")
    assert table["source"].tolist() == ["this study", "this study", "Li", "this study", "Li"]
    assert table.loc[2, "iou"] == 0.7063
