"""Atomic study runs: a failed run keeps the last good outputs; bad data stops the run before anything is written."""

import hashlib
import json

import nbformat
import pytest

from buslib.cli import main
from buslib.report.publish import notebook_outputs
from buslib.report.runner import run_study

PARAMETERS = 'PROFILE = "smoke"\nDATA_DIR = ""\nOUT_DIR = ""\nSEED = 0'
OPEN = 'from buslib.report.context import open_notebook\nctx = open_notebook("01", PROFILE, DATA_DIR, OUT_DIR, SEED)'
GOOD = ('ctx.record.record("tiny_value", 1)\n(ctx.out_dir / "figures" / "01_tiny.png").write_bytes(b"png")\n'
        'ctx.artefact("splits").write_text("image_id\\n")\nctx.record.save()')


READER = 'assert ctx.artefact("splits").read_text() == "image_id\\n"\nctx.record.save()'


def write_notebook(folder, body: str, name: str = "01_tiny.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(OPEN.replace('"01"', f'"{name[:2]}"')), nbformat.v4.new_code_cell(body)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, folder / name)
    return folder


def published(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in ("summary.md", "metrics.json")}


def test_a_failed_rerun_keeps_the_last_good_outputs_and_the_summary_says_so(tmp_path):
    reports = tmp_path / "reports"
    good = run_study("smoke", ["01"], "phantom", reports, notebooks_dir=write_notebook(tmp_path / "good", GOOD))
    assert good.ok
    out = reports / "smoke"
    before = published(out)
    assert {"01_tiny.ipynb", "01_tiny.html", "01.metrics.json", "01.run.json", "figures/01_tiny.png",
            "splits_busi.csv"} <= set(before)
    assert not (out / ".runs").exists()

    bad = write_notebook(tmp_path / "bad", 'raise RuntimeError("deliberate failure")')
    failed = run_study("smoke", ["01"], "phantom", reports, notebooks_dir=bad)
    assert not failed.ok and "deliberate failure" in failed.runs[-1].error
    after = published(out)
    assert {k: v for k, v in after.items() if k in before} == before  # the good outputs, byte for byte
    assert {"01_tiny.failed.ipynb", "01_tiny.failed.html", "01.failed.json"} <= set(after)
    summary = (out / "summary.md").read_text()
    assert f"FAILED in run {failed.run_id}" in summary and good.run_id in summary
    assert json.loads((out / "metrics.json").read_text())["tiny_value"] == 1

    assert run_study("smoke", ["01"], "phantom", reports, notebooks_dir=write_notebook(tmp_path / "good", GOOD)).ok
    assert not list(out.glob("01*failed*")) and "FAILED" not in (out / "summary.md").read_text()


def test_a_later_notebook_reads_what_an_earlier_one_of_the_same_run_published(tmp_path):
    folder = write_notebook(write_notebook(tmp_path / "nbs", GOOD), READER, "02_reader.ipynb")
    study = run_study("smoke", None, "phantom", tmp_path / "reports", notebooks_dir=folder)
    assert study.ok, study.runs
    assert {"01.run.json", "02.run.json", "splits_busi.csv"} <= {p.name for p in (tmp_path / "reports/smoke").iterdir()}


def test_the_profile_keeps_its_seed_counts_unless_the_user_asks(tmp_path):
    body = ('from buslib.report.context import open_notebook\n'
            'ctx = open_notebook("01", PROFILE, DATA_DIR, OUT_DIR, SEED, SEEDS)\n'
            'ctx.record.record("seeds", ctx.profile.seeds)\nctx.record.record("seg_seeds", ctx.profile.seg_seeds)\n'
            'ctx.record.record("seeds_asked", SEEDS)\nctx.record.save()')
    folder = tmp_path / "nbs"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(PARAMETERS + "\nSEEDS = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        folder / "01_seeds.ipynb")
    for asked, expected in ((None, (0, 2, 2)), (4, (4, 4, 4))):  # 0: the notebook keeps its profile's counts
        run_study("smoke", None, "phantom", tmp_path / "reports", notebooks_dir=folder, seeds=asked)
        values = json.loads((tmp_path / "reports/smoke/01.metrics.json").read_text())
        assert (values["seeds_asked"], values["seeds"], values["seg_seeds"]) == expected


def test_bad_spreadsheet_stops_before_any_notebook_and_writes_nothing(phantom_copy, tmp_path, capsys):
    (phantom_copy / "DatasetB" / "DatasetB.xlsx").write_bytes(b"PK\x03\x04 broken")
    reports = tmp_path / "reports"
    assert main(["study", "--profile", "smoke", "--data", str(phantom_copy), "--reports", str(reports)]) == 2
    err = capsys.readouterr().err
    assert "DatasetB.xlsx" in err and "nothing was run or written" in err
    assert not reports.exists()


def test_notebook_outputs_are_the_files_a_notebook_wrote(tmp_path):
    for name in ("01_data_exploration.ipynb", "01.metrics.json", "01.run.json", "figures/01_old.png",
                 "02.metrics.json", "figures/02_keep.png", "splits_busi.csv", "checkpoints/03_x.pth",
                 "01_data_exploration.failed.ipynb"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in notebook_outputs(tmp_path, "01")]
    assert names == ["01.metrics.json", "01.run.json", "01_data_exploration.failed.ipynb",
                     "01_data_exploration.ipynb", "figures/01_old.png", "splits_busi.csv"]
    assert [p.name for p in notebook_outputs(tmp_path, "03")] == ["03_x.pth"]


@pytest.mark.parametrize("seeds", [0, -1])
def test_seeds_must_be_positive(seeds):
    from buslib.profiles import resolve_profile

    if seeds:
        with pytest.raises(ValueError, match="seeds must be at least 1"):
            resolve_profile("smoke", seeds=seeds)
    else:
        assert resolve_profile("smoke").seeds == 2


def test_seeds_asked_for_reach_the_segmenter_even_where_the_profile_trains_one():
    from buslib.profiles import resolve_profile

    assert (resolve_profile("cpu").seeds, resolve_profile("cpu").seg_seeds) == (1, 1)
    assert resolve_profile("cpu", seeds=3).seg_seeds == 3
