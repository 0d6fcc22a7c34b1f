"""Deterministic splits: stratified group k-fold (leakage-free) and the papers' random splits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

__all__ = ["grouped_folds", "random_split", "make_split_table", "split_leakage", "save_split_table", "fold_roles",
           "fold_split", "split_fold", "paper_roles", "role_rows"]


def grouped_folds(frame: pd.DataFrame, n_folds: int, seed: int, label_col: str = "label",
                  group_col: str = "group") -> pd.Series:
    """Fold number per row: stratified by label, a near-duplicate group never straddles folds."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.full(len(frame), -1, dtype=int)
    for fold, (_, test_idx) in enumerate(splitter.split(frame, frame[label_col], frame[group_col])):
        folds[test_idx] = fold
    return pd.Series(folds, index=frame.index, name="fold")


def random_split(frame: pd.DataFrame, ratios: dict[str, float], seed: int,
                 label_col: str = "label") -> pd.Series:
    """Image-level stratified random split as the papers did, e.g. {'train': 11, 'val': 1, 'test': 3}.

    It ignores near-duplicate groups, so it leaks: kept only to compare with the papers.
    A part too small to hold every class (tiny subsets only) is drawn unstratified.
    """
    names, weights = list(ratios), np.array(list(ratios.values()), dtype=float)
    if len(names) < 2 or (weights <= 0).any():
        raise ValueError(f"ratios need at least two positive parts, got {ratios}")
    assignment = pd.Series("", index=frame.index, name="split", dtype=object)
    remaining = frame.index
    for i, name in enumerate(names[:-1]):
        share = weights[i] / weights[i:].sum()
        try:
            taken, remaining = train_test_split(remaining, train_size=share, random_state=seed,
                                                stratify=frame.loc[remaining, label_col])
        except ValueError:
            taken, remaining = train_test_split(remaining, train_size=share, random_state=seed)
        assignment[taken] = name
    assignment[remaining] = names[-1]
    return assignment


def make_split_table(frame: pd.DataFrame, n_folds: int, seed: int,
                     paper_ratios: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per image: its group, its grouped fold, and one column per paper-style random split."""
    table = frame[["image_id", "label", "group"]].copy()
    table["fold"] = grouped_folds(frame, n_folds, seed)
    for column, ratios in paper_ratios.items():
        table[column] = random_split(frame, ratios, seed)
    return table


def split_leakage(table: pd.DataFrame, split_col: str) -> int:
    """Number of near-duplicate groups whose images land in more than one part of `split_col`."""
    return int((table.groupby("group")[split_col].nunique() > 1).sum())


def save_split_table(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def fold_roles(folds: Sequence[int], test_fold: int, n_folds: int) -> np.ndarray:
    """'test' for `test_fold`, 'valid' for the next fold, 'train' for the rest (a leakage-free rotation)."""
    folds = np.asarray(folds)
    if not 0 <= test_fold < n_folds:
        raise ValueError(f"test_fold must lie in [0, {n_folds}), got {test_fold}")
    roles = np.full(folds.shape, "train", dtype=object)
    roles[folds == (test_fold + 1) % n_folds] = "valid"
    roles[folds == test_fold] = "test"
    return roles


def fold_split(fold: int) -> str:
    """The split name of grouped test fold `fold`: 'grouped' for fold 0 (the fold every wide comparison
    uses), 'grouped_f<k>' for the others (cross-validation)."""
    return "grouped" if fold == 0 else f"grouped_f{fold}"


def split_fold(split: str) -> int:
    """The grouped test fold of a split name (`fold_split`'s inverse): 'grouped' -> 0, 'grouped_f3' -> 3."""
    if split == "grouped":
        return 0
    prefix, _, fold = split.partition("_f")
    if prefix != "grouped" or not fold.isdigit() or fold == "0":
        raise ValueError(f"'{split}' is not a grouped fold split ('grouped' or 'grouped_f<k>', k >= 1)")
    return int(fold)


def paper_roles(split: Sequence[str], seed: int, valid_share: float = 0.1) -> np.ndarray:
    """Roles from a paper's random split: its 'val' part (or, if it has none, a random share of
    'train') is 'valid'; 'test' stays 'test'. Image-level, so it leaks, as the papers' did."""
    roles = np.asarray(split, dtype=object).copy()
    roles[roles == "val"] = "valid"
    unknown = set(roles) - {"train", "valid", "test"}
    if unknown:
        raise ValueError(f"unknown split parts {sorted(unknown)}; expected train, val and test")
    if "valid" not in set(roles):
        train = np.flatnonzero(roles == "train")
        chosen = np.random.default_rng(seed).choice(train, max(1, int(round(valid_share * len(train)))), replace=False)
        roles[chosen] = "valid"
    if "test" not in set(roles):
        roles[roles == "valid"] = "test"  # Liu's 7:3 has no test part: its validation part is the test
        return paper_roles(roles, seed, valid_share)
    return roles


def role_rows(roles: Sequence[str], split: str, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Row indices of each role ('train', 'valid', 'test') of a split, optionally only where `keep` is True;
    raises when a role is empty, naming the split."""
    roles = np.asarray(roles)
    keep = np.ones(len(roles), bool) if keep is None else np.asarray(keep, bool)
    rows = {role: np.flatnonzero((roles == role) & keep) for role in ("train", "valid", "test")}
    empty = [role for role, index in rows.items() if len(index) == 0]
    if empty:
        raise ValueError(f"split '{split}' has no {' or '.join(empty)} images")
    return rows
