"""Run the notebooks through the study runner (papermill) with the smoke profile and check what they record."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from buslib.cli import main
from buslib.data.cohort import load_split_table
from buslib.experiments.classification import run_key
from buslib.report.runner import NOTEBOOKS_DIR, run_study

pytestmark = pytest.mark.notebook


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def check_report(out: Path, notebook: str) -> None:
    for suffix in (".ipynb", ".html"):
        assert (out / f"{notebook}{suffix}").is_file()
    summary = (out / "summary.md").read_text()
    assert "SMOKE PROFILE" in summary and "Wall time" in summary and "torch" in summary
    assert list((out / "figures").glob(f"{notebook[:2]}_*.*"))


def test_notebook_01_on_the_phantom(tmp_path):
    study = run_study("smoke", ["01"], "phantom", tmp_path)
    assert study.ok, study.runs
    out = tmp_path / "smoke"
    check_report(out, "01_data_exploration")
    values = metrics(out)
    assert values["data_busi_benign"] == 17 and values["data_busi_malignant"] == 10
    assert values["data_busi_leaky_groups_fold"] == 0
    assert values["data_busi_multi_image_groups"] >= 1
    assert "SYNTHETIC PHANTOM" in (out / "summary.md").read_text()
    table = load_split_table(out / "splits_busi.csv")
    assert len(table) == 33 and (table.groupby("group")["fold"].nunique() == 1).all()
    with pytest.raises(FileNotFoundError, match="run notebook 01"):
        load_split_table(tmp_path / "missing.csv")


@pytest.fixture(scope="module")
def smoke_run(real_data_root, tmp_path_factory):
    """The whole study (notebooks 01-05) on the real data with the smoke profile, run once for this module."""
    return run_study("smoke", None, str(real_data_root), tmp_path_factory.mktemp("reports"))


def ran(study, number: str) -> Path:
    """The report folder, after checking that notebook `number` ran and succeeded."""
    run = {r.name[:2]: r for r in study.runs}.get(number)
    assert run is not None, f"notebook {number} did not run (an earlier one failed: {study.runs})"
    assert run.ok, run.error
    return study.out_dir


def in_unit_interval(values: dict, keys: list[str]) -> None:
    missing = [k for k in keys if k not in values]
    assert not missing, missing
    outside = {k: values[k] for k in keys if not 0 <= values[k] <= 1}
    assert not outside, outside


def test_notebook_01_on_the_real_data(smoke_run):
    out = ran(smoke_run, "01")
    check_report(out, "01_data_exploration")
    values = metrics(out)
    assert (values["data_busi_benign"], values["data_busi_malignant"], values["data_busi_normal"]) == (437, 210, 133)
    assert values["data_busi_mask_files"] == 798
    assert (values["data_datasetb_benign"], values["data_datasetb_malignant"]) == (109, 54)
    assert values["data_manifest_ok"] == 1
    assert values["data_busi_exact_duplicate_pairs"] >= 1 and values["data_datasetb_exact_duplicate_pairs"] >= 1
    assert values["data_busi_label_conflict_groups"] >= 1
    assert values["data_busi_leaky_groups_fold"] == 0 and values["data_busi_leaky_groups_li_cls"] > 0
    html = (out / "01_data_exploration.html").read_text()
    assert html.count("buslib-static-slider") == 2 and "html-manager" not in html  # sliders work offline
    assert not re.search(r'<script[^>]*src="https?://', html)  # nothing fetched from a CDN
    splits = (out / "splits_busi.csv").read_text().splitlines()
    assert len(splits) == 781 and splits[0].startswith("image_id,label,group,fold")


def test_notebook_02_records_segmentation_numbers_and_saves_u2netlite(smoke_run):
    out = ran(smoke_run, "02")
    check_report(out, "02_u2netlite_segmentation")
    values = metrics(out)
    runs = ["u2netp_pretrained_grouped", "u2netp_scratch_grouped", "u2net_pretrained_grouped",
            "u2netp_pretrained_li_12_3", "u2netp_pretrained_oof"]
    in_unit_interval(values, [f"seg_{r}_{m}" for r in runs
                              for m in ("accuracy", "recall", "precision", "f1", "iou", "dice_mean", "iou_mean",
                                        "iou_ci_low", "iou_ci_high", "dice_mean_ci_low", "dice_mean_ci_high",
                                        "iou_mean_ci_low", "iou_mean_ci_high", "lesion_detection_rate",
                                        "empty_false_positive_rate", "iou_gated")])
    in_unit_interval(values, [f"seg_{r}_detect_threshold" for r in runs[:-1]])  # chosen per run on validation
    assert values["seg_u2netp_pretrained_oof_folds"] == 3  # the smoke profile has 3 folds
    assert values["seg_u2netp_pretrained_oof_lesion_images"] == 24  # every smoke lesion image, once
    assert sum(k.startswith("seg_bn_treatment_") for k in values) == 1
    assert values["seg_u2netp_infer_ms_320px"] > 0 and values["seg_u2net_infer_ms_320px"] > 0
    assert (out / "02_u2netp_grouped.pth").stat().st_size < 6e6
    assert values["seg_seeds_u2netp_pretrained_grouped_seeds"] == 2
    assert values["seg_seeds_u2netp_pretrained_grouped_iou_sd"] >= 0
    assert list((out / "figures").glob("02_cases.jpg")) and list((out / "figures").glob("02_learning_curves.png"))
    results = pd.read_csv(out / "02_results.csv")
    assert {"this study", "Li 2025 Table 1 (random 12:3)"} == set(results["source"])
    ours = results[results["source"] == "this study"]
    assert np.allclose(ours["iou_from_precision_recall"], ours["iou"])   # a pooled IoU is what P and R imply
    gates = pd.read_csv(out / "02_detection.csv")  # who says "lesion or not": segmenter, classifier, their mean, chosen
    assert gates["gate"].tolist() == ["segmenter", "detector", "mean", "chosen_on_validation"]
    in_unit_interval(values, [f"seg_gate_{g}_{m}" for g in gates["gate"]
                              for m in ("valid_auc", "lesion_detection_rate", "normal_fp_rate", "iou_gated")])
    chosen = [k.removeprefix("seg_gate_choice_") for k in values if k.startswith("seg_gate_choice_")]
    assert len(chosen) == 1 and chosen[0] in ("segmenter", "detector", "mean")   # one gate, recorded
    folds = pd.read_csv(out / "02_folds.csv")
    assert len(folds) == 4 and folds["gate"].dropna().nunique() == 1   # one gate, chosen for every fold
    assert folds["gate"].dropna().iloc[0] == gates.set_index("gate").loc["chosen_on_validation", "score"]
    assert folds["gate"].dropna().iloc[0] in {"segmenter", "mobilenetv2", "mean of segmenter and mobilenetv2"}
    refined = pd.read_csv(out / "02_litemedsam.csv")  # LiteMedSAM from U2NET-Lite's box and from the true box
    assert refined["system"].tolist() == ["u2netp", "u2netp_litemedsam_predicted_box", "litemedsam_true_box"]
    in_unit_interval(values, [f"seg_refine_{s}_{m}" for s in refined["system"] for m in ("iou", "dice_mean")])
    assert list((out / "figures").glob("02_litemedsam_cases.jpg"))
    zoom = pd.read_csv(out / "02_zoom.csv")  # the zoomed second stage: a use chosen on validation for every fold
    assert len(zoom) == 3 and zoom["use"].notna().all()
    in_unit_interval(values, ["seg_u2netp_zoom_oof_iou", "seg_u2netp_zoom_oof_dice_mean",
                              *(f"seg_zoom_{fold}_test_iou_true_box" for fold in zoom["fold"])])
    assert values["seg_u2netp_zoom_oof_lesion_images"] == 24
    assert values["seg_u2netp_zoom_oof_empty_false_positive_rate"] == values[
        "seg_u2netp_pretrained_oof_empty_false_positive_rate"]   # lesion or not stays the gate's decision


def test_notebook_03_records_every_classifier_with_its_initialisation(smoke_run):
    out = ran(smoke_run, "03")
    check_report(out, "03_classifier_comparison")
    values = metrics(out)
    saved = pd.read_csv(out / "03_models.csv")
    binary = saved[saved["task"] == "binary"]
    assert set(binary["model"]) == {"deepcardinal50", "rcdnet", "effnet_lite0", "vit", "alexnet"}
    assert set(binary.query("model == 'rcdnet'")["init"]) == {"imagenet", "scratch"}
    oof = pd.read_csv(out / "03_oof.csv")
    assert len(oof) in (5, 6, 7) and (oof["folds"] == 3).all() and oof["key"].str.contains("_oof_").all()
    crop_models = [f"{model}_crop" for model in oof["model"].iloc[:2]]   # each cross-validated model's, every fold
    assert oof["model"].iloc[2:4].tolist() == crop_models
    assert oof["model"].iloc[4] == "_and_".join(oof["model"].iloc[:2])  # the two cross-validated models averaged
    for i in range(5, len(oof)):   # forward selection: a crop model joins only where pooled validation AUC rises
        joined = oof["model"].iloc[i].split("_and_")
        assert joined[:-1] == oof["model"].iloc[i - 1].split("_and_") and joined[-1] in crop_models
        assert oof["valid_auc"].iloc[i] > oof["valid_auc"].iloc[i - 1]
    in_unit_interval(values, [f"cls_{k}_{m}" for k in oof["key"] for m in ("auc", "accuracy", "triage_recall")])
    for model in oof["model"].iloc[:2]:  # every fold model is saved for notebook 04's ensembles
        assert binary.loc[binary["model"] == model, "split"].str.startswith("grouped").sum() >= 3
    in_unit_interval(values, [f"cls_{k}_{m}" for k in binary["key"]
                              for m in ("accuracy", "recall", "specificity", "f1")])
    assert not (out / "checkpoints").exists()  # the smoke profile publishes no large weights
    results = pd.read_csv(out / "03_results.csv")
    assert results["init"].notna().all() and {"grouped", "li_11_1_3", "liu_7_3"} <= set(results["split"])
    assert "cls_deepcardinal50_three_class_grouped_accuracy_normal" in values
    crop = binary[binary["split"].str.startswith("crop_")]    # segment, then classify: each model on every fold
    assert sorted(zip(crop["model"], crop["split"])) == sorted(
        (m, f"crop_{s}") for m in oof["model"].iloc[:2] for s in ("grouped", "grouped_f1", "grouped_f2"))
    in_unit_interval(values, [f"cls_{key}_{m}" for key in crop["key"] for m in ("auc", "accuracy")])
    fold0 = pd.read_csv(out / "03_crop_vs_whole.csv")
    assert fold0["input"].tolist() == ["whole image"] * 2 + ["predicted-lesion crop"] * 2
    spread = [k for k in values if k.startswith("cls_seeds_") and k.endswith("_auc_sd")]
    assert len(spread) == 1 and values[spread[0]] >= 0


def test_notebook_04_uses_the_thresholds_frozen_on_busi(smoke_run):
    out = ran(smoke_run, "04")
    check_report(out, "04_external_test")
    values = metrics(out)
    saved = pd.read_csv(out / "03_models.csv").query("task == 'binary' and not split.str.startswith('grouped_f') "
                                                      "and not split.str.startswith('crop_')")
    external = pd.read_csv(out / "04_classifiers.csv")   # whole-image classifiers; crop ones in 04_crop_vs_whole
    single = external[external["split"] != "ensemble"]
    assert single["threshold"].round(9).tolist() == saved["threshold"].round(9).tolist()
    in_unit_interval(values, [f"ext_{k}_{m}" for k in saved["key"] for m in ("accuracy", "recall", "specificity")])
    ensembles = external[external["split"] == "ensemble"]
    assert len(ensembles) == 3 and "_and_" in ensembles["model"].iloc[2]  # two fold ensembles and both together
    keys = [run_key(r.model, "binary", "ensemble", r.init) for r in ensembles.itertuples()]
    in_unit_interval(values, [f"ext_{key}_{k}" for key in keys for k in ("auc", "triage_recall")])
    in_unit_interval(values, ["ext_review_flagged_share", "ext_review_error_rate_unflagged"])
    assert 0 <= values["ext_headline_ensemble_auc"] <= 1
    segmenters = ("u2netp", "u2netp_ensemble", "u2netp_two_stage_ensemble", "u2net")
    in_unit_interval(values, [f"ext_seg_{v}_{m}" for v in segmenters for m in ("iou", "dice_mean")])
    assert values["ext_datasetb_images"] == 24
    crop_vs_whole = pd.read_csv(out / "04_crop_vs_whole.csv")
    oof = pd.read_csv(out / "03_oof.csv").iloc[:2]   # the cross-validated models, each with its crop classifier
    cross_validated = oof["model"].tolist()
    whole = crop_vs_whole[crop_vs_whole["input"] == "whole image"]
    assert sorted(zip(whole["model"], whole["split"])) == sorted((m, s) for m in cross_validated
                                                                 for s in ("grouped", "ensemble"))
    crops = crop_vs_whole[crop_vs_whole["input"] == "predicted-lesion crop"]   # fold 0's, then the fold ensembles
    assert crops["model"].tolist() == [f"{m}_crop" for m in cross_validated] * 2
    assert crops["split"].tolist() == ["crop_grouped"] * 2 + ["ensemble"] * 2
    assert set(crop_vs_whole["input"]) <= {"whole image", "predicted-lesion crop", "whole image and crop"}
    in_unit_interval(values, [f"ext_{run_key(name, 'binary', split, init)}_auc"
                              for m, init in zip(oof["model"], oof["init"])
                              for name, split in ((m, "crop_grouped"), (f"{m}_crop", "ensemble"))])
    diagnoses = pd.read_csv(out / "04_errors_by_diagnosis.csv")
    assert {"CYST", "IDC"} <= set(diagnoses["diagnosis"])
    detection = pd.read_csv(out / "04_detection.csv")  # notebook 02's lesion gates on Dataset B's lesions
    assert detection["gate"].unique().tolist() == ["segmenter", "detector", "mean"]
    assert detection.groupby("gate")["which"].apply(list).map(len).eq(4).all()  # 3 smoke folds, their mean
    assert (detection.groupby("gate")["which"].last() == "ensemble of the folds").all()
    assert detection.groupby("gate")["chosen_in_02"].all().sum() == 1  # the gate notebook 02 chose, and only it
    in_unit_interval(values, [f"{prefix}_ensemble_{m}" for prefix in ("ext_detector", "ext_gate_segmenter",
                                                                      "ext_gate_mean")
                              for m in ("lesion_detection_rate", "detection_rate_malignant", "detection_rate_benign")])


def test_notebook_05_scores_cams_against_the_masks(smoke_run):
    out = ran(smoke_run, "05")
    check_report(out, "05_interpretability")
    values = metrics(out)
    summary = pd.read_csv(out / "05_localisation.csv")
    assert set(summary["method"]) == {"gradcam", "gradcampp", "hirescam", "eigencam", "random"}
    assert set(summary["dataset"]) == {"busi_test", "datasetb"} and summary["model"].nunique() == 3
    in_unit_interval(values, [k for k in values if k.startswith("interp_") and k.endswith(("_energy_inside",
                                                                                          "_pointing_hit_rate"))])
    assert list((out / "figures").glob("05_heatmaps.jpg"))


def test_a_failing_notebook_keeps_its_executed_copy_and_fails_the_run(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(NOTEBOOKS_DIR / "01_data_exploration.ipynb", folder / "01_data_exploration.ipynb")
    broken = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("PROFILE = 'smoke'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(broken, folder / "02_broken.ipynb")
    study = run_study("smoke", ["02"], "phantom", tmp_path / "reports", notebooks_dir=folder)
    assert not study.ok
    assert "deliberate failure" in study.runs[-1].error
    executed = nbformat.read(tmp_path / "reports" / "smoke" / "02_broken.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))
    assert "FAILED" in (tmp_path / "reports" / "smoke" / "summary.md").read_text()


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        assert code[0].metadata.get("tags") == ["parameters"], path.name


def test_study_without_data_explains_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BUSLIB_DATA", str(tmp_path / "nothing"))
    assert main(["study", "--profile", "smoke", "--only", "01", "--data", str(tmp_path / "empty"),
                 "--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Dataset_BUSI_with_GT' not found" in err and str(tmp_path / "empty") in err
