"""Index BUSI and UDIAT Dataset B in their official layouts as tidy tables (one row per image)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from .images import DataError, check_mask_size, read_size
from .locate import BUSI_DIRNAME, DATASET_B_DIRNAME

__all__ = ["BUSI_CLASSES", "DATASET_B_SHEET", "DATASET_B_COLUMNS", "DATASET_B_TYPES", "read_busi",
           "read_dataset_b"]

BUSI_CLASSES = ("benign", "malignant", "normal")
DATASET_B_SHEET = "Hoja1"
DATASET_B_COLUMNS = ("Image", "Type", "Diagnosis")
DATASET_B_TYPES = {"benign": "benign", "malignant": "malignant"}

_BUSI_FILE = re.compile(r"^(?P<cls>benign|malignant|normal) \((?P<num>\d+)\)(?P<mask>_mask(?:_(?P<k>\d+))?)?\.png$")


def _dataset_dir(root: Path, name: str) -> Path:
    root = Path(root)
    folder = root if root.name == name else root / name
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: dataset folder not found")
    return folder


def read_busi(root: Path) -> pd.DataFrame:
    """Index BUSI: `<class>/<class> (N).png` with masks `_mask.png`, `_mask_1.png`, ... (union).

    `root` is the data folder that holds `Dataset_BUSI_with_GT`, or that folder itself.
    Columns: image_id, dataset, label, image_path, mask_paths, width, height.
    """
    folder = _dataset_dir(root, BUSI_DIRNAME)
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    missing = [c for c in BUSI_CLASSES if c not in present]
    if missing:
        raise DataError(f"{folder}: unknown BUSI layout, expected class folders {list(BUSI_CLASSES)}, found {present}")
    images: dict[str, dict] = {}
    masks: dict[str, list[tuple[int, Path]]] = {}
    for cls in BUSI_CLASSES:
        for path in sorted((folder / cls).iterdir()):
            match = _BUSI_FILE.match(path.name)
            if match is None or match["cls"] != cls:
                raise DataError(f"{path}: unexpected file in the BUSI layout "
                                f"(expected '{cls} (N).png' or '{cls} (N)_mask[_k].png')")
            image_id = f"{cls} ({int(match['num'])})"
            if match["mask"]:
                masks.setdefault(image_id, []).append((int(match["k"] or 0), path))
            else:
                images[image_id] = {"image_id": image_id, "label": cls, "image_path": path}
    orphans = sorted(set(masks) - set(images))
    if orphans:
        raise DataError(f"{folder}: mask files without an image: {[str(masks[o][0][1]) for o in orphans[:5]]}")
    rows = []
    for image_id, row in images.items():
        if image_id not in masks:
            raise DataError(f"{row['image_path']}: image has no mask file ('{image_id}_mask.png' expected)")
        mask_paths = tuple(p for _, p in sorted(masks[image_id]))
        width, height = read_size(row["image_path"])
        for mask_path in mask_paths:
            check_mask_size(mask_path, (width, height))
        rows.append({**row, "dataset": "BUSI", "mask_paths": mask_paths, "width": width, "height": height})
    frame = pd.DataFrame(rows, columns=["image_id", "dataset", "label", "image_path", "mask_paths", "width", "height"])
    frame["_num"] = frame["image_id"].str.extract(r"\((\d+)\)")[0].astype(int)
    return frame.sort_values(["label", "_num"]).drop(columns="_num").reset_index(drop=True)


def read_dataset_b(root: Path) -> pd.DataFrame:
    """Index UDIAT Dataset B: `original/NNNNNN.png`, `GT/NNNNNN.png`, `DatasetB.xlsx` (sheet Hoja1).

    Columns: image_id, dataset, label, diagnosis, image_path, mask_paths, width, height.
    """
    folder = _dataset_dir(root, DATASET_B_DIRNAME)
    sheet_path = folder / "DatasetB.xlsx"
    for needed in (folder / "original", folder / "GT", sheet_path):
        if not needed.exists():
            raise DataError(f"{needed}: missing; Dataset B's layout is original/, GT/ and DatasetB.xlsx")
    try:
        sheet = pd.read_excel(sheet_path, sheet_name=DATASET_B_SHEET)
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{sheet_path}: cannot read sheet '{DATASET_B_SHEET}' as an Excel workbook "
                        f"({type(err).__name__}: {err})") from err
    absent = [c for c in DATASET_B_COLUMNS if c not in sheet.columns]
    if absent:
        raise DataError(
            f"{sheet_path}: sheet '{DATASET_B_SHEET}' lacks columns {absent}; "
            f"expected {list(DATASET_B_COLUMNS)}, found {[str(c) for c in sheet.columns]}"
        )
    rows = []
    for record in sheet.dropna(subset=["Image"]).itertuples(index=False):
        image_id = _dataset_b_id(record.Image, sheet_path)
        label = DATASET_B_TYPES.get(str(record.Type).strip().lower())
        if label is None:
            raise DataError(f"{sheet_path}: image {image_id} has Type '{record.Type}', expected Benign or Malignant")
        image_path, mask_path = folder / "original" / f"{image_id}.png", folder / "GT" / f"{image_id}.png"
        for path in (image_path, mask_path):
            if not path.is_file():
                raise DataError(f"{path}: listed in {sheet_path.name} but missing")
        width, height = read_size(image_path)
        check_mask_size(mask_path, (width, height))
        rows.append({
            "image_id": image_id, "dataset": "DatasetB", "label": label,
            "diagnosis": str(record.Diagnosis).strip().upper(),
            "image_path": image_path, "mask_paths": (mask_path,), "width": width, "height": height,
        })
    frame = pd.DataFrame(rows)
    unlisted = sorted({p.stem for p in (folder / "original").glob("*.png")} - set(frame["image_id"]))
    if unlisted:
        raise DataError(f"{sheet_path}: images in original/ not listed in the sheet: {unlisted[:5]}")
    return frame.sort_values("image_id").reset_index(drop=True)


def _dataset_b_id(value: object, sheet_path: Path) -> str:
    """Sheet ids come as 1, '000001' or '000001.png'; normalise to '000001'."""
    text = str(value).strip()
    text = text[:-4] if text.lower().endswith(".png") else text
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit():
        raise DataError(f"{sheet_path}: Image '{value}' is not a numeric image id")
    return f"{int(text):06d}"
