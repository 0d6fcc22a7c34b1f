"""A synthetic breast-ultrasound phantom written in BUSI's and Dataset B's official layouts.

Speckled, layered tissue with depth attenuation; benign lesions are smooth
hypo-echoic ellipses with posterior enhancement, malignant ones irregular, darker
and shadowing; normal images have no lesion and an empty mask. One benign image
gets a shifted re-capture (a near-duplicate) and one has its lesion split over
`_mask.png` and `_mask_1.png`. For tests and for running the notebooks without
real data: results on it say nothing about ultrasound.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .locate import BUSI_DIRNAME, DATASET_B_DIRNAME

__all__ = ["PHANTOM_MARKER", "synth_image", "write_phantom", "is_phantom"]

PHANTOM_MARKER = "PHANTOM.txt"


def _tissue(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    depth = np.linspace(0, 1, height)[:, None]
    layers = 0.55 + 0.25 * np.sin(depth * rng.uniform(8, 14) + rng.uniform(0, 6)) * np.ones((1, width))
    return layers * (1.0 - 0.6 * depth)


def _lesion_mask(rng: np.random.Generator, height: int, width: int, malignant: bool) -> np.ndarray:
    cy, cx = rng.uniform(0.35, 0.6) * height, rng.uniform(0.3, 0.7) * width
    ry, rx = rng.uniform(0.08, 0.16) * height, rng.uniform(0.1, 0.2) * width
    yy, xx = np.mgrid[:height, :width]
    angle = np.arctan2(yy - cy, xx - cx)
    wobble = 1 + (0.25 * np.sin(7 * angle + rng.uniform(0, 6)) if malignant else 0.05 * np.sin(2 * angle))
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= wobble ** 2


def synth_image(rng: np.random.Generator, label: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """One phantom image (uint8) and its lesion mask (bool) for label benign, malignant or normal."""
    echo = _tissue(rng, height, width)
    if label == "normal":
        mask = np.zeros((height, width), bool)
    else:
        mask = _lesion_mask(rng, height, width, label == "malignant")
    if mask.any():
        columns = mask.any(axis=0)
        below = np.cumsum(mask, axis=0) > 0
        posterior = below & ~mask & columns[None, :]
        echo = np.where(mask, 0.12 if label == "malignant" else 0.22, echo)
        echo = np.where(posterior, echo * (0.55 if label == "malignant" else 1.35), echo)
    speckle = rng.rayleigh(scale=0.55, size=(height, width))
    return np.clip(echo * speckle * 255, 0, 255).astype(np.uint8), mask


def _save(array: np.ndarray, path: Path, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8) * (255 if array.dtype == bool else 1)).convert(mode).save(path)


def write_phantom(root: Path, per_class: dict[str, int] | None = None, dataset_b: tuple[int, int] = (8, 4),
                  seed: int = 0) -> Path:
    """Write a phantom BUSI (`per_class` images) and Dataset B (benign, malignant) under `root`.

    `root` must be empty, absent, or hold only an earlier phantom (replaced): real data is never overwritten.
    """
    per_class = per_class or {"benign": 16, "malignant": 10, "normal": 6}
    rng = np.random.default_rng(seed)
    root = Path(root)
    _clear_for_phantom(root)
    busi = root / BUSI_DIRNAME
    for label, count in per_class.items():
        for n in range(1, count + 1):
            height, width = int(rng.integers(160, 240)), int(rng.integers(200, 300))
            image, mask = synth_image(rng, label, height, width)
            stem = busi / label / f"{label} ({n})"
            _save(image, stem.with_name(stem.name + ".png"))
            if label == "benign" and n == 2 and mask.any():
                rows = np.nonzero(mask.any(axis=1))[0]
                top = mask.copy()
                top[rows[len(rows) // 2]:] = False
                _save(top, stem.with_name(stem.name + "_mask.png"), "1")
                _save(mask & ~top, stem.with_name(stem.name + "_mask_1.png"), "1")
            else:
                _save(mask, stem.with_name(stem.name + "_mask.png"), "1")
    if per_class.get("benign", 0) >= 1:
        source = busi / "benign" / "benign (1).png"
        twin = np.roll(np.asarray(Image.open(source)), shift=(3, 4), axis=(0, 1))
        n = per_class["benign"] + 1
        _save(twin, busi / "benign" / f"benign ({n}).png")
        shifted_mask = np.roll(np.asarray(Image.open(busi / "benign" / "benign (1)_mask.png")) > 0, (3, 4), (0, 1))
        _save(shifted_mask, busi / "benign" / f"benign ({n})_mask.png", "1")
    _write_dataset_b(root / DATASET_B_DIRNAME, rng, *dataset_b)
    (root / PHANTOM_MARKER).write_text("Synthetic phantom written by buslib.phantom: not real ultrasound.\n")
    return root


def _clear_for_phantom(root: Path) -> None:
    """Remove an earlier phantom from `root`; refuse a folder that holds anything else."""
    if not root.exists():
        return
    if not root.is_dir():
        raise FileExistsError(f"{root}: exists and is not a folder; the phantom needs an empty or new folder")
    contents = {p.name for p in root.iterdir()}
    if not contents:
        return
    if not is_phantom(root) or contents - {PHANTOM_MARKER, BUSI_DIRNAME, DATASET_B_DIRNAME}:
        raise FileExistsError(f"{root}: not empty and not an earlier phantom (holds {sorted(contents)[:5]}); "
                              "the phantom is written only into an empty or new folder, never over real data")
    for name in (BUSI_DIRNAME, DATASET_B_DIRNAME):
        shutil.rmtree(root / name, ignore_errors=True)


def _write_dataset_b(folder: Path, rng: np.random.Generator, benign: int, malignant: int) -> None:
    rows = []
    labels = ["benign"] * benign + ["malignant"] * malignant
    for i, label in enumerate(labels, start=1):
        image, mask = synth_image(rng, label, int(rng.integers(160, 220)), int(rng.integers(200, 280)))
        _save(image, folder / "original" / f"{i:06d}.png")
        _save(mask, folder / "GT" / f"{i:06d}.png")
        diagnosis = ("CYST", "FA")[i % 2] if label == "benign" else ("IDC", "DCIS")[i % 2]
        rows.append({"Image": f"{i:06d}", "Type": label.capitalize(), "Diagnosis": diagnosis})
    pd.DataFrame(rows).to_excel(folder / "DatasetB.xlsx", sheet_name="Hoja1", index=False)


def is_phantom(root: Path) -> bool:
    return (Path(root) / PHANTOM_MARKER).is_file()
