"""A classifier trained end to end with each paper's recipe, thresholds frozen, and the external-test guard."""

import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest

from buslib.data.splits import fold_roles, paper_roles
from buslib.experiments.classification import (
    prepare_task,
    results_table,
    run_classifier,
    run_with_hub_weights,
    save_run,
)
from buslib.experiments.external import (
    FrozenClassifier,
    errors_by_diagnosis,
    evaluate_external,
    internal_vs_external,
    load_frozen_classifiers,
    rank_by_internal_auc,
)
from buslib.models.standardise import standardises_inputs
from buslib.train.classification import classifier_recipe, get_cls_recipe


@pytest.fixture
def bright_lesions():
    """Malignant images are brighter in the middle: learnable in one epoch."""
    rng = np.random.default_rng(0)
    labels = np.array(["benign", "malignant"] * 20)
    images = rng.integers(0, 80, (40, 32, 32)).astype(np.uint8)
    images[labels == "malignant", 10:22, 10:22] += 150
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(40)], "label": labels, "group": np.arange(40) // 2,
                          "fold": np.arange(40) // 2 % 4, "in_classification": True,
                          "split_li_cls": ["train"] * 28 + ["val"] * 4 + ["test"] * 8,
                          "split_liu_cls": ["train"] * 28 + ["val"] * 12})
    return frame, images


@pytest.mark.parametrize("model_name", ["mobilenetv2", "resnet34"])  # Liu's recipe (Mixup) and Li's
def test_run_classifier_trains_chooses_a_threshold_on_validation_and_scores_the_test_part(bright_lesions, tmp_path,
                                                                                           model_name):
    frame, images = bright_lesions
    data = prepare_task(frame, images, "binary", n_folds=4, seed=0)
    run = run_classifier(model_name, "binary", "grouped", data.frame, data.roles["grouped"], data.images,
                         data.targets, epochs=1, workdir=tmp_path, n_resamples=50)
    assert run.recipe == ("liu" if model_name == "mobilenetv2" else "li")
    assert 0 <= run.threshold <= 1 and len(run.test) == 10
    assert set(run.metrics) >= {"accuracy", "auc", "specificity", "ece", "brier"}
    assert run.ci.loc["accuracy", "low"] <= run.metrics["accuracy"] <= run.ci.loc["accuracy", "high"]
    table = results_table([run])
    assert table.loc[0, "init"] == "scratch" and table.loc[0, "train_img_per_s"] > 0
    row = save_run(run, tmp_path / "checkpoints")
    assert (tmp_path / "checkpoints" / row["checkpoint"]).is_file()


@pytest.mark.parametrize("model_name", ["mobilenetv2", "resnet34"])  # cosine schedule and ReduceLROnPlateau
def test_unmonitored_runs_skip_the_per_epoch_validation_unless_the_schedule_reads_it(bright_lesions, tmp_path,
                                                                                     model_name):
    frame, images = bright_lesions
    data = prepare_task(frame, images, "binary", n_folds=4, seed=0)
    run = run_classifier(model_name, "binary", "grouped", data.frame, data.roles["grouped"], data.images,
                         data.targets, epochs=1, workdir=tmp_path, n_resamples=50, monitor=False)
    assert run.history["valid_loss"].isna().all() == (model_name == "mobilenetv2")
    assert len(run.valid) > 0 and 0 <= run.metrics["valid_auc"] <= 1


def test_split_roles():
    roles = fold_roles([0, 1, 2, 3, 0], test_fold=3, n_folds=4)
    assert roles.tolist() == ["valid", "train", "train", "test", "valid"]
    with pytest.raises(ValueError, match="test_fold"):
        fold_roles([0], 4, 4)
    li = paper_roles(["train"] * 8 + ["val", "test"], seed=0)
    assert li.tolist()[-2:] == ["valid", "test"]
    liu = paper_roles(["train"] * 10 + ["val"] * 4, seed=0)
    assert (liu == "test").sum() == 4 and (liu == "valid").sum() == 1
    with pytest.raises(ValueError, match="unknown split parts"):
        paper_roles(["train", "holdout"], 0)


