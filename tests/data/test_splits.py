"""Grouped folds never split a group; random splits follow the papers' ratios."""

import numpy as np
import pandas as pd
import pytest

from buslib.data.splits import grouped_folds, make_split_table, random_split, split_leakage


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    labels = rng.choice(["benign", "malignant", "normal"], size=300, p=[0.56, 0.27, 0.17])
    groups = rng.integers(0, 200, size=300)
    return pd.DataFrame({"image_id": [f"i{i}" for i in range(300)], "label": labels, "group": groups})


def test_grouped_folds_keep_groups_whole_and_balance_labels(frame):
    folds = grouped_folds(frame, n_folds=5, seed=0)
    assert set(folds) == set(range(5))
    assert (frame.assign(fold=folds).groupby("group")["fold"].nunique() == 1).all()
    shares = pd.crosstab(folds, frame["label"], normalize="index")
    assert (shares.max() - shares.min()).max() < 0.15


def test_grouped_folds_are_deterministic(frame):
    assert grouped_folds(frame, 5, seed=7).equals(grouped_folds(frame, 5, seed=7))
    assert not grouped_folds(frame, 5, seed=7).equals(grouped_folds(frame, 5, seed=8))


def test_random_split_ratios(frame):
    split = random_split(frame, {"train": 11, "val": 1, "test": 3}, seed=0)
    counts = split.value_counts()
    assert counts["train"] == pytest.approx(300 * 11 / 15, abs=3)
    assert counts["test"] == pytest.approx(300 * 3 / 15, abs=3)


def test_split_table_and_leakage(frame):
    table = make_split_table(frame, 3, 0, {"split_li_seg": {"train": 12, "test": 3}})
    assert split_leakage(table, "fold") == 0
    assert split_leakage(table, "split_li_seg") > 0


def test_bad_arguments():
    frame = pd.DataFrame({"label": ["a", "b"], "group": [0, 1]})
    with pytest.raises(ValueError, match="n_folds"):
        grouped_folds(frame, 1, 0)
    with pytest.raises(ValueError, match="ratios"):
        random_split(frame, {"train": 1}, 0)
