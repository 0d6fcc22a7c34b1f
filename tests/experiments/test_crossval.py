"""Cross-validation of classifiers: pooled out-of-fold metrics with each fold's own thresholds, and the
fold ensembles notebook 04 builds from them."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from buslib.experiments.crossval import choose_by_validation, oof_table, out_of_fold
from buslib.experiments.external import FoldEnsemble, fold_ensembles


def fold_run(fold: int, ids: list[int], y: list[int], prob: list[float], threshold: float, valid_auc: float = 0.5):
    test = pd.DataFrame({"image_id": [f"i{i}" for i in ids], "group": ids, "y": y,
                         "prob_benign": 1 - np.array(prob), "prob_malignant": prob})
    return SimpleNamespace(split=f"f{fold}", test=test, valid=test, threshold=threshold, triage_threshold=threshold / 2,
                           model_name="m", init="imagenet", task="binary", tta=False,
                           metrics={"auc": 1.0, "valid_auc": valid_auc})


def test_out_of_fold_decides_each_image_at_its_own_folds_threshold():
    first = fold_run(0, [0, 1, 2, 3], [1, 1, 0, 0], [0.9, 0.6, 0.5, 0.1], threshold=0.55)
    second = fold_run(1, [4, 5, 6, 7], [1, 1, 0, 0], [0.4, 0.35, 0.3, 0.05], threshold=0.32)
    pooled = out_of_fold([first, second], n_resamples=50)
    assert pooled["accuracy"] == 1.0 and pooled["recall"] == 1.0   # one pooled threshold could not do this
    assert pooled["images"] == 8 and pooled["folds"] == 2
    assert pooled["auc_ci_low"] <= pooled["auc"] <= pooled["auc_ci_high"]
    table = oof_table([[first, second]])
    assert table.loc[0, "key"] == "m_binary_oof_pretrained" and table.loc[0, "images"] == 8
    with pytest.raises(ValueError, match="more than one test fold"):
        out_of_fold([first, first])


def test_models_are_chosen_for_cross_validation_by_validation_auc_never_test_auc():
    runs = [fold_run(0, [0], [1], [0.9], 0.5, valid_auc=v) for v in (0.7, 0.9, 0.8)]
    for run, name in zip(runs, "abc"):
        run.model_name, run.split = name, "grouped"
    assert [r.model_name for r in choose_by_validation(runs, 2)] == ["b", "c"]


def member(split: str, threshold: float, prob: list[float]):
    return SimpleNamespace(split=split, model_name="m", init="imagenet", threshold=threshold,
                           triage_threshold=threshold / 2, predict=lambda images: np.array(prob))


def test_a_fold_ensemble_averages_its_members_and_takes_their_median_threshold():
    members = (member("grouped", 0.2, [0.1, 0.9]), member("grouped_f1", 0.4, [0.3, 0.7]),
               member("grouped_f2", 0.9, [0.2, 0.8]))
    ensemble = FoldEnsemble("m_binary_ensemble_imagenet", "m", "imagenet", members)
    np.testing.assert_allclose(ensemble.predict(np.zeros((2, 4, 4))), [0.2, 0.8])
    assert ensemble.threshold == 0.4 and ensemble.triage_threshold == 0.2
    built = fold_ensembles([*members, member("li_11_1_3", 0.5, [0, 1])])
    assert len(built) == 1 and len(built[0].members) == 3 and built[0].key == "m_binary_ensemble_imagenet"


def test_review_flags_images_where_the_fold_models_disagree_at_a_level_set_on_busi():
    from buslib.experiments.external import disagreement_review
    from buslib.experiments.member_predictions import MemberPredictions

    def reads_row(row: int, split: str):   # the "images" here are the members' probabilities already
        return SimpleNamespace(key=split, split=split, threshold=0.5, predict=lambda images: np.asarray(images)[row])

    ensemble = FoldEnsemble("k", "m", "imagenet", (reads_row(0, "grouped"), reads_row(1, "grouped_f1")))
    busi = np.array([[0.1, 0.2, 0.8, 0.9] * 5, [0.1, 0.2, 0.8, 0.9] * 4 + [0.1, 0.2, 0.3, 0.9]])  # one disagreement
    external = np.array([[0.9, 0.9, 0.1, 0.2], [0.0, 0.9, 0.1, 0.2]])   # image 0 split (mean 0.45: wrong)
    table, level = disagreement_review(ensemble, MemberPredictions(busi), MemberPredictions(external),
                                       np.array([1, 1, 0, 0]))
    assert 0 <= level < 0.4
    assert table["count"].tolist() == [1, 3] and table["error_rate"].tolist() == [1.0, 0.0]


def cls_run(model_name: str, split: str, test_prob: list[float], valid_prob: list[float]):
    from buslib.experiments.classification import ClsRun

    def table(prob: list[float], offset: int) -> pd.DataFrame:
        return pd.DataFrame({"image_id": [f"i{offset + i}" for i in range(4)], "group": range(4), "y": [1, 1, 0, 0],
                             "prob_benign": 1 - np.array(prob), "prob_malignant": prob})
    return ClsRun(model_name, "binary", split, "imagenet", "liu", 1, None, pd.DataFrame(), 0.5, table(test_prob, 0),
                  table(valid_prob, 10), False, 0.5, {"auc": 0.5}, None, 1.0, 1.0, 1.0)


def test_averaged_folds_average_each_fold_and_choose_its_thresholds_again_on_validation():
    from buslib.experiments.crossval import averaged_folds
    a = [cls_run("a", "grouped", [0.9, 0.2, 0.6, 0.1], [0.8, 0.7, 0.3, 0.2])]
    b = [cls_run("b", "grouped", [0.5, 0.8, 0.1, 0.4], [0.6, 0.7, 0.4, 0.1])]
    [mean] = averaged_folds([a, b])
    assert mean.model_name == "a_and_b" and mean.split == "grouped"
    np.testing.assert_allclose(mean.test["prob_malignant"], [0.7, 0.5, 0.35, 0.25])
    assert mean.metrics["auc"] == 1.0 and a[0].test["prob_malignant"].iloc[1] == 0.2   # the parts are untouched
    assert 0.3 < mean.threshold <= 0.7 and mean.metrics["valid_auc"] == 1.0
    assert oof_table([a, b, [mean]]).loc[2, "key"] == "a_and_b_binary_oof_pretrained"
    with pytest.raises(ValueError, match="out of step"):
        averaged_folds([a, [cls_run("b", "grouped_f1", [0.5] * 4, [0.5] * 4)]])


def test_notebook_03s_average_is_rebuilt_by_name_from_every_fold_model_whatever_the_initialisation():
    from buslib.experiments.external import named_average
    first = FoldEnsemble("a_binary_ensemble_imagenet", "a", "imagenet",
                         (member("grouped", 0.2, [0.1, 0.9]), member("grouped_f1", 0.4, [0.3, 0.7])))
    second = FoldEnsemble("b_binary_ensemble", "b", "scratch",
                          (member("grouped", 0.6, [0.5, 0.5]), member("grouped_f1", 0.8, [0.5, 0.5])))
    both = named_average("b_and_a", "scratch_and_imagenet", [first, second])   # 03's order and label
    assert both.key == "b_and_a_binary_ensemble" and both.members == second.members + first.members
    np.testing.assert_allclose(both.predict(np.zeros((2, 4, 4))), [0.35, 0.65])
    with pytest.raises(ValueError, match="no fold ensemble of \\['c'\\]"):
        named_average("a_and_c", "imagenet", [first, second])
    with pytest.raises(ValueError, match="two fold ensembles named 'a'"):
        named_average("a_and_b", "imagenet", [first, second, FoldEnsemble("k", "a", "scratch", first.members)])


def test_an_average_of_imagenet_and_scratch_models_says_so_in_its_initialisation():
    from buslib.experiments.crossval import averaged_folds
    a = [cls_run("a", "grouped", [0.9, 0.2, 0.6, 0.1], [0.8, 0.7, 0.3, 0.2])]
    b = [replace(cls_run("b", "grouped", [0.5, 0.8, 0.1, 0.4], [0.6, 0.7, 0.4, 0.1]), init="scratch")]
    [mean] = averaged_folds([a, b])
    assert mean.init == "imagenet_and_scratch" and oof_table([[mean]]).loc[0, "key"] == "a_and_b_binary_oof_mixed"
    assert averaged_folds([a, a])[0].init == "imagenet"


def test_candidates_join_the_average_one_at_a_time_only_where_pooled_validation_auc_rises():
    from buslib.experiments.crossval import averages_by_validation, pooled_validation_auc
    a = [cls_run("a", "grouped", [0.9, 0.2, 0.6, 0.1], [0.8, 0.6, 0.7, 0.2])]      # validation AUC 0.75
    b = [cls_run("b", "grouped", [0.5, 0.8, 0.1, 0.4], [0.6, 0.4, 0.5, 0.1])]      # the pair: 0.75
    helps = [cls_run("c", "grouped", [0.1, 0.1, 0.9, 0.9], [0.9, 0.9, 0.1, 0.1])]  # right on validation only
    hurts = [cls_run("d", "grouped", [0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9])]  # right on test only
    assert pooled_validation_auc(a) == 0.75
    assert [r[0].model_name for r in averages_by_validation([a, b])] == ["a_and_b"]
    assert [r[0].model_name for r in averages_by_validation([a, b], [helps])] == ["a_and_b", "a_and_b_and_c"]
    assert [r[0].model_name for r in averages_by_validation([a, b], [hurts])] == ["a_and_b"]
    assert [r[0].model_name for r in averages_by_validation([a, b], [hurts, helps])] == ["a_and_b", "a_and_b_and_c"]
    again = [cls_run("e", "grouped", [0.1, 0.1, 0.9, 0.9], [0.9, 0.9, 0.1, 0.1])]  # as good as c, once c is in
    forward = averages_by_validation([a, b], [hurts, again, helps])   # the best first, then only while one raises it
    assert [r[0].model_name for r in forward] == ["a_and_b", "a_and_b_and_e"]
    assert pooled_validation_auc(forward[1]) == 1.0
    assert averages_by_validation([a], [helps]) == []
    with pytest.raises(ValueError, match="more than one validation fold"):
        pooled_validation_auc([a[0], a[0]])
