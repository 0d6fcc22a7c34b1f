"""U2-Net training pieces: deep-supervision loss, the IoU metric, resizing predictions, scoring, a real fit."""

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.learner import Learner

from buslib.data.loaders import build_dataloaders
from buslib.eval.segmentation import score_cases, summarise_cases
from buslib.experiments.segmentation import ranked_cases, run_segmentation
from buslib.infer import masks_at_original_size
from buslib.models.size import model_size
from buslib.models.u2net import u2netp
from buslib.train.losses import DeepSupervisionLoss, FusedIoU, batch_dice_loss, soft_dice_loss
from buslib.train.segmentation import get_seg_recipe, seg_learner


def test_soft_dice_is_zero_for_a_confident_perfect_prediction_and_near_one_for_the_opposite():
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 50
    assert soft_dice_loss(perfect, target).item() == pytest.approx(0, abs=1e-3)
    assert soft_dice_loss(-perfect, target).item() > 0.95


def test_deep_supervision_sums_the_fused_map_and_six_sides():
    target = torch.zeros(1, 1, 8, 8)
    target[..., :4, :] = 1
    logits = torch.randn(1, 1, 8, 8)
    single = soft_dice_loss(logits, target).item()
    seven = logits.repeat(1, 7, 1, 1)
    assert DeepSupervisionLoss("dice")(seven, target).item() == pytest.approx(7 * single, rel=1e-5)
    assert DeepSupervisionLoss("dice_bce")(seven, target).item() > 7 * single
    with pytest.raises(ValueError, match="unknown segmentation loss 'focal'"):
        DeepSupervisionLoss("focal")


def test_batch_dice_weighs_pixels_not_images_so_a_few_false_pixels_on_a_normal_image_cost_little():
    target = torch.zeros(2, 1, 16, 16)
    target[0, :, 2:14, 2:14] = 1                     # a large lesion, outlined perfectly
    logits = (target * 2 - 1) * 50
    logits[1, :, 0, :2] = 50                         # two false pixels on a normal image
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 / 3, abs=0.01)  # (0 + 1 - 1/3) / 2
    assert batch_dice_loss(logits, target).item() == pytest.approx(2 / (2 * 144 + 2 + 1), abs=1e-3)
    seven = logits.repeat(1, 7, 1, 1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target).item()
    assert DeepSupervisionLoss("batch_dice_bce")(seven, target).item() == pytest.approx(
        7 * (batch_dice_loss(logits, target).item() + bce), rel=1e-5)


def test_fused_iou_pools_intersection_and_union_over_batches():
    metric = FusedIoU()
    metric.reset()

    class Batch:
        def __init__(self, pred, y):
            self.pred, self.y = pred, y

    y = torch.zeros(1, 1, 2, 2)
    y[..., 0, :] = 1                         # 2 lesion pixels
    pred = torch.full((1, 7, 2, 2), -5.0)
    pred[:, 0, 0, 0] = 5                      # 1 hit, no false positive
    metric.accumulate(Batch(pred, y))
    pred2 = torch.full((1, 7, 2, 2), 5.0)     # 2 hits, 2 false positives
    metric.accumulate(Batch(pred2, y))
    assert metric.value == pytest.approx((1 + 2) / (2 + 4))


def test_predictions_are_upsampled_to_each_original_size_and_thresholded_at_zero():
    logits = np.full((2, 4, 4), -1.0, np.float32)
    logits[:, :2, :] = 1.0
    masks = masks_at_original_size(logits, [(8, 12), (20, 6)])
    assert [m.shape for m in masks] == [(8, 12), (20, 6)]
    assert masks[0][:3].all() and not masks[0][5:].any()
    with pytest.raises(ValueError, match="2 logit maps but 1 image shapes"):
        masks_at_original_size(logits, [(8, 8)])


def test_unknown_recipe():
    assert get_seg_recipe("li").optimizer == "sgd" and get_seg_recipe("li").weight_decay == 5e-4
    with pytest.raises(ValueError, match="unknown segmentation recipe 'adam'"):
        get_seg_recipe("adam")


