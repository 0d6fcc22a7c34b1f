"""Segment, then classify: lesion boxes, crops, and the crop classifier's inputs."""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from buslib.experiments.classification import prepare_task
from buslib.experiments.lesion_crops import (
    as_fold_runs,
    crop_inputs,
    crop_model_name,
    crop_split,
    crop_to_lesion,
    is_crop_model,
    is_crop_split,
    lesion_box,
    lesion_crops,
    predicted_masks,
    run_crop_classifier,
    run_crop_folds,
)
from tests.stand_ins import BrightIsLesion


def test_the_lesion_box_is_widened_by_the_margin_and_clipped_to_the_image():
    mask = np.zeros((100, 200), bool)
    mask[40:60, 50:90] = True                    # 20 rows x 40 columns
    assert lesion_box(mask, 0.0) == (40, 60, 50, 90)
    assert lesion_box(mask, 0.2) == (36, 64, 42, 98)
    mask[95:, :5] = True                         # a second region at the corner widens the box to it
    assert lesion_box(mask, 0.5) == (10, 100, 0, 135)
    assert lesion_box(np.zeros((10, 10), bool)) is None


def test_a_crop_shows_the_lesion_and_an_empty_mask_gives_the_whole_image():
    image = np.zeros((100, 200), np.uint8)
    image[40:60, 50:90] = 255                    # a bright lesion on a dark image
    mask = image > 0
    crop = crop_to_lesion(image, mask, 32, margin=0.0)
    assert crop.shape == (32, 32) and crop.min() == 255
    whole = crop_to_lesion(image, np.zeros_like(mask), 32)
    assert whole.shape == (32, 32) and whole.mean() < 50
    with pytest.raises(ValueError, match="differ in shape"):
        crop_to_lesion(image, mask[:50], 32)
    assert lesion_crops([image, image], [mask, mask], 16).shape == (2, 16, 16)
    with pytest.raises(ValueError, match="2 images but 1 masks"):
        lesion_crops([image, image], [mask], 16)


def test_predicted_masks_come_back_at_each_images_own_size():
    image = np.zeros((60, 90), np.uint8)
    image[20:40, 30:60] = 255
    [mask] = predicted_masks(BrightIsLesion(), [image], 32)
    assert mask.shape == (60, 90) and mask[30, 45] and not mask[5, 5]


@pytest.fixture
def crop_task():
    """32 full-resolution images with a bright lesion (brighter where malignant), their masks, and the task."""
    rng = np.random.default_rng(0)
    labels = np.array(["benign", "malignant"] * 16)
    full_images = [rng.integers(0, 40, (48, 64)).astype(np.uint8) for _ in labels]
    full_masks = []
    for image, label in zip(full_images, labels):
        image[10:30, 20:44] = 200 if label == "malignant" else 120
        full_masks.append(image > 100)
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(len(labels))], "label": labels,
                          "group": np.arange(len(labels)), "fold": np.arange(len(labels)) % 4,
                          "in_classification": True, "split_li_cls": ["train"] * 24 + ["val"] * 4 + ["test"] * 4,
                          "split_liu_cls": ["train"] * 24 + ["val"] * 8})
    small = np.stack([lesion_crops([i], [np.ones_like(m)], 32)[0] for i, m in zip(full_images, full_masks)])
    return full_images, full_masks, prepare_task(frame, small, "binary", n_folds=4, seed=0)


def test_the_crop_classifier_trains_on_any_grouped_fold_and_is_labelled_with_it(tmp_path, crop_task):
    full_images, full_masks, data = crop_task
    frame = data.frame
    like = SimpleNamespace(model_name="mobilenetv2", epochs=1, init="scratch")
    crops = crop_inputs(data, full_images, full_masks, BrightIsLesion(), 32, split="grouped_f1")
    run = run_crop_classifier(like, data, crops, tmp_path, split="grouped_f1")
    assert run.split == "crop_grouped_f1"
    tested = frame["image_id"][data.roles["grouped_f1"] == "test"]
    assert run.test["image_id"].tolist() == tested.tolist() and set(frame["fold"][tested.index]) == {1}
    with pytest.raises(ValueError, match="no split 'grouped_f9'"):
        crop_inputs(data, full_images, full_masks, BrightIsLesion(), 32, split="grouped_f9")
    with pytest.raises(ValueError, match="no split 'grouped_f9'"):
        run_crop_classifier(like, data, crops, tmp_path, split="grouped_f9")


def test_every_model_gets_a_crop_run_on_every_split_and_each_split_is_segmented_once(tmp_path, crop_task):
    full_images, full_masks, data = crop_task

    class CountingSegmenter(BrightIsLesion):
        def forward(self, x):
            self.calls = getattr(self, "calls", 0) + 1
            return super().forward(x)

    segmenters = {split: CountingSegmenter() for split in ("grouped_f1", "grouped")}
    likes = [SimpleNamespace(model_name=name, epochs=1, init="scratch") for name in ("mobilenetv2", "rcdnet")]
    runs = run_crop_folds(likes, data, full_images, full_masks, segmenters, 32, tmp_path)
    assert [[(r.model_name, r.split) for r in model_runs] for model_runs in runs] == [
        [("mobilenetv2", "crop_grouped"), ("mobilenetv2", "crop_grouped_f1")],   # test fold 0 first
        [("rcdnet", "crop_grouped"), ("rcdnet", "crop_grouped_f1")]]
    assert [segmenter.calls for segmenter in segmenters.values()] == [1, 1]   # one batch of unseen images per split
    np.testing.assert_array_equal(runs[0][1].test["image_id"], runs[1][1].test["image_id"])


def test_crop_runs_pool_as_fold_runs_under_their_own_name():
    @dataclass
    class Run:
        model_name: str
        split: str
        threshold: float

    [fold] = as_fold_runs([Run("effnet_lite2", crop_split("grouped_f2"), 0.4)])
    assert (fold.model_name, fold.split, fold.threshold) == ("effnet_lite2_crop", "grouped_f2", 0.4)
    assert is_crop_split("crop_grouped") and not is_crop_split("grouped")
    assert is_crop_model(crop_model_name("rcdnet")) and not is_crop_model("rcdnet")
