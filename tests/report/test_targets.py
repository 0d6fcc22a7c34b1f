import json
import math

from buslib.cli import main
from buslib.profiles import resolve_profile
from buslib.report.summary import write_summary
from buslib.report.targets import TARGETS, TIME_TARGET, target_rows, targets_markdown


def write_report(folder, metrics: dict, minutes: dict[str, float]):
    """A report folder as `buslib study` leaves it: merged metrics and one run record per notebook."""
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for number, spent in minutes.items():
        (folder / f"{number}.run.json").write_text(json.dumps({
            "notebook": f"{number}_x", "run_id": "r1", "commit": "abc", "finished": "now", "seed": 0,
            "minutes": spent}))
    return folder


def notebooks(folder, numbers=("01", "02")):
    folder.mkdir()
    for number in numbers:
        (folder / f"{number}_x.ipynb").write_text("{}")
    return folder


METRICS = {"seg_u2netp_pretrained_oof_iou": 0.60, "seg_u2netp_pretrained_oof_iou_ci_low": 0.56,
           "seg_u2netp_pretrained_oof_iou_ci_high": 0.64, "seg_u2netp_pretrained_oof_empty_false_positive_rate": 0.10,
           "seg_u2netp_zoom_oof_iou": 0.63, "cls_best_oof_auc": 0.935}


def test_each_target_is_met_or_missed_by_its_margin_and_an_unrecorded_one_says_so(tmp_path):
    report = write_report(tmp_path / "cpu", METRICS, {"01": 1.0, "02": 30.5})
    rows = {row["target"]: row for row in target_rows(report, notebooks(tmp_path / "nb"))}
    iou, zoom, normals, auc, external, time = (rows[t.name] for t in (*TARGETS, TIME_TARGET))
    assert iou["met"] is False and math.isclose(iou["margin"], 0.60 - 0.7063) and iou["interval"] == (0.56, 0.64)
    assert zoom["met"] is False and math.isclose(zoom["margin"], 0.63 - 0.7063) and zoom["interval"] is None
    assert normals["met"] is True and normals["margin"] == 0  # at the bound of an at-most target counts as met
    assert auc["met"] is True and auc["interval"] is None
    assert external["met"] is None and math.isnan(external["value"])
    assert time["met"] is True and time["value"] == 31.5


def test_the_wall_time_counts_only_when_every_notebook_has_a_good_run(tmp_path):
    report = write_report(tmp_path / "cpu", METRICS, {"01": 1.0})
    rows = target_rows(report, notebooks(tmp_path / "nb", ("01", "02")))
    assert rows[-1]["met"] is None and math.isnan(rows[-1]["value"])


def test_reports_stand_side_by_side(tmp_path):
    first = write_report(tmp_path / "a", METRICS, {})
    second = write_report(tmp_path / "b", {**METRICS, "ext_headline_ensemble_auc": 0.91}, {})
    table = targets_markdown([first, second]).splitlines()
    assert f"`{first}`" in table[0] and f"`{second}`" in table[0]
    external = next(line for line in table if line.startswith("| Dataset B"))
    assert "not recorded" in external and "0.910: met, 0.010 to spare" in external
    assert "0.600 (0.560-0.640): **missed**, 0.106 short" in table[2]


def test_the_command_prints_the_table_and_names_a_folder_without_metrics(tmp_path, capsys):
    report = write_report(tmp_path / "cpu", METRICS, {})
    assert main(["targets", str(report)]) == 0
    assert "best benign/malignant" in capsys.readouterr().out
    assert main(["targets", str(tmp_path / "missing")]) == 2
    assert "missing: no metrics.json" in capsys.readouterr().err


def test_the_summary_lists_the_targets_except_for_the_smoke_profile(tmp_path):
    for name in ("cpu", "smoke"):
        report = write_report(tmp_path / name, METRICS, {"01": 1.0})
        summary = write_summary(report, resolve_profile(name), tmp_path).read_text()
        assert ("## Targets" in summary) == (name == "cpu")
        assert str(report) not in summary.split("## Environment")[0].split("| notebook |")[1]  # headed "this report"
