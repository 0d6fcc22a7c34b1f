"""CAM localisation scores against lesion masks."""

import numpy as np
import pandas as pd
import pytest

from buslib.eval.localisation import energy_inside, margin_over_random, pointing_hit, score_cams, summarise_localisation


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


def test_localisation_summary_averages_per_model_and_method():
    scores = pd.DataFrame({"dataset": "d", "model": "m", "method": ["a", "a", "b"], "energy_inside": [0.2, 0.4, 0.1],
                           "pointing_hit": [1.0, 0.0, 0.0], "lesion_share": 0.1, "confidence_change": 0.0})
    summary = summarise_localisation(scores).set_index("method")
    assert summary.loc["a", "energy_inside"] == pytest.approx(0.3) and summary.loc["a", "pointing_hit_rate"] == 0.5


def test_margin_over_random_subtracts_the_baseline_of_the_same_model_and_dataset():
    summary = pd.DataFrame({"dataset": ["d", "d", "d", "d"], "model": ["m", "m", "n", "n"],
                            "method": ["gradcam", "random", "gradcam", "random"],
                            "energy_inside": [0.5, 0.2, 0.3, 0.25]})
    margin = margin_over_random(summary)
    assert margin["model"].tolist() == ["m", "n"]
    assert margin["energy_over_random"].tolist() == pytest.approx([0.3, 0.05])