def test_summary_keeps_empty_masks_out_of_the_lesion_metrics():
    lesion = np.zeros((4, 4), bool)
    lesion[:2, :2] = True
    empty = np.zeros((4, 4), bool)
    cases = score_cases(["a", "b", "c"], [lesion, lesion, empty | lesion], [lesion, empty, empty])
    summary = summarise_cases(cases)
    assert summary["lesion_images"] == 1 and summary["iou"] == 1.0 and summary["dice_mean"] == 1.0
    assert summary["empty_false_positive_rate"] == 1.0 and summary["lesion_detection_rate"] == 1.0
    missed = summarise_cases(score_cases(["a", "b"], [empty, lesion], [lesion, lesion]))
    assert missed["lesion_detection_rate"] == 0.5
    with pytest.raises(ValueError, match="no image with a lesion"):
        summarise_cases(cases[cases["true_empty"]])


def test_ranked_cases_picks_best_median_worst():
    cases = pd.DataFrame({"image_id": list("abcdefg"), "dice": [0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.8],
                          "true_empty": False})
    ranked = ranked_cases(cases, per_rank=1)
    assert ranked["rank"].tolist() == ["best", "median", "worst"]
    assert cases.loc[ranked.index, "image_id"].tolist() == ["b", "c", "a"]


def test_model_size_of_u2netp_matches_the_paper():
    size = model_size(u2netp())
    assert size["params_m"] == pytest.approx(1.13, abs=0.01) and size["size_mb"] == pytest.approx(4.55, abs=0.05)


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    masks = np.zeros((12, 32, 32), np.uint8)
    for i in range(12):
        r, c = rng.integers(6, 20, 2)
        masks[i, r:r + 8, c:c + 8] = 1
    images = (masks * 150 + rng.integers(0, 60, masks.shape)).astype(np.uint8)
    return images, masks


def test_a_fastai_learner_fits_u2netp_with_the_paper_recipe(blobs, tmp_path):
    images, masks = blobs
    recipe = get_seg_recipe("li")
    dls = build_dataloaders(images, masks, np.arange(8), np.arange(8, 12), "none", recipe.batch_size)
    learn = seg_learner(u2netp(), dls, recipe, tmp_path)
    assert isinstance(learn, Learner)
    learn.fit(1, recipe.lr)
    assert learn.fit_seconds > 0 and learn.train_images == 8
    assert len(learn.recorder.values) == 1


def test_run_segmentation_scores_every_test_image_at_its_original_size(blobs, tmp_path):
    images, masks = blobs
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(12)], "label": ["benign"] * 10 + ["normal"] * 2,
                          "group": np.arange(12)})
    roles = np.array(["train"] * 6 + ["valid"] * 2 + ["test"] * 4)
    full = [np.kron(m, np.ones((2, 3), np.uint8)).astype(bool) for m in masks[8:]]
    full[2][:] = False
    full[3][:] = False
    run = run_segmentation("u2netp", "grouped", frame, roles, images, masks, full, get_seg_recipe("strong"), 1,
                           tmp_path)
    assert len(run.cases) == 4 and run.cases["true_empty"].tolist() == [False, False, True, True]
    assert [p.shape for p in run.predictions] == [(64, 96)] * 4
    assert 0 <= run.summary["iou"] <= 1 and "empty_false_positive_rate" in run.summary
    assert run.history[["valid_loss", "iou"]].notna().all().all()
    quiet = run_segmentation("u2netp", "grouped", frame, roles, images, masks, full, get_seg_recipe("strong"), 1,
                             tmp_path, monitor=False)   # validation scored once, after training
    assert quiet.history["train_loss"].notna().all() and quiet.history["iou"].isna().all()
    assert 0 <= quiet.valid_iou <= 1 and len(quiet.valid) == 2
    with pytest.raises(ValueError, match="no valid images"):
        run_segmentation("u2netp", "grouped", frame, np.where(roles == "valid", "train", roles), images,
                         masks, full, get_seg_recipe("strong"), 1, tmp_path)


