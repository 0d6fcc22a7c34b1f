"""Notebook 02's U2-Nets loaded back from a report folder: one by fold, averaged, or absent."""

import numpy as np
import torch

from buslib.experiments.segmentation import half_state
from buslib.experiments.segmenters import (
    load_crop_segmenters,
    load_fold_segmenters,
    load_segmenter_ensemble,
    load_two_stage_ensemble,
)
from buslib.experiments.zoom import ZoomUse
from buslib.models.u2net import U2Net


def test_fold_segmenters_come_back_by_split_with_their_own_weights_and_average_into_the_ensemble(tmp_path):
    assert load_fold_segmenters(tmp_path) is None and load_segmenter_ensemble(tmp_path, 32) is None
    torch.manual_seed(0)
    saved = {split: U2Net("u2netp") for split in ("grouped", "grouped_f1")}
    (tmp_path / "checkpoints").mkdir()
    torch.save({split: half_state(model) for split, model in saved.items()},
               tmp_path / "checkpoints" / "02_u2netp_folds.pth")
    folds = load_fold_segmenters(tmp_path)
    assert list(folds) == ["grouped", "grouped_f1"] and not any(model.training for model in folds.values())
    for split, model in folds.items():
        expected = saved[split].state_dict()
        assert all(torch.allclose(value, expected[name].half().float()) for name, value in model.state_dict().items()
                   if value.is_floating_point())
    ensemble = load_segmenter_ensemble(tmp_path, 32)
    weight = "encoder.0.conv_in.0.weight"
    assert [torch.equal(member.state_dict()[weight], model.state_dict()[weight])
            for member, model in zip(ensemble.stage1, folds.values())] == [True, True]
    assert ensemble.zooms == [None, None] and ensemble.uses == [None, None] and ensemble.size == 32
    image = np.random.default_rng(0).integers(0, 255, (40, 52)).astype(np.uint8)
    maps = ensemble.member_maps([image])[0]   # each fold's map alone at the image's own size
    assert maps.shape == (2, 40, 52) and not np.allclose(maps[0], maps[1])
    assert np.array_equal(ensemble.masks([image])[0], maps.mean(0) > 0.5)


def test_crop_segmenters_take_test_fold_0s_full_precision_model_and_the_other_folds_copies(tmp_path):
    assert load_crop_segmenters(tmp_path) == {}
    torch.manual_seed(0)
    fold0, fold1 = U2Net("u2netp"), U2Net("u2netp")
    (tmp_path / "checkpoints").mkdir()
    torch.save({"grouped": half_state(fold0), "grouped_f1": half_state(fold1)},
               tmp_path / "checkpoints" / "02_u2netp_folds.pth")
    weight = "encoder.0.conv_in.0.weight"
    assert torch.equal(load_crop_segmenters(tmp_path)["grouped"].state_dict()[weight],
                       fold0.state_dict()[weight].half().float())
    torch.save(fold0.state_dict(), tmp_path / "02_u2netp_grouped.pth")
    segmenters = load_crop_segmenters(tmp_path)
    assert sorted(segmenters) == ["grouped", "grouped_f1"]
    expected = fold0.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in segmenters["grouped"].state_dict().items())


def test_the_two_stage_ensemble_comes_back_with_each_folds_second_stage_and_use_in_fold_order(tmp_path):
    torch.manual_seed(0)
    stage1 = {split: U2Net("u2netp") for split in ("grouped", "grouped_f1")}
    stage2 = {split: U2Net("u2netp") for split in ("grouped_f1", "grouped")}   # saved in another order
    uses = {"grouped": "stage1_only", "grouped_f1": "all_box_margin0.3_passes2"}
    (tmp_path / "checkpoints").mkdir()
    torch.save({split: half_state(model) for split, model in stage1.items()},
               tmp_path / "checkpoints" / "02_u2netp_folds.pth")
    assert load_two_stage_ensemble(tmp_path, 64) is None   # no second stage saved
    torch.save({split: {"state": half_state(model), "use": uses[split]} for split, model in stage2.items()},
               tmp_path / "checkpoints" / "02_u2netp_zoom_folds.pth")
    ensemble = load_two_stage_ensemble(tmp_path, 64)
    assert ensemble.size == 64 and ensemble.uses == [None, ZoomUse("all", 0.3, 2)]
    weight = "encoder.0.conv_in.0.weight"
    for member, zoom, split in zip(ensemble.stage1, ensemble.zooms, ("grouped", "grouped_f1")):
        assert torch.equal(member.state_dict()[weight], stage1[split].state_dict()[weight].half().float())
        assert torch.equal(zoom.state_dict()[weight], stage2[split].state_dict()[weight].half().float())
        assert not member.training and not zoom.training
