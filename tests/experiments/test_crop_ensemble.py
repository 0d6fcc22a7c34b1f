"""Segment-then-classify ensembles on full-resolution images: crop members with their own fold's segmenter,
whole-image members resized as the study's arrays are, and notebook 03's averaged rows rebuilt by name."""

import numpy as np
import pytest
import torch

from buslib.data.cache import resize_image
from buslib.experiments.crop_ensemble import CropClassifier, LesionMasks, WholeImageClassifier, mixed_ensemble
from buslib.experiments.external import FoldEnsemble, FrozenClassifier
from buslib.experiments.lesion_crops import lesion_crops, predicted_masks
from tests.stand_ins import BrightIsLesion


class MeanBrightness(torch.nn.Module):
    """A stand-in classifier: the brighter the input, the more malignant."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        mean = x.mean(dim=(1, 2, 3)) * self.scale
        return torch.stack([-mean, mean], dim=1)


def frozen(split: str, threshold: float = 0.5) -> FrozenClassifier:
    return FrozenClassifier(f"k_{split}", "mobilenetv2", split, "imagenet", threshold, MeanBrightness())


@pytest.fixture
def images() -> list[np.ndarray]:
    """Two dark images of different sizes, each with a small bright lesion."""
    small, large = np.full((60, 80), 20, np.uint8), np.full((90, 120), 20, np.uint8)
    small[20:30, 30:45] = 250
    large[40:55, 50:70] = 250
    return [small, large]


def test_a_crop_member_classifies_the_lesion_its_segmenter_finds_and_keeps_its_thresholds(images):
    member = CropClassifier(frozen("crop_grouped_f1", 0.3), LesionMasks(BrightIsLesion(), 32), 16)
    assert (member.model_name, member.split, member.threshold) == ("mobilenetv2_crop", "crop_grouped_f1", 0.3)
    crops = lesion_crops(images, predicted_masks(BrightIsLesion(), images, 32), 16)
    np.testing.assert_allclose(member.predict(images), frozen("x").predict(crops), atol=1e-6)
    whole = WholeImageClassifier(frozen("grouped"), 16)
    resized = np.stack([resize_image(image, 16) for image in images])
    np.testing.assert_allclose(whole.predict(images), frozen("x").predict(resized))
    assert member.predict(images).min() > whole.predict(images).max()   # the crop is mostly lesion, the image is not


class CountingSegmenter(BrightIsLesion):
    """BrightIsLesion that counts the images it segments."""

    def __init__(self):
        super().__init__()
        self.images_seen = 0

    def forward(self, x):
        self.images_seen += len(x)
        return super().forward(x)


def test_the_crop_classifiers_of_one_fold_segment_each_image_set_once(images):
    segmenter = CountingSegmenter()
    masks = LesionMasks(segmenter, 32)
    first, second = (CropClassifier(frozen(f"crop_grouped_f{i}"), masks, 16) for i in (1, 2))
    np.testing.assert_allclose(first.predict(images), second.predict(images))
    assert segmenter.images_seen == len(images)
    others = [image[::-1].copy() for image in images]   # another image set is segmented afresh
    first.predict(others)
    assert segmenter.images_seen == 2 * len(images)
    assert [m.shape for m in masks(others)] == [i.shape for i in others]


def test_an_averaged_row_is_rebuilt_by_name_with_every_fold_model_of_each_part(images):
    whole = [FoldEnsemble(f"{name}_e", name, "imagenet", (frozen("grouped"), frozen("grouped_f1")))
             for name in ("effnet_lite2", "rcdnet")]
    crop_members = tuple(CropClassifier(frozen(f"crop_{split}"), LesionMasks(BrightIsLesion(), 32), 16)
                         for split in ("grouped", "grouped_f1"))
    crop = FoldEnsemble("c_e", "mobilenetv2_crop", "imagenet", crop_members)
    mixed = mixed_ensemble("effnet_lite2_and_rcdnet_and_mobilenetv2_crop", "imagenet", whole, [crop], 16)
    assert mixed.key == "effnet_lite2_and_rcdnet_and_mobilenetv2_crop_binary_ensemble_imagenet"
    assert len(mixed.members) == 6 and mixed.members[-2:] == crop_members
    assert all(isinstance(m, WholeImageClassifier) for m in mixed.members[:4])
    assert mixed.predict(images).shape == (2,)
    with pytest.raises(ValueError, match="no fold ensemble of \\['vit'\\]"):
        mixed_ensemble("vit_and_mobilenetv2_crop", "imagenet", whole, [crop], 16)