def test_the_detection_threshold_lets_through_at_most_the_chosen_share_of_normal_validation_images():
    from buslib.experiments.segmentation import choose_detection_threshold, lesion_scores
    logits = np.full((12, 4, 4), -6.0)
    logits[:, 0, 0] = np.linspace(-3, 3, 12)      # one confident pixel per image, rising
    scores = lesion_scores(logits)
    assert np.allclose(scores, 1 / (1 + np.exp(-np.linspace(-3, 3, 12))))
    has_lesion = np.arange(12) >= 2               # the two lowest-scoring images are normal
    threshold = choose_detection_threshold(scores, has_lesion, max_normal_fp=0.5)
    assert (scores[~has_lesion] > threshold).mean() <= 0.5 and (scores[has_lesion] > threshold).all()
    assert choose_detection_threshold(scores, has_lesion, max_normal_fp=0.0) == scores[1]  # no normal through
    assert choose_detection_threshold(scores, np.ones(12, bool)) == 0.0   # no normal image: report every one


def test_the_detection_threshold_is_the_conformal_quantile_of_the_validation_normals():
    from buslib.experiments.segmentation import choose_detection_threshold
    normal = np.arange(1, 27) / 100                 # 26 validation normals, scores 0.01 .. 0.26
    scores, has_lesion = np.r_[normal, 0.9], np.r_[np.zeros(26, bool), True]
    # 5%: ceil(27 * 0.95) = 26th lowest, the highest (a new normal passes it with probability 1/27); the plain
    # empirical quantile would take the 2nd highest, which 2 in 27 new normals pass
    assert choose_detection_threshold(scores, has_lesion, max_normal_fp=0.05) == 0.26
    assert choose_detection_threshold(scores, has_lesion, max_normal_fp=0.10) == 0.25   # ceil(24.3) = 25th lowest
    assert choose_detection_threshold(scores[:5], has_lesion[:5], max_normal_fp=0.05) == 0.05  # too few: the highest
    rng = np.random.default_rng(0)                  # on new normal images the aim holds, on average: 2 in 27 pass
    passed = []
    for _ in range(2000):
        valid, new = rng.random(26), rng.random(200)
        passed.append((new > choose_detection_threshold(valid, np.zeros(26, bool), max_normal_fp=0.1)).mean())
    assert abs(np.mean(passed) - 2 / 27) < 0.005


def test_delineation_is_scored_apart_from_detection():
    from buslib.eval.segmentation import score_cases, summarise_cases
    mask = np.pad(np.ones((4, 4), bool), 3)
    found = score_cases(["a", "b", "n"], [mask, mask, mask], [mask, mask, np.zeros_like(mask)],
                        detected=[True, False, False])
    summary = summarise_cases(found)
    assert summary["iou"] == 1.0 and summary["lesion_detection_rate"] == 0.5
    assert summary["empty_false_positive_rate"] == 0.0 and summary["iou_gated"] == 0.5
    with pytest.raises(ValueError, match="3 images but 2 detection flags"):
        score_cases(["a", "b", "n"], [mask] * 3, [mask] * 3, detected=[True, False])


def test_out_of_fold_pools_every_fold_once_and_refuses_an_image_twice():
    from types import SimpleNamespace

    from buslib.eval.segmentation import score_cases
    from buslib.experiments.segmentation import out_of_fold
    masks = [np.pad(np.ones((4, 4), bool), 3) for _ in range(4)]
    runs = [SimpleNamespace(cases=score_cases([f"i{i}", f"i{i + 2}"], [masks[i], masks[i + 2]], masks[i:i + 3:2]))
            for i in range(2)]
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(4)], "group": [0, 0, 1, 2]})
    pooled = out_of_fold(runs, frame)
    assert pooled["iou"] == 1.0 and pooled["lesion_images"] == 4 and pooled["folds"] == 2
    with pytest.raises(ValueError, match="more than one test fold"):
        out_of_fold([runs[0], runs[0]], frame)


