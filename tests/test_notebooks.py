"""Run the notebooks through the study runner (papermill) with the smoke profile and check what they record."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from buslib.cli import main
from buslib.cohort import load_split_table
from buslib.study import NOTEBOOKS_DIR, run_study

pytestmark = pytest.mark.notebook


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def check_report(out: Path, notebook: str) -> None:
    for suffix in (".ipynb", ".html"):
        assert (out / f"{notebook}{suffix}").is_file()
    summary = (out / "summary.md").read_text()
    assert "SMOKE PROFILE" in summary and "Wall time" in summary and "torch" in summary
    assert list((out / "figures").glob("01_*.*"))


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


def test_notebook_01_on_the_real_data(real_data_root, tmp_path):
    assert main(["study", "--profile", "smoke", "--only", "01", "--data", str(real_data_root),
                 "--reports", str(tmp_path)]) == 0
    out = tmp_path / "smoke"
    check_report(out, "01_data_exploration")
    values = metrics(out)
    assert (values["data_busi_benign"], values["data_busi_malignant"], values["data_busi_normal"]) == (437, 210, 133)
    assert values["data_busi_mask_files"] == 798
    assert (values["data_datasetb_benign"], values["data_datasetb_malignant"]) == (109, 54)
    assert values["data_manifest_ok"] == 1
    assert values["data_busi_exact_duplicate_pairs"] >= 1 and values["data_datasetb_exact_duplicate_pairs"] >= 1
    assert values["data_busi_label_conflict_groups"] >= 1
    assert values["data_busi_leaky_groups_fold"] == 0 and values["data_busi_leaky_groups_li_cls"] > 0
    splits = (out / "splits_busi.csv").read_text().splitlines()
    assert len(splits) == 781 and splits[0].startswith("image_id,label,group,fold")


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
    executed = nbformat.read(tmp_path / "reports" / "smoke" / "02_broken.ipynb", as_version=4)
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
