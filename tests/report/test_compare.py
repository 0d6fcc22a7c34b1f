"""`buslib compare`: results that differ are found and counted, timings are listed apart, NaN equals NaN."""

import json
import math

import pytest

from buslib.cli import main
from buslib.report.compare import compare_metrics, load_metrics


def _report(folder, metrics):
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def reports(tmp_path):
    first = _report(tmp_path / "a", {"cls_auc": 0.94, "seg_iou": 0.599, "cls_valid_auc": math.nan,
                                     "seg_train_minutes": 5.4, "seg_u2netp_infer_ms_128px": 46.0, "seg_probe_iou": 0.5})
    second = _report(tmp_path / "b", {"cls_auc": 0.94, "seg_iou": 0.601, "cls_valid_auc": math.nan,
                                      "seg_train_minutes": 5.5, "seg_u2netp_infer_ms_128px": 61.0})
    return first, second


def test_results_and_timings_that_differ_are_told_apart(reports):
    table = compare_metrics(*(load_metrics(report) for report in reports)).set_index("key")
    assert set(table.index) == {"seg_iou", "seg_probe_iou", "seg_train_minutes", "seg_u2netp_infer_ms_128px"}
    assert table.loc["seg_iou", "kind"] == "result" and table.loc["seg_iou", "difference"] == pytest.approx(0.002)
    assert table.loc["seg_probe_iou", "only_in"] == "first" and math.isnan(table.loc["seg_probe_iou", "second"])
    assert set(table.loc[["seg_train_minutes", "seg_u2netp_infer_ms_128px"], "kind"]) == {"timing"}


def test_identical_results_pass_and_a_tolerance_absorbs_small_differences(reports, tmp_path, capsys):
    first, second = reports
    assert main(["compare", str(first), str(first)]) == 0
    assert main(["compare", str(first), str(second)]) == 1
    assert "seg_iou" in capsys.readouterr().out
    nearly = json.loads((second / "metrics.json").read_text()) | {"seg_iou": 0.6}
    (first / "metrics.json").write_text(json.dumps(nearly))
    assert main(["compare", str(first), str(second), "--tolerance", "0.005"]) == 0


def test_a_folder_without_metrics_is_named(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path / "empty")]) == 2
    assert f"{tmp_path / 'empty' / 'metrics.json'}: no metrics.json" in capsys.readouterr().err
