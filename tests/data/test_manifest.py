"""Checking data files against a sha256 manifest."""

import pandas as pd

from buslib.data.manifest import sha256_file, verify_manifest


def write_manifest(folder, manifest):
    rows = [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(folder.rglob("*")) if p.is_file()]
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)


def test_matching_folder_is_ok(phantom_copy):
    folder = phantom_copy / "DatasetB"
    write_manifest(folder, phantom_copy / "DatasetB.manifest.tsv")
    report = verify_manifest(folder)
    assert report.ok and report.checked == len([p for p in folder.rglob("*") if p.is_file()])
    assert "match" in report.summary()


def test_changed_missing_and_unlisted_files_are_reported(phantom_copy):
    folder = phantom_copy / "DatasetB"
    write_manifest(folder, phantom_copy / "DatasetB.manifest.tsv")
    (folder / "GT" / "000001.png").write_bytes(b"changed")
    (folder / "GT" / "000002.png").unlink()
    (folder / "notes.txt").write_text("extra")
    report = verify_manifest(folder)
    assert not report.ok
    assert report.changed == ["GT/000001.png"]
    assert report.missing == ["GT/000002.png"]
    assert report.unlisted == ["notes.txt"]
    assert "1 changed" in report.summary() and "1 missing" in report.summary()


def test_no_manifest_gives_none(phantom_copy):
    assert verify_manifest(phantom_copy / "DatasetB") is None
