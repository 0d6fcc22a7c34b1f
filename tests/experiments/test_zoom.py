"""The zoomed second stage: training crops, how its map is merged with stage 1's, and one fold end to end."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from buslib.data.cache import resize_image
from buslib.data.splits import fold_split, split_fold
from buslib.experiments.segmentation import pooled_iou, run_segmentation
from buslib.experiments.segmenters import TwoStageEnsemble
from buslib.experiments.zoom import (
    STAGE1_ONLY,
    ZOOM_USES,
    ZoomUse,
    jittered_box,
    probability_maps,
    run_zoom,
    use_search,
    zoom_fold_table,
    zoom_probabilities,
    zoom_weights,
)
from buslib.infer import predict_seg_logits
from buslib.train.segmentation import get_seg_recipe


class ConstantSegmenter(nn.Module):
    """A stand-in stage 2 whose map says `logit` everywhere."""

    def __init__(self, logit: float):
        super().__init__()
        self.logit = logit
        self.anchor = nn.Parameter(torch.zeros(1))   # where inference looks for the device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, *x.shape[-2:]), self.logit)


def test_split_fold_inverts_fold_split_and_names_a_bad_split():
    assert [split_fold(fold_split(k)) for k in range(5)] == list(range(5))
    for bad in ("li_12_3", "grouped_f0", "grouped_fx", "random"):
        with pytest.raises(ValueError, match=bad):
            split_fold(bad)


def test_a_jittered_training_box_holds_the_whole_lesion_and_stays_inside_the_image():
    mask = np.zeros((100, 200), bool)
    mask[40:60, 50:90] = True
    rng = np.random.default_rng(0)
    boxes = [jittered_box(mask, rng, (0.1, 0.6)) for _ in range(50)]
    for top, bottom, left, right in boxes:
        assert 0 <= top <= 40 - 2 and 60 + 2 <= bottom <= 100       # at least 10% of the lesion's 20 rows
        assert 0 <= left <= 50 - 4 and 90 + 4 <= right <= 200       # and of its 40 columns
        assert top >= 40 - 12 and right <= 90 + 24                  # at most 60%
    assert len(set(boxes)) > 40                                     # each side drawn on its own
    with pytest.raises(ValueError, match="empty"):
        jittered_box(np.zeros((10, 10), bool), rng)


def blob_map(shape=(60, 80), blobs=((20, 30, 20, 40),)) -> np.ndarray:
    probability = np.full(shape, 0.1, np.float32)
    for top, bottom, left, right in blobs:
        probability[top:bottom, left:right] = 0.9
    return probability


def test_stage_two_is_averaged_with_stage_one_inside_the_widened_box_only():
    image = np.zeros((60, 80), np.uint8)
    first = blob_map()
    sure = ConstantSegmenter(10.0)     # probability ~1 everywhere it looks
    refined = zoom_probabilities(sure, [image], [first], ZoomUse("largest", 0.3, 1), 32)[0]
    lesion = refined > 0.5
    rows, cols = np.flatnonzero(lesion.any(1)), np.flatnonzero(lesion.any(0))
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (17, 33, 14, 46)   # the 10 x 20 blob widened by 30%
    assert np.allclose(refined[~lesion], 0.1)                                   # outside the box: stage 1's map
    assert np.allclose(refined[25, 30], (0.9 + 1) / 2, atol=1e-3)
    unsure = ConstantSegmenter(-10.0)
    assert not (zoom_probabilities(unsure, [image], [first], ZoomUse("largest", 0.3, 1), 32)[0] > 0.5).any()


def test_a_second_pass_crops_around_the_first_pass_map_so_the_lesion_can_grow():
    image = np.zeros((60, 80), np.uint8)
    first = blob_map()
    sizes = [(zoom_probabilities(ConstantSegmenter(10.0), [image], [first], ZoomUse("largest", 0.3, passes), 32)[0]
              > 0.5).sum() for passes in (1, 2)]
    assert sizes[1] > sizes[0]


def test_the_box_is_around_the_largest_region_or_around_every_predicted_pixel():
    image = np.zeros((60, 80), np.uint8)
    first = blob_map(blobs=((20, 30, 20, 40), (50, 53, 70, 73)))
    largest, every = (zoom_probabilities(ConstantSegmenter(10.0), [image], [first], ZoomUse(box, 0.0, 1), 32)[0] > 0.5
                      for box in ("largest", "all"))
    assert largest[20:30, 20:40].all() and not largest[35:45, 45:65].any()
    assert every[20:53, 20:73].all()


def test_a_map_with_no_lesion_is_left_as_it_is():
    empty = np.full((30, 30), 0.2, np.float32)
    out = zoom_probabilities(ConstantSegmenter(10.0), [np.zeros((30, 30), np.uint8)], [empty], ZOOM_USES[0], 32)
    assert np.array_equal(out[0], empty)


def test_run_zoom_trains_stage_two_chooses_its_use_on_validation_and_keeps_stage_one_decisions(tmp_path):
    rng = np.random.default_rng(0)
    n = 20
    full_masks, full_images = [], []
    for i in range(n):
        mask = np.zeros((48, 64), bool)
        if i % 4:                                  # every fourth image is normal
            r, c = rng.integers(8, 30, 2)
            mask[r:r + 10, c:c + 14] = True
        full_masks.append(mask)
        full_images.append((mask * 150 + rng.integers(0, 60, mask.shape)).astype(np.uint8))
    small_images = np.stack([img[::3, ::4][:16, :16] for img in full_images])
    small_masks = np.stack([m[::3, ::4][:16, :16] for m in full_masks]).astype(np.uint8)
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(n)],
                          "label": ["normal" if i % 4 == 0 else "benign" for i in range(n)],
                          "group": np.arange(n), "fold": np.arange(n) % 5})
    roles = np.where(frame["fold"] == 0, "test", np.where(frame["fold"] == 1, "valid", "train"))
    test = np.flatnonzero(roles == "test")
    stage1 = run_segmentation("u2netp", "grouped", frame, roles, small_images, small_masks,
                              [full_masks[i] for i in test], get_seg_recipe("strong"), 1, tmp_path, init="pretrained",
                              monitor=False)
    run = run_zoom(stage1, frame, small_images, full_images, full_masks, get_seg_recipe("strong"), 1, 32, tmp_path)
    assert run.split == "grouped" and set(run.valid_iou) == {STAGE1_ONLY, *(u.name for u in ZOOM_USES)}
    assert run.use == max(run.valid_iou, key=lambda name: (run.valid_iou[name], name == STAGE1_ONLY))
    assert run.cases["image_id"].tolist() == stage1.cases["image_id"].tolist()
    assert run.cases["detected"].tolist() == stage1.cases["detected"].tolist()
    assert 0 <= run.summary["iou"] <= 1 and 0 <= run.true_box_iou <= 1
    assert run.stage1_iou == pytest.approx(stage1.summary["iou"])
    table = zoom_fold_table([run])
    assert table.loc[0, "use"] == run.use and table.loc[0, "test_iou_two_stage"] == run.summary["iou"]
    empty = zoom_fold_table([])  # a profile that trains no second stage: no rows, and notebook 02 can drop 'use'
    assert empty.empty and list(empty.columns) == list(table.columns)
    saved = zoom_weights([run])["grouped"]
    assert saved["use"] == run.use and all(v.dtype == torch.float16 for v in saved["state"].values()
                                           if v.is_floating_point())


def test_a_zoom_use_is_found_by_name_and_an_unknown_name_is_refused():
    from buslib.experiments.zoom import STAGE1_ONLY, ZOOM_USES, zoom_use

    assert zoom_use(STAGE1_ONLY) is None and all(zoom_use(use.name) == use for use in ZOOM_USES)
    with pytest.raises(ValueError, match="unknown zoom use 'largest_box_margin0.9_passes1'"):
        zoom_use("largest_box_margin0.9_passes1")


def random_segmenter(seed: int) -> nn.Module:
    """A stand-in U2-Net whose map depends on the image, so that every use gives its own maps."""
    torch.manual_seed(seed)
    return nn.Conv2d(3, 1, 5, padding=2).eval()


def lesion_scene(seed: int, n: int = 6) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Images of different sizes with one bright lesion each, their masks and rough stage-1 maps of them."""
    rng = np.random.default_rng(seed)
    images, masks, maps = [], [], []
    for k in range(n):
        shape = (40 + 4 * k, 56 - 2 * k)
        mask = np.zeros(shape, bool)
        mask[10 + k:24 + k, 12:30] = True
        images.append((mask * 120 + rng.integers(0, 100, shape)).astype(np.uint8))
        masks.append(mask)
        maps.append(np.clip(mask * 0.7 + rng.uniform(0, 0.4, shape), 0, 1).astype(np.float32))
    return images, masks, maps


