"""The published numbers this study is compared with, transcribed from the papers in shared/seeds/.

Li et al. 2025 (Front. Oncol.): Table 1 (segmentation on their 12:3 random test split),
Table 3 (classification, their validation split), Table 4 (independent test).
Liu et al. 2025 (Front. Bioeng. Biotechnol.): Table 1 (internal validation, 7:3 random split),
Table 2 (external test on UDIAT Dataset B). Liu's "ResNet" is ResNet-50 and "MobileNet" MobileNetV2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["pooled_iou_from", "LI_TABLE1", "LI_TABLE3", "LI_TABLE4", "LIU_TABLE1", "LIU_TABLE2", "LI_PER_CLASS",
           "beside_paper"]

LI_TABLE1 = pd.DataFrame.from_records([
    ("u2netp", "random 12:3", 0.9702, 0.7961, 0.7512, 0.773, 0.7063),
    ("u2net", "random 12:3", 0.9686, 0.7821, 0.7379, 0.7594, 0.6938),
], columns=["model", "split", "accuracy", "recall", "precision", "f1", "iou"])


def pooled_iou_from(precision: ArrayLike, recall: ArrayLike) -> np.ndarray:
    """The IoU that a pooled precision and recall imply: TP / (TP + FP + FN) = PR / (P + R - PR); 0 where either is 0
    (no true positive)."""
    product = np.multiply(precision, recall)
    return np.where(product > 0, product / np.maximum(np.add(precision, recall) - product, 1e-12), 0.0)


# Li's printed IoU is not the one its own pooled precision and recall imply (0.630 and 0.612 against 0.7063 and
# 0.6938); its F1 is (0.773, 0.759). The table keeps both, so that a pooled IoU is compared with a pooled IoU.
LI_TABLE1["iou_from_precision_recall"] = pooled_iou_from(LI_TABLE1["precision"], LI_TABLE1["recall"])

LI_TABLE3 = pd.DataFrame.from_records([
    ("deepcardinal50", "as published", 0.9747, 0.9548, 0.9173, 0.9357),
    ("resnet50", "as published", 0.9747, 0.9673, 0.9577, 0.9622),
    ("resnet34", "scratch", 0.962, 0.9701, 0.9419, 0.9548),
    ("resnet34", "imagenet", 0.962, 0.8765, 0.8108, 0.8379),
    ("alexnet", "as published", 0.5823, 0.3638, 0.371, 0.3346),
], columns=["model", "init", "accuracy", "precision", "recall", "f1"])

LI_TABLE4 = pd.DataFrame([
    {"model": "deepcardinal50", "accuracy": 0.5641}, {"model": "resnet50", "accuracy": 0.609},
    {"model": "resnet34", "accuracy": 0.4936}, {"model": "alexnet", "accuracy": 0.5385},
])

# Liu Table 1 (internal, random 7:3) and Table 2 (external, Dataset B), one row per model:
# precision, recall, F1, accuracy of Table 1, then the same four of Table 2.
LIU_METRICS = ["precision", "recall", "f1", "accuracy"]
_LIU = pd.DataFrame.from_records([
    ("resnet50", 0.9317, 0.9314, 0.9311, 0.9311, 0.8901, 0.9313, 0.9020, 0.9088),
    ("mobilenetv2", 0.9372, 0.9316, 0.9306, 0.9308, 0.8960, 0.9358, 0.9084, 0.9150),
    ("regnet", 0.9393, 0.9393, 0.9391, 0.9392, 0.8759, 0.9198, 0.8864, 0.8934),
    ("vit", 0.8203, 0.8183, 0.8176, 0.8178, 0.8619, 0.8957, 0.8728, 0.8825),
    ("resnext50", 0.9339, 0.9393, 0.9391, 0.9337, 0.9101, 0.9461, 0.9227, 0.9289),
    ("rcdnet", 0.9515, 0.9508, 0.9504, 0.9504, 0.9168, 0.9495, 0.9290, 0.9351),
], columns=["model", *[f"{m}_table1" for m in LIU_METRICS], *[f"{m}_table2" for m in LIU_METRICS]])
LIU_TABLE1 = _LIU[["model", *[f"{m}_table1" for m in LIU_METRICS]]].set_axis(["model", *LIU_METRICS], axis=1)
LIU_TABLE2 = (_LIU[["model", *[f"{m}_table2" for m in LIU_METRICS]]].set_axis(["model", *LIU_METRICS], axis=1)
              .assign(auc=[float("nan")] * 5 + [0.9866]))

for _table in (LI_TABLE1, LI_TABLE4, LIU_TABLE1, LIU_TABLE2):
    _table.insert(1, "init", "as published")


def beside_paper(ours: pd.DataFrame, paper: pd.DataFrame, source: str, on: str = "model") -> pd.DataFrame:
    """Our rows, each model followed by the paper's row for it, with a 'source' column; the paper's
    cells for columns it does not report stay empty."""
    parts = []
    for model in dict.fromkeys(ours[on]):
        parts += [ours[ours[on] == model].assign(source="this study"), paper[paper[on] == model].assign(source=source)]
    table = pd.concat(parts, ignore_index=True)
    return table[[on, "source", *[c for c in table.columns if c not in (on, "source")]]]

# Li et al. 2025 abstract: per-class accuracies of the three-class task.
LI_PER_CLASS = pd.DataFrame([
    {"model": "resnet50", "accuracy_benign": 0.78, "accuracy_malignant": 0.67, "accuracy_normal": 0.73},
    {"model": "deepcardinal50", "accuracy_benign": 0.76, "accuracy_malignant": 0.63, "accuracy_normal": 0.90},
])
