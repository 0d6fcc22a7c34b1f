"""The papers' numbers beside ours."""

import pandas as pd

from buslib.report.papers import LI_TABLE1, beside_paper


def test_papers_rows_follow_ours():

    ours = pd.DataFrame({"model": ["u2netp", "u2netp", "u2net"], "iou": [0.6, 0.7, 0.5]})
    table = beside_paper(ours, LI_TABLE1, "Li")
    assert table["source"].tolist() == ["this study", "this study", "Li", "this study", "Li"]
    assert table.loc[2, "iou"] == 0.7063
