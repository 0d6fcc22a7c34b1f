"""The published numbers this study is compared with, transcribed from the papers in shared/seeds/.

Li et al. 2025 (Front. Oncol.): Table 1 (segmentation on their 12:3 random test split),
Table 3 (classification, their validation split), Table 4 (independent test).
Liu et al. 2025 (Front. Bioeng. Biotechnol.): Table 1 (internal validation, 7:3 random split),
Table 2 (external test on UDIAT Dataset B). Liu's "ResNet" is ResNet-50 and "MobileNet" MobileNetV2.
"""

from __future__ import annotations

import pandas as pd

LI_TABLE1 = pd.DataFrame([
    {"model": "u2netp", "split": "random 12:3", "accuracy": 0.9702, "recall": 0.7961, "precision": 0.7512, "f1": 0.773, "iou": 0.7063},
    {"model": "u2net", "split": "random 12:3", "accuracy": 0.9686, "recall": 0.7821, "precision": 0.7379, "f1": 0.7594, "iou": 0.6938},
])

LI_TABLE3 = pd.DataFrame([
    {"model": "deepcardinal50", "init": "as published", "accuracy": 0.9747, "precision": 0.9548, "recall": 0.9173, "f1": 0.9357},
    {"model": "resnet50", "init": "as published", "accuracy": 0.9747, "precision": 0.9673, "recall": 0.9577, "f1": 0.9622},
    {"model": "resnet34", "init": "scratch", "accuracy": 0.962, "precision": 0.9701, "recall": 0.9419, "f1": 0.9548},
    {"model": "resnet34", "init": "imagenet", "accuracy": 0.962, "precision": 0.8765, "recall": 0.8108, "f1": 0.8379},
    {"model": "alexnet", "init": "as published", "accuracy": 0.5823, "precision": 0.3638, "recall": 0.371, "f1": 0.3346},
])

LI_TABLE4 = pd.DataFrame([
    {"model": "deepcardinal50", "accuracy": 0.5641}, {"model": "resnet50", "accuracy": 0.609},
    {"model": "resnet34", "accuracy": 0.4936}, {"model": "alexnet", "accuracy": 0.5385},
])

LIU_TABLE1 = pd.DataFrame([
    {"model": "resnet50", "precision": 0.9317, "recall": 0.9314, "f1": 0.9311, "accuracy": 0.9311},
    {"model": "mobilenetv2", "precision": 0.9372, "recall": 0.9316, "f1": 0.9306, "accuracy": 0.9308},
    {"model": "regnet", "precision": 0.9393, "recall": 0.9393, "f1": 0.9391, "accuracy": 0.9392},
    {"model": "vit", "precision": 0.8203, "recall": 0.8183, "f1": 0.8176, "accuracy": 0.8178},
    {"model": "resnext50", "precision": 0.9339, "recall": 0.9393, "f1": 0.9391, "accuracy": 0.9337},
    {"model": "rcdnet", "precision": 0.9515, "recall": 0.9508, "f1": 0.9504, "accuracy": 0.9504},
])

LIU_TABLE2 = pd.DataFrame([
    {"model": "resnet50", "precision": 0.8901, "recall": 0.9313, "f1": 0.9020, "accuracy": 0.9088},
    {"model": "mobilenetv2", "precision": 0.8960, "recall": 0.9358, "f1": 0.9084, "accuracy": 0.9150},
    {"model": "regnet", "precision": 0.8759, "recall": 0.9198, "f1": 0.8864, "accuracy": 0.8934},
    {"model": "vit", "precision": 0.8619, "recall": 0.8957, "f1": 0.8728, "accuracy": 0.8825},
    {"model": "resnext50", "precision": 0.9101, "recall": 0.9461, "f1": 0.9227, "accuracy": 0.9289},
    {"model": "rcdnet", "precision": 0.9168, "recall": 0.9495, "f1": 0.9290, "accuracy": 0.9351, "auc": 0.9866},
])


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
