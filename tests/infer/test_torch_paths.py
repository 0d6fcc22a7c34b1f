"""Test-time flip averaging: the image and its mirror, with segmentation maps mirrored back."""

import numpy as np
import torch
from torch import nn

from buslib.infer import predict_proba, predict_seg_logits, predict_seg_logits_with_flip


class LeftHalf(nn.Module):
    """A 'segmenter' whose logit is +5 on the left half of the image and -5 elsewhere, whatever the image."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.full((x.shape[0], 7, *x.shape[2:]), -5.0)
        out[..., : x.shape[-1] // 2] = 5.0
        return out + self.anchor


class MeanOfLeftColumn(nn.Module):
    """A 'classifier' whose malignant logit is the mean of the image's leftmost column."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = x[:, 0, :, 0].mean(1, keepdim=True)
        return torch.cat([torch.zeros_like(left), left + self.anchor], dim=1)


def test_flip_averaging_maps_the_mirrored_prediction_back_onto_the_image():
    images = np.zeros((2, 8, 8), np.uint8)
    plain = predict_seg_logits(LeftHalf(), images, progress=False)
    averaged = predict_seg_logits(LeftHalf(), images, progress=False, tta=True)
    assert (plain[:, :, :4] > 0).all() and (plain[:, :, 4:] < 0).all()
    # the mirror predicts the right half; mapped back, it disagrees with the plain map everywhere: p = 0.5
    np.testing.assert_allclose(1 / (1 + np.exp(-averaged)), 0.5, atol=1e-4)


def test_flip_averaging_of_class_probabilities_uses_the_mirrored_image():
    images = np.zeros((1, 8, 8), np.uint8)
    images[0, :, 0] = 255                       # bright left column: the mirror has it on the right
    model = MeanOfLeftColumn()
    plain = predict_proba(model, images, ((0.0,) * 3, (1.0,) * 3), bf16=False)
    averaged = predict_proba(model, images, ((0.0,) * 3, (1.0,) * 3), bf16=False, tta=True)
    mirrored = 0.5                              # logits (0, 0) on the mirror
    np.testing.assert_allclose(averaged[:, 1], (plain[:, 1] + mirrored) / 2, rtol=1e-5)


def test_one_call_gives_the_plain_and_the_flip_averaged_maps_of_two_calls():
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    model = nn.Conv2d(3, 1, 3, padding=1)
    plain, averaged = predict_seg_logits_with_flip(model, images, progress=False)
    np.testing.assert_array_equal(plain, predict_seg_logits(model, images, progress=False))
    np.testing.assert_array_equal(averaged, predict_seg_logits(model, images, progress=False, tta=True))
    assert not np.allclose(plain, averaged)   # the conv is not mirror-symmetric: the flip changes the map
