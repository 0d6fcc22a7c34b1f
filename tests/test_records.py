"""The per-notebook report and the merged metrics."""

import json

import plotly.express as px
import pytest

from buslib.records import Report
from buslib.study import merge_metrics


def test_record_rejects_bad_keys_and_non_finite_values(tmp_path):
    report = Report(tmp_path, "01")
    with pytest.raises(ValueError, match="snake_case"):
        report.record("Seg IoU", 0.5)
    with pytest.raises(ValueError, match="not finite"):
        report.record("seg_iou", float("nan"))
    assert report.record("seg_iou", True) == 1.0


def test_save_writes_json_tables_and_png(tmp_path):
    report = Report(tmp_path, "01")
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


def test_rerun_clears_only_that_notebooks_old_outputs(tmp_path):
    from buslib.study import clear_previous_outputs

    (tmp_path / "figures").mkdir()
    for name in ("01_data_exploration.ipynb", "01.metrics.json", "figures/01_old.png", "02.metrics.json",
                 "figures/02_keep.png", "splits_busi.csv"):
        (tmp_path / name).write_text("x")
    clear_previous_outputs(tmp_path, "01")
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["02.metrics.json", "figures/02_keep.png", "splits_busi.csv"]