def test_the_use_search_scores_every_use_as_if_each_ran_on_its_own():
    images, masks, first = lesion_scene(0)
    model = random_segmenter(0)
    scores = use_search(model, images, first, masks, 16)
    assert list(scores) == [STAGE1_ONLY, *(use.name for use in ZOOM_USES)]
    assert scores[STAGE1_ONLY] == pooled_iou([p > 0.5 for p in first], masks)
    for use in ZOOM_USES:
        alone = zoom_probabilities(model, images, first, use, 16)
        assert scores[use.name] == pooled_iou([p > 0.5 for p in alone], masks), use.name
    assert len(set(scores.values())) > 2


def test_a_two_stage_ensemble_averages_its_members_maps_at_each_image_size():
    images, _, _ = lesion_scene(1, n=3)
    stage1 = [random_segmenter(1), random_segmenter(2)]
    zooms = [random_segmenter(3), None]
    use = ZoomUse("all", 0.3, 1)
    ensemble = TwoStageEnsemble(stage1, zooms, [use, None], 16)
    maps = ensemble.member_maps(images)
    assert [m.shape for m in maps] == [(2, *image.shape) for image in images]
    small = np.stack([resize_image(image, 16) for image in images])
    plain = [probability_maps(predict_seg_logits(model, small, progress=False), [i.shape for i in images])
             for model in stage1]
    refined = zoom_probabilities(zooms[0], images, plain[0], use, 16)
    for k in range(len(images)):
        assert np.allclose(maps[k][0], refined[k]) and np.allclose(maps[k][1], plain[1][k])
        assert np.array_equal(ensemble.masks(images)[k], maps[k].mean(0) > 0.5)
    alone = TwoStageEnsemble(stage1, [], [], 16)   # no second stages at all: every member's stage 1
    assert alone.zooms == [None, None] and alone.uses == [None, None]
    for k, member_maps in enumerate(alone.member_maps(images)):
        assert np.allclose(member_maps[0], plain[0][k]) and np.allclose(member_maps[1], plain[1][k])


def test_a_two_stage_ensemble_refuses_members_without_their_second_stage():
    with pytest.raises(ValueError, match="one stage 2 and one use per stage-1 member"):
        TwoStageEnsemble([random_segmenter(0)] * 2, [None], [None], 16)
    with pytest.raises(ValueError, match=r"members \[0\] have a zoom use but no stage 2"):
        TwoStageEnsemble([random_segmenter(0)], [None], [ZOOM_USES[0]], 16)
