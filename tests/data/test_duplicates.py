"""Near-duplicate grouping, label conflicts and exact duplicates."""

import numpy as np
import pandas as pd

from buslib.data.cohort import build_cohort, load_full_resolution
from buslib.data.duplicates import DuplicateRule, assign_groups, exact_duplicates, label_conflicts, near_duplicate_pairs
from buslib.data.phantom import synth_image
from buslib.data.readers import read_busi


def test_shifted_recapture_is_grouped_and_unrelated_images_are_not(phantom_root):
    frame = read_busi(phantom_root)
    images, _ = load_full_resolution(frame, progress=False)
    pairs = near_duplicate_pairs(frame, images)
    twin = frame["image_id"].iloc[frame.query("label == 'benign'").index.max()]
    assert {("benign (1)", twin)} <= set(zip(pairs["image_a"], pairs["image_b"])) | set(
        zip(pairs["image_b"], pairs["image_a"]))
    groups = assign_groups(frame, pairs)
    ids = frame["image_id"].tolist()
    assert groups[ids.index("benign (1)")] == groups[ids.index(twin)]
    assert groups.nunique() >= len(frame) - 3


def test_rule_thresholds():
    rule = DuplicateRule()
    corr = np.array([0.96, 0.5, 0.94, 0.94, 0.9])
    dist = np.array([40, 10, 18, 19, 11])
    assert rule.matches(corr, dist).tolist() == [True, True, True, False, False]


def test_groups_are_transitive_components():
    frame = pd.DataFrame({"image_id": list("abcde"), "label": ["x"] * 5})
    pairs = pd.DataFrame({"image_a": ["a", "b", "d"], "image_b": ["b", "c", "e"]})
    assert assign_groups(frame, pairs).tolist() == [0, 0, 0, 1, 1]


def test_label_conflicts_list_groups_with_two_labels():
    frame = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "label": ["benign", "malignant", "benign", "benign"],
                          "group": [0, 0, 1, 1]})
    conflicts = label_conflicts(frame)
    assert conflicts["group"].tolist() == [0]
    assert conflicts["labels"].iloc[0] == ["benign", "malignant"]


def test_cross_label_copy_is_excluded_from_classification(phantom_copy):
    folder = phantom_copy / "Dataset_BUSI_with_GT"
    for suffix in (".png", "_mask.png"):
        (folder / "malignant" / f"malignant (11){suffix}").write_bytes(
            (folder / "benign" / f"benign (5){suffix}").read_bytes())
    frame = read_busi(phantom_copy)
    images, _ = load_full_resolution(frame, progress=False)
    cohort = build_cohort(frame, images, n_folds=3, seed=0)
    excluded = set(cohort.table.loc[~cohort.table["in_classification"], "image_id"])
    assert {"benign (5)", "malignant (11)"} <= excluded
    assert exact_duplicates(frame)[["image_a", "image_b"]].values.tolist() == [["benign (5)", "malignant (11)"]]


def test_independent_phantom_images_are_not_duplicates():
    rng = np.random.default_rng(3)
    images = [synth_image(rng, "benign", 180, 240)[0] for _ in range(6)]
    frame = pd.DataFrame({"image_id": [str(i) for i in range(6)], "label": ["benign"] * 6})
    assert near_duplicate_pairs(frame, images).empty
