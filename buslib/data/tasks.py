"""Classification tasks and their class order: index 1 is 'malignant' in the binary task (the positive class)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TASKS", "LABELS", "class_targets"]

LABELS = ("normal", "benign", "malignant")
TASKS = {"binary": ("benign", "malignant"), "three_class": ("normal", "benign", "malignant")}


def class_targets(labels: Sequence[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows that belong to `task` ('binary': benign vs malignant; 'three_class') and their class indices."""
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; choose one of {sorted(TASKS)}")
    classes = TASKS[task]
    labels = np.asarray(labels)
    unknown = {str(label) for label in labels} - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; expected one of {list(LABELS)}")
    rows = np.flatnonzero(np.isin(labels, classes))
    return rows, np.array([classes.index(label) for label in labels[rows]], dtype=np.int64)
