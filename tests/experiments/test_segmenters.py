"""Notebook 02's U2-Nets loaded back from a report folder: one by fold, averaged, or absent."""

import torch

from buslib.experiments.segmentation import half_state
from buslib.experiments.segmenters import load_crop_segmenters, load_fold_segmenters, load_segmenter_ensemble
from buslib.models.u2net import U2Net


def test_fold_segmenters_come_back_by_split_with_their_own_weights_and_average_into_the_ensemble(tmp_path):
    assert load_fold_segmenters(tmp_path) is None and load_segmenter_ensemble(tmp_path) is None
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
    ensemble = load_segmenter_ensemble(tmp_path)
    assert len(ensemble.members) == 2 and not ensemble.training


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
