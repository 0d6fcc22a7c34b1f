"""Seeding per run: the same run gives the same weights, whatever ran before it."""

import random

import numpy as np
import pytest
import torch

from buslib.data.loaders import build_dataloaders
from buslib.train.callbacks import SkipValidation, history
from buslib.train.classification import cls_learner, get_cls_recipe
from buslib.train.fitting import fit, lookup_recipe, run_seed, seed_run


def tiny_learner(key: str, *cbs) -> torch.nn.Module:
    """A small CNN trained for two epochs with Liu's recipe (shuffling, augmentation, Mixup, dropout)."""
    seed_run(key, seed=0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (24, 32, 32), dtype=np.uint8)
    targets = np.array([0, 1] * 12)
    dls = build_dataloaders(images, targets, np.arange(16), np.arange(16, 24), "liu", batch_size=4,
                            device=torch.device("cpu"))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    learn = cls_learner(model, dls, get_cls_recipe("liu"), 2, path=".", bf16=False)
    learn.add_cbs(cbs)
    with learn.no_bar(), learn.no_logging():
        fit(learn, get_cls_recipe("liu"), 2)
    return learn


def tiny_training(key: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in tiny_learner(key).model.state_dict().items()}


def test_two_identical_tiny_trainings_give_identical_weights():
    first = tiny_training("tiny_binary_grouped")
    random.random(), np.random.rand(), torch.rand(1)  # what an earlier model would have drawn
    tiny_training("another_model")
    again = tiny_training("tiny_binary_grouped")
    assert all(torch.equal(first[k], again[k]) for k in first)
    other = tiny_training("tiny_binary_li_11_1_3")
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_skipped_validation_leaves_training_losses_and_nan_validation_columns():
    curve = history(tiny_learner("tiny_binary_grouped", SkipValidation()))
    assert list(curve["epoch"]) == [1, 2] and curve["train_loss"].notna().all()
    assert curve[["valid_loss", "accuracy", "roc_auc_score"]].isna().all().all()
    validated = history(tiny_learner("tiny_binary_grouped"))
    assert validated[["valid_loss", "accuracy"]].notna().all().all()


def test_run_seeds_depend_on_key_and_study_seed_only():
    assert run_seed("a") == run_seed("a") != run_seed("b")
    assert run_seed("a", 1) != run_seed("a", 0) and 0 <= run_seed("a") < 2**31


def test_unknown_recipe_and_schedule_are_named():
    with pytest.raises(ValueError, match="unknown classification recipe 'fast'"):
        lookup_recipe({"li": 1}, "fast", "classification")
