"""fastai DataLoaders over cached arrays, for segmentation and classification."""

import numpy as np
import pytest
import torch
from fastai.learner import Learner

from buslib.data.loaders import ArrayItems, augmentations, build_dataloaders
from buslib.data.normalise import IMAGENET_STATS
from buslib.data.tasks import class_targets


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 32, 32), dtype=np.uint8)
    masks = np.zeros_like(images)
    masks[:, 10:20, 8:24] = 1
    labels = np.arange(20) % 3
    return images, masks, labels


def test_classification_batches(arrays):
    images, _, labels = arrays
    dls = build_dataloaders(images, labels, np.arange(16), np.arange(16, 20), "liu", batch_size=4)
    x, y = dls.one_batch()
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.tolist()) <= {0, 1, 2}
    assert len(dls.valid_ds) == 4


def test_segmentation_masks_stay_binary_and_aligned_after_augmentation(arrays):
    images, masks, _ = arrays
    images = masks * 200 + 20
    dls = build_dataloaders(images.astype(np.uint8), masks, np.arange(16), np.arange(16, 20), "li", batch_size=4)
    x, y = dls.one_batch()
    assert y.shape == (4, 1, 32, 32) and set(y.unique().tolist()) <= {0.0, 1.0}
    bright = x[:, 0] > x[:, 0].mean()
    assert (bright == y[:, 0].bool()).float().mean() > 0.9


def test_validation_items_are_normalised_and_unaugmented(arrays):
    images, _, labels = arrays
    item = ArrayItems(images, labels)[0][0]
    mean, std = IMAGENET_STATS
    expected = (torch.from_numpy(images[0]).float() / 255 - mean[0]) / std[0]
    assert torch.allclose(item[0], expected, atol=1e-5)


@pytest.mark.parametrize(("recipe", "varies"), [("liu", False), ("liu_photometric", True)])
def test_only_the_photometric_recipe_changes_grey_levels(recipe, varies):
    torch.manual_seed(0)
    flat = torch.full((3, 32, 32), 100, dtype=torch.uint8)
    centres = {int(augmentations(recipe, 32)(flat)[0, 16, 16]) for _ in range(20)}
    assert (len(centres) > 1) == varies and (varies or centres == {100})


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="unknown augmentation recipe 'kornia'"):
        augmentations("kornia", 32)


def test_mismatched_lengths_are_refused(arrays):
    images, _, labels = arrays
    with pytest.raises(ValueError, match="20 images but 5 targets"):
        ArrayItems(images, labels[:5])


def test_a_fastai_learner_trains_on_them(arrays):
    images, _, labels = arrays
    dls = build_dataloaders(images, labels, np.arange(16), np.arange(16, 20), "none", batch_size=8)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 3))
    learn = Learner(dls, model, loss_func=torch.nn.CrossEntropyLoss())
    learn.fit(1, 1e-3)
    preds, targets = learn.get_preds()
    assert preds.shape == (4, 3) and targets.tolist() == labels[16:].tolist()


def test_class_targets_for_every_task():
    labels = ["normal", "benign", "malignant", "benign"]
    rows, targets = class_targets(labels, "binary")
    assert rows.tolist() == [1, 2, 3] and targets.tolist() == [0, 1, 0]
    rows, targets = class_targets(labels, "three_class")
    assert rows.tolist() == [0, 1, 2, 3] and targets.tolist() == [0, 1, 2, 1]
    rows, targets = class_targets(labels, "lesion")
    assert rows.tolist() == [0, 1, 2, 3] and targets.tolist() == [0, 1, 1, 1]
    with pytest.raises(ValueError, match="unknown task 'four_class'"):
        class_targets(labels, "four_class")
    with pytest.raises(ValueError, match=r"unknown labels \['Benign'\]"):
        class_targets(["Benign"], "binary")
