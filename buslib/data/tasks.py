"""Classification tasks and their class order: index 1 is the positive class of the two-class tasks
('malignant' in 'binary', 'lesion' in 'lesion')."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TASKS", "LABELS", "class_targets"]

LABELS = ("normal", "benign", "malignant")
TASKS = {"binary": ("benign", "malignant"), "three_class": ("normal", "benign", "malignant"),
         "lesion": ("normal", "lesion")}
# label -> class, for the tasks that merge labels
_MERGED = {"lesion": {"normal": "normal", "benign": "lesion", "malignant": "lesion"}}


def class_targets(labels: Sequence[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows that belong to `task` ('binary': benign vs malignant; 'three_class'; 'lesion': normal vs any
    lesion) and their class indices."""
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; choose one of {sorted(TASKS)}")
    labels = np.asarray(labels)
    unknown = {str(label) for label in labels} - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; expected one of {list(LABELS)}")
    classes = TASKS[task]
    class_of = _MERGED.get(task, {label: label for label in classes})
    rows = np.flatnonzero(np.isin(labels, list(class_of)))
    return rows, np.array([classes.index(class_of[label]) for label in labels[rows]], dtype=np.int64)
