"""Two study reports side by side: which recorded numbers differ, timings kept apart (`python -m buslib compare`).

The question it answers is the one a reader of `reports/` asks first: does the same code give the same numbers?
Results (metrics, thresholds, choices) are compared exactly or within a tolerance; timings (training minutes,
inference milliseconds) vary with the machine and are listed apart, never counted as a difference."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

__all__ = ["TIMING_KEY", "load_metrics", "compare_metrics"]

TIMING_KEY = re.compile(r"_(minutes|seconds)$|_ms(_\d+px)?$")


def load_metrics(report: Path) -> dict[str, float]:
    """The flat `metrics.json` of a report folder (as `buslib study` writes it), or the file itself."""
    path = Path(report)
    path = path / "metrics.json" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics.json (expected a report folder written by `buslib study`, "
                                "e.g. reports/cpu, or its metrics.json)")
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected an object of metric name to value, got {type(metrics).__name__}")
    return metrics


def _same(a, b, tolerance: float) -> bool:
    """Equal, both NaN, or numbers within `tolerance` of each other."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tolerance
    return a == b


def compare_metrics(a: dict[str, float], b: dict[str, float], tolerance: float = 0.0) -> pd.DataFrame:
    """One row per metric that is not the same in both reports (`load_metrics`): its key, both values, the
    difference and whether it is a `timing` or a `result`; keys present in one report only have the other's value
    missing (NaN)."""
    rows = []
    for key in sorted(set(a) | set(b)):
        if key in a and key in b and _same(a[key], b[key], tolerance):
            continue
        first_value, second_value = a.get(key, math.nan), b.get(key, math.nan)
        numbers = all(isinstance(v, (int, float)) for v in (first_value, second_value))
        rows.append({"key": key, "kind": "timing" if TIMING_KEY.search(key) else "result",
                     "first": first_value, "second": second_value,
                     "difference": second_value - first_value if numbers else math.nan,
                     "only_in": "first" if key not in b else "second" if key not in a else ""})
    return pd.DataFrame(rows, columns=["key", "kind", "first", "second", "difference", "only_in"])
