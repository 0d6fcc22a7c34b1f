"""`verify` and the study's pre-flight check: every file decoded, every problem named, manifests optional."""

import pandas as pd

from buslib.cli import main
from buslib.data.checks import check_dataset
from buslib.data.phantom import PHANTOM_MARKER


def test_a_truncated_image_is_named_without_any_manifest(phantom_copy, capsys):
    truncated = phantom_copy / "Dataset_BUSI_with_GT" / "benign" / "benign (4).png"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    corrupt_mask = phantom_copy / "DatasetB" / "GT" / "000003.png"
    corrupt_mask.write_bytes(b"not a png")
    assert not list(phantom_copy.glob("*.manifest.tsv"))
    assert main(["verify", "--data", str(phantom_copy), "--allow-phantom"]) == 1
    out = capsys.readouterr().out
    assert "benign (4).png: corrupt or truncated" in out
    assert "000003.png" in out  # both problems named, not only the first


def test_a_clean_copy_passes_and_the_phantom_needs_allow_phantom(phantom_copy, capsys):
    assert main(["verify", "--data", str(phantom_copy)]) == 1
    assert "SYNTHETIC PHANTOM" in capsys.readouterr().err
    assert main(["verify", "--data", str(phantom_copy), "--allow-phantom"]) == 0
    assert "pairs and sizes match" in capsys.readouterr().out


def test_write_manifest_makes_one_that_verify_then_checks(phantom_copy, capsys):
    (phantom_copy / PHANTOM_MARKER).unlink()  # a user's own copy
    assert main(["verify", "--data", str(phantom_copy), "--write-manifest"]) == 0
    out = capsys.readouterr().out
    assert "manifest written" in out and "files match" in out
    table = pd.read_csv(phantom_copy / "DatasetB.manifest.tsv", sep="\t")
    assert {"path", "bytes", "sha256"} <= set(table.columns) and "DatasetB.xlsx" in set(table["path"])
    assert main(["verify", "--data", str(phantom_copy), "--write-manifest"]) == 2  # exists: needs --overwrite
    (phantom_copy / "DatasetB" / "GT" / "000001.png").write_bytes(b"changed")
    assert main(["verify", "--data", str(phantom_copy)]) == 1
    out = capsys.readouterr().out
    assert "changed" in out and "000001.png" in out


def test_a_layout_problem_is_reported_as_the_readers_word_it(phantom_copy):
    (phantom_copy / "DatasetB" / "DatasetB.xlsx").write_bytes(b"garbage")
    check = check_dataset(phantom_copy, "DatasetB")
    assert not check.ok and "DatasetB.xlsx" in check.summary()
