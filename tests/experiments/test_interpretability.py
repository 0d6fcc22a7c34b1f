"""CAM scores on hand-made maps, the ViT reshape, and CAMs from pytorch-grad-cam on a real network."""

import numpy as np
import pytest
import torch
from fastai.torch_core import default_device

from buslib.experiments.interpretability import CAM_METHODS, compute_cams, vit_reshape_transform
from buslib.models.registry import create_classifier


def test_vit_tokens_become_a_feature_map():
    tokens = torch.arange(2 * 17 * 3, dtype=torch.float32).reshape(2, 17, 3)
    grid = vit_reshape_transform(tokens)
    assert grid.shape == (2, 3, 4, 4) and torch.equal(grid[0, :, 0, 0], tokens[0, 1])
    with pytest.raises(ValueError, match="square grid"):
        vit_reshape_transform(torch.zeros(1, 6, 3))


@pytest.mark.parametrize(("model_name", "standardise"), [("mobilenetv2", False), ("vit", False), ("rcdnet", True)])
def test_cams_of_every_method_are_maps_in_the_unit_interval(model_name, standardise):
    model = create_classifier(model_name, 2, size=32, standardise=standardise).to(default_device())  # GPU if any
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    for method in CAM_METHODS:
        cams, predicted, change = compute_cams(model_name, model, images, method)
        assert cams.shape == (3, 32, 32) and cams.min() >= 0 and cams.max() <= 1 + 1e-6
        assert predicted.shape == (3,) and change.shape == (3,)
    with pytest.raises(ValueError, match="unknown CAM method 'scorecam'"):
        compute_cams(model_name, model, images, "scorecam")

