"""The papers' numbers beside ours."""

import numpy as np
import pandas as pd

from buslib.eval.segmentation import pixel_metrics
from buslib.report.papers import LI_TABLE1, beside_paper, pooled_iou_from


def test_papers_rows_follow_ours():

    ours = pd.DataFrame({"model": ["u2netp", "u2netp", "u2net"], "iou": [0.6, 0.7, 0.5]})
    table = beside_paper(ours, LI_TABLE1, "Li")
    assert table["source"].tolist() == ["this study", "this study", "Li", "this study", "Li"]
    assert table.loc[2, "iou"] == 0.7063


def test_the_iou_a_pooled_precision_and_recall_imply_is_the_pooled_iou_and_not_lis_printed_one():
    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = rng.integers(1, 10_000, size=(5, 4))
        pooled = pixel_metrics(counts)
        assert np.isclose(pooled_iou_from(pooled["precision"], pooled["recall"]), pooled["iou"])
        assert np.isclose(2 * pooled["precision"] * pooled["recall"] / (pooled["precision"] + pooled["recall"]),
                          pooled["f1"])
    assert pooled_iou_from(0.0, 0.0) == 0 and pooled_iou_from([0.0, 0.5], [0.3, 0.5]).tolist() == [0.0, 1 / 3]
    implied = LI_TABLE1["iou_from_precision_recall"]
    assert LI_TABLE1["model"].tolist() == ["u2netp", "u2net"] and implied.round(3).tolist() == [0.630, 0.612]
    assert (LI_TABLE1["iou"] - implied).round(3).tolist() == [0.076, 0.082]   # printed minus implied
