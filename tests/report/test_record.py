"""The per-notebook report and the merged metrics."""

import json

import plotly.express as px
import pytest

from buslib.report.record import NotebookRecord
from buslib.report.summary import merge_metrics


def test_record_rejects_bad_keys_and_non_finite_values(tmp_path):
    report = NotebookRecord(tmp_path, "01")
    with pytest.raises(ValueError, match="snake_case"):
        report.record("Seg IoU", 0.5)
    with pytest.raises(ValueError, match="not finite"):
        report.record("seg_iou", float("nan"))
    assert report.record("seg_iou", True) == 1.0


def test_save_writes_json_tables_and_png(tmp_path):
    report = NotebookRecord(tmp_path, "01")
    report.record("data_images", 3)
    import pandas as pd

    report.table(pd.DataFrame({"a": [1]}), "t", "A table")
    report.figure(px.bar(x=[1, 2], y=[3, 4]), "bar")
    report.save()
    assert json.loads((tmp_path / "01.metrics.json").read_text()) == {"data_images": 3.0}
    assert "### A table" in (tmp_path / "01.tables.md").read_text()
    assert (tmp_path / "figures" / "01_bar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_merge_refuses_colliding_keys(tmp_path):
    (tmp_path / "01.metrics.json").write_text(json.dumps({"a_b": 1}))
    (tmp_path / "02.metrics.json").write_text(json.dumps({"c_d": 2}))
    assert json.loads(merge_metrics(tmp_path).read_text()) == {"a_b": 1, "c_d": 2}
    (tmp_path / "03.metrics.json").write_text(json.dumps({"a_b": 3}))
    with pytest.raises(ValueError, match="'a_b' recorded by two notebooks"):
        merge_metrics(tmp_path)