def test_recipes_follow_the_papers():
    li, liu = get_cls_recipe("li"), get_cls_recipe("liu")
    assert (li.lr, li.batch_size, li.schedule, li.mixup_alpha) == (1e-4, 16, "plateau", None)
    assert (liu.lr, liu.weight_decay, liu.batch_size, liu.schedule) == (1e-3, 1e-4, 32, "cosine")
    assert liu.label_smoothing > 0 and liu.mixup_alpha


def test_only_imagenet_started_benign_malignant_classifiers_under_liu_add_photometric_augmentation_and_standardise():
    adopted = classifier_recipe("liu", "binary", pretrained=True)
    assert adopted.augment == "liu_photometric" and adopted.standardise
    assert dataclasses.replace(adopted, name="liu", augment="liu", standardise=False) == get_cls_recipe("liu")
    for recipe, task, pretrained in (("liu", "binary", False), ("liu", "three_class", True),
                                     ("liu", "lesion", True), ("li", "binary", True)):
        assert classifier_recipe(recipe, task, pretrained) == get_cls_recipe(recipe)


def test_the_adopted_recipe_standardises_inside_the_imagenet_started_network_only(bright_lesions, tmp_path):
    frame, images = bright_lesions
    data = prepare_task(frame, images, "binary", n_folds=4, seed=0)
    for pretrained in (True, False):
        run = run_classifier("mobilenetv2", "binary", "grouped", data.frame, data.roles["grouped"], data.images,
                             data.targets, epochs=1, workdir=tmp_path, pretrained=pretrained, n_resamples=10,
                             monitor=False)
        assert standardises_inputs(run.model.state_dict()) == pretrained
        assert run.recipe == ("liu_photometric_standardised" if pretrained else "liu")


def test_hub_variants_are_reported_as_not_run_when_switched_off(bright_lesions, tmp_path):
    frame, images = bright_lesions
    data = prepare_task(frame, images, "binary", n_folds=4, seed=0)
    runs, note = run_with_hub_weights(["resnet34"], data, "grouped", 1, tmp_path, use_hub=False)
    assert runs == [] and note.startswith("not run")


def test_frozen_classifiers_cannot_be_retuned_on_the_external_set():
    assert "threshold" not in inspect.signature(evaluate_external).parameters
    frozen = FrozenClassifier("k", "alexnet", "grouped", "scratch", 0.3, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.threshold = 0.5


def test_missing_notebook_03_outputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 03 first"):
        load_frozen_classifiers(tmp_path, 64)


def test_internal_vs_external_drop_and_ranking():
    internal = pd.DataFrame({"model": ["a", "b"], "init": ["scratch", "imagenet"], "split": ["grouped"] * 2,
                             "accuracy": [0.9, 0.8], "recall": [0.8, 0.7], "specificity": [0.9, 0.9],
                             "auc": [0.95, 0.97]})
    external = pd.DataFrame({"key": ["a_binary_grouped", "b_binary_grouped_imagenet"], "model": ["a", "b"],
                             "init": ["scratch", "imagenet"], "split": ["grouped"] * 2, "accuracy": [0.6, 0.8],
                             "recall": [0.5, 0.7], "specificity": [0.7, 0.9], "auc": [0.7, 0.9]})
    drop = internal_vs_external(internal, external)
    assert drop["auc_drop"].round(3).tolist() == [0.25, 0.07]
    frozen = [FrozenClassifier(k, m, "grouped", i, 0.5, None)
              for k, m, i in zip(external["key"], "ab", external["init"])]
    assert [c.model_name for c in rank_by_internal_auc(frozen, internal)] == ["b", "a"]


def test_errors_by_diagnosis():
    frame = pd.DataFrame({"diagnosis": ["CYST", "CYST", "IDC"], "label": ["benign", "benign", "malignant"]})
    table = errors_by_diagnosis(frame, np.array([0, 0, 1]), {"m": np.array([0.9, 0.1, 0.2])}, {"m": 0.5})
    assert table.set_index("diagnosis").loc["CYST", "m"] == 0.5 and table.set_index("diagnosis").loc["IDC", "m"] == 1.0


def test_initialisation_is_imagenet_only_where_weights_can_be_had():
    from buslib.experiments.classification import initialisation

    assert initialisation("rcdnet", use_hub=False) is True
    assert initialisation("resnet34", use_hub=False) is False
    assert initialisation("resnet34", use_hub=True) is True
