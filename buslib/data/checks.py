"""Check a data folder as the loaders will read it: layout, pairing, sizes, and that every file decodes.

Unlike the readers, which stop at the first problem, a check lists every file it could not use, so a
user fixing a download sees all of them at once. `python -m buslib verify` runs it, with or without a
manifest; the study runs it before its first notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .images import DataError, read_image, read_mask
from .locate import BUSI_DIRNAME, DATASET_B_DIRNAME
from .manifest import manifest_path_for, sha256_file, verify_manifest
from .phantom import is_phantom
from .readers import read_busi, read_dataset_b

__all__ = ["READERS", "DatasetCheck", "check_dataset", "check_data_root", "manifest_facts", "write_manifest"]

READERS: dict[str, Callable[[Path], pd.DataFrame]] = {BUSI_DIRNAME: read_busi, DATASET_B_DIRNAME: read_dataset_b}


@dataclass
class DatasetCheck:
    """What a full check of one dataset folder found."""

    name: str
    images: int = 0
    mask_files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (f"{self.name}: {self.images} images and {self.mask_files} mask files decode; "
                    "pairs and sizes match")
        listed = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"{self.name}: {len(self.problems)} problem(s):\n  {listed}{more}"


def check_dataset(root: Path, name: str, decode: bool = True, progress: bool = False) -> DatasetCheck:
    """Read dataset `name` under `root` with its reader (layout, spreadsheet, pairing, sizes), then decode
    every image and mask (`decode`), collecting every problem with the file it concerns."""
    if name not in READERS:
        raise ValueError(f"unknown dataset '{name}'; choose one of {sorted(READERS)}")
    check = DatasetCheck(name)
    try:
        frame = READERS[name](Path(root))
    except (DataError, FileNotFoundError) as err:
        check.problems.append(str(err))
        return check
    check.images = len(frame)
    check.mask_files = int(frame["mask_paths"].map(len).sum())
    if decode:
        for row in tqdm(frame.itertuples(index=False), total=len(frame), desc=f"decoding {name}",
                        disable=not progress):
            try:
                image = read_image(Path(row.image_path))
                read_mask([Path(p) for p in row.mask_paths], image.shape)
            except DataError as err:
                check.problems.append(str(err))
    return check


def write_manifest(dataset_dir: Path, overwrite: bool = False) -> Path:
    """Write `<dataset>.manifest.tsv` (path, bytes, sha256 of every file) beside a dataset folder."""
    dataset_dir = Path(dataset_dir)
    target = manifest_path_for(dataset_dir)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: a manifest exists already; pass --overwrite to replace it")
    files = sorted(p for p in dataset_dir.rglob("*") if p.is_file())
    rows = [{"path": p.relative_to(dataset_dir).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in tqdm(files, desc=f"hashing {dataset_dir.name}")]
    pd.DataFrame(rows, columns=["path", "bytes", "sha256"]).to_csv(target, sep="\t", index=False)
    return target


def manifest_facts(data_root: Path) -> list[str]:
    """One line per dataset: its manifest check, or why there is none."""
    if is_phantom(data_root):
        return [f"`{data_root}`: SYNTHETIC PHANTOM, no manifest"]
    lines = []
    for name in READERS:
        folder = Path(data_root) / name
        if not folder.is_dir():
            lines.append(f"{name}: absent")
            continue
        report = verify_manifest(folder)
        lines.append(report.summary() if report else f"{name}: no manifest beside it")
    return lines


def check_data_root(data_root: Path, progress: bool = False) -> list[DatasetCheck]:
    """The full check of both datasets under `data_root`."""
    return [check_dataset(data_root, name, progress=progress) for name in READERS]
