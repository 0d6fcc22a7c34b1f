"""The study's targets (issue "models worth trusting"), met or missed, read from a report's recorded numbers.

Every value comes from the report folder itself (`metrics.json` and the notebooks' run records), never from prose,
so a report and its replicates can be set side by side (`python -m buslib targets reports/cpu other/cpu`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .compare import load_metrics
from .context import REPO_ROOT
from .publish import read_run_records

__all__ = ["Target", "TARGETS", "TIME_TARGET", "target_rows", "targets_markdown"]


@dataclass(frozen=True)
class Target:
    """One number the study aims at: `key` in `metrics.json` must reach `bound` (at most it where `at_most`)."""

    name: str
    key: str
    bound: float
    at_most: bool = False
    digits: int = 3

    def met(self, value: float) -> bool:
        return value <= self.bound if self.at_most else value >= self.bound

    def margin(self, value: float) -> float:
        """How far inside the bound (positive) or short of it (negative) `value` lies."""
        return self.bound - value if self.at_most else value - self.bound


TARGETS = (
    Target("U2NET-Lite 5-fold out-of-fold pooled IoU (BUSI lesion images)", "seg_u2netp_pretrained_oof_iou", 0.7063),
    Target("the same with U2NET-Lite's zoomed second stage", "seg_u2netp_zoom_oof_iou", 0.7063),
    Target("share of normal images with a predicted lesion (out of fold)",
           "seg_u2netp_pretrained_oof_empty_false_positive_rate", 0.10, at_most=True),
    Target("best benign/malignant 5-fold out-of-fold AUC", "cls_best_oof_auc", 0.93),
    Target("Dataset B AUC of the headline fold ensemble, thresholds frozen on BUSI", "ext_headline_ensemble_auc", 0.90),
)
TIME_TARGET = Target("whole study wall time, minutes (sum of the notebooks' latest good runs)", "minutes", 120.0,
                     at_most=True, digits=1)


def target_rows(report: Path, notebooks: Path = REPO_ROOT / "notebooks") -> list[dict]:
    """One row per target: its value in `report` (a folder or its metrics.json; NaN where not recorded), the
    interval where one is recorded, whether it is met, and by how much. The wall time counts only where every
    numbered notebook in `notebooks` has a good run in the report."""
    metrics = load_metrics(report)
    rows = []
    for target in TARGETS:
        value = float(metrics.get(target.key, math.nan))
        interval = (metrics.get(f"{target.key}_ci_low"), metrics.get(f"{target.key}_ci_high"))
        rows.append(_row(target, value, interval if None not in interval else None))
    records = read_run_records(Path(report) if Path(report).is_dir() else Path(report).parent)
    whole = {p.name[:2] for p in notebooks.glob("[0-9][0-9]_*.ipynb")} <= set(records)
    rows.append(_row(TIME_TARGET, sum(r["minutes"] for r in records.values()) if whole else math.nan, None))
    return rows


def _row(target: Target, value: float, interval: tuple[float, float] | None) -> dict:
    recorded = not math.isnan(value)
    return {"target": target.name, "bound": f"{'<=' if target.at_most else '>='} {target.bound:g}", "value": value,
            "interval": interval, "met": target.met(value) if recorded else None,
            "margin": target.margin(value) if recorded else math.nan, "digits": target.digits}


def targets_markdown(reports: list[Path], labels: list[str] | None = None) -> str:
    """A markdown table of the targets, one column per report folder, headed by `labels` (default: the paths)."""
    columns = [target_rows(report) for report in reports]
    header = ["target", "bound", *(labels or [f"`{report}`" for report in reports])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, first in enumerate(columns[0]):
        cells = [_cell(rows[index]) for rows in columns]
        lines.append(f"| {first['target']} | {first['bound']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(row: dict) -> str:
    if row["met"] is None:
        return "not recorded"
    digits = row["digits"]
    interval = f" ({row['interval'][0]:.3f}-{row['interval'][1]:.3f})" if row["interval"] else ""
    verdict = "met" if row["met"] else "**missed**"
    return f"{row['value']:.{digits}f}{interval}: {verdict}, {abs(row['margin']):.{digits}f} " + (
        "to spare" if row["met"] else "short")