def test_detector_folds_keep_each_fold_weights_flip_size_and_pooled_validation_threshold(tmp_path):
    from types import SimpleNamespace

    from buslib.experiments.detectors import detector_folds, load_detector_folds
    model = torch.nn.Linear(2, 2)
    # fold 0 tests a*, validates b*; fold 1 tests b*, validates a*: each fold's threshold is on the other's images
    ids = {"a": ["a0", "a1", "a2", "a3"], "b": ["b0", "b1", "b2", "b3"]}
    scored = {"a": [0.9, 0.8, 0.1, 0.3], "b": [0.9, 0.8, 0.2, 0.6]}
    detectors = [SimpleNamespace(task="lesion", model_name="det", split=split, model=model, tta=tta,
                                 valid=pd.DataFrame({"image_id": ids[valid], "y": [1, 1, 0, 0],
                                                     "prob_lesion": scored[valid]}),
                                 test=pd.DataFrame({"image_id": ids[test]}))
                 for split, tta, valid, test in (("grouped_f1", False, "a", "b"), ("grouped", True, "b", "a"))]
    saved = detector_folds(detectors, 64)
    assert saved["model"] == "det" and saved["size"] == 64 and list(saved["folds"]) == ["grouped_f1", "grouped"]
    assert saved["folds"]["grouped"]["threshold"] == pytest.approx(0.6)     # the highest of b's validation normals
    assert saved["folds"]["grouped_f1"]["threshold"] == pytest.approx(0.3)  # a's
    assert saved["folds"]["grouped"]["tta"] and not saved["folds"]["grouped_f1"]["tta"]
    assert saved["folds"]["grouped_f1"]["state"]["weight"].dtype == torch.float16
    with pytest.raises(ValueError, match="one architecture"):
        detector_folds([detectors[0], SimpleNamespace(**{**vars(detectors[1]), "model_name": "other"})], 64)

    assert "gate" not in saved and "gate_thresholds" not in saved["folds"]["grouped"]  # without the gated runs

    # with notebook 02's gated runs: the chosen gate and every gate's threshold and the segmenter's flip per fold
    def runs(gate: str, thresholds: dict, lesion_scores: list) -> list:
        return [SimpleNamespace(split=split, tta=split == "grouped_f1", detect_threshold=thresholds[split],
                                valid=pd.DataFrame({"score": lesion_scores + [0.1, 0.2],
                                                    "has_lesion": [True, True, False, False]}))
                for split in ("grouped", "grouped_f1")]
    gated = {"segmenter": runs("segmenter", {"grouped": 0.99, "grouped_f1": 0.98}, [0.15, 0.9]),
             "detector": runs("detector", {"grouped": 0.6, "grouped_f1": 0.3}, [0.9, 0.8]),
             "mean": runs("mean", {"grouped": 0.7, "grouped_f1": 0.5}, [0.15, 0.05])}
    with_gate = detector_folds(detectors, 64, gated | {"chosen_on_validation": gated["detector"]})
    assert with_gate["gate"] == "detector"  # it finds both validation lesions above the normals' scores
    assert with_gate["folds"]["grouped_f1"]["gate_thresholds"] == {"segmenter": 0.98, "detector": 0.3, "mean": 0.5}
    assert with_gate["folds"]["grouped_f1"]["segmenter_tta"] and not with_gate["folds"]["grouped"]["segmenter_tta"]
    assert with_gate["folds"]["grouped"]["threshold"] == saved["folds"]["grouped"]["threshold"]
    with pytest.raises(ValueError, match="splits"):
        detector_folds(detectors, 64, gated | {"mean": gated["mean"][:1]})

    path = tmp_path / "detectors.pth"
    assert load_detector_folds(path) is None
    torch.save(saved, path)
    assert list(load_detector_folds(path)["folds"]) == ["grouped", "grouped_f1"]  # test fold 0 first
    torch.save({k: v for k, v in saved.items() if k != "size"}, path)
    with pytest.raises(ValueError, match="run notebook 02 again"):
        load_detector_folds(path)
