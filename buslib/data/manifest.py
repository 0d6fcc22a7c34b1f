"""Check data files against a `<dataset>.manifest.tsv` (path, bytes, sha256, ...)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .images import DataError

__all__ = ["MANIFEST_COLUMNS", "ManifestReport", "sha256_file", "manifest_path_for", "verify_manifest"]

MANIFEST_COLUMNS = ("path", "sha256")


@dataclass
class ManifestReport:
    """What differs between a dataset folder and its manifest."""

    manifest: Path
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    manifest_sha256: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.unlisted)

    def summary(self) -> str:
        if self.ok:
            return f"{self.manifest.name}: {self.checked} files match (manifest sha256 {self.manifest_sha256[:12]})"
        parts = [f"{len(v)} {k} (e.g. {v[:3]})" for k, v in
                 (("missing", self.missing), ("changed", self.changed), ("unlisted", self.unlisted)) if v]
        return f"{self.manifest.name}: {self.checked} files checked; " + "; ".join(parts)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def manifest_path_for(dataset_dir: Path) -> Path:
    """`<root>/<name>.manifest.tsv` beside the dataset folder `<root>/<name>`."""
    return dataset_dir.parent / f"{dataset_dir.name}.manifest.tsv"


def verify_manifest(dataset_dir: Path, manifest: Path | None = None) -> ManifestReport | None:
    """Hash every file under `dataset_dir` and compare with the manifest; None if there is none."""
    manifest = manifest or manifest_path_for(dataset_dir)
    if not manifest.is_file():
        return None
    table = pd.read_csv(manifest, sep="\t", dtype=str, keep_default_na=False)
    absent = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if absent:
        raise DataError(f"{manifest}: lacks columns {absent}; found {list(table.columns)}")
    report = ManifestReport(manifest=manifest, manifest_sha256=sha256_file(manifest))
    expected = dict(zip(table["path"], table["sha256"]))
    on_disk = {p.relative_to(dataset_dir).as_posix() for p in dataset_dir.rglob("*") if p.is_file()}
    for rel, digest in expected.items():
        path = dataset_dir / rel
        if rel not in on_disk:
            report.missing.append(rel)
            continue
        report.checked += 1
        if sha256_file(path) != digest:
            report.changed.append(rel)
    report.unlisted = sorted(on_disk - set(expected))
    return report
