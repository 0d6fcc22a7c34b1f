"""What a notebook leaves behind: headline numbers (JSON), tables (CSV + markdown) and figures (PNG/JPEG)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from IPython.display import Image

__all__ = ["KEY_PATTERN", "NotebookRecord"]

KEY_PATTERN = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


class NotebookRecord:
    """Collects one notebook's outputs under `out_dir`, files prefixed by the notebook's number.

    Keys are flat snake_case `<task>_<metric>[_<split>]`; values are finite numbers.
    """

    def __init__(self, out_dir: Path | str, notebook: str):
        self.out_dir = Path(out_dir)
        self.notebook = notebook
        self.metrics: dict[str, float] = {}
        self.tables: dict[str, str] = {}
        (self.out_dir / "figures").mkdir(parents=True, exist_ok=True)

    def record(self, key: str, value: float | int | bool) -> float:
        """Keep one headline number; rejects bad keys and non-finite values."""
        if not KEY_PATTERN.match(key):
            raise ValueError(f"metric key '{key}' is not snake_case like 'cls_auc_test'")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric '{key}' is not finite: {value!r}")
        self.metrics[key] = number
        return number

    def record_many(self, values: dict[str, float | int | bool], prefix: str = "") -> None:
        for key, value in values.items():
            self.record(f"{prefix}{key}", value)

    def record_rows(self, frame: pd.DataFrame, prefix: str, key: str | Sequence[str] = "key",
                    columns: Sequence[str] | None = None) -> int:
        """Record `<prefix>_<key>_<column>` for every row and column of a table (NaN cells skipped);
        `key` names one column or several, joined by '_'. Returns how many numbers were recorded."""
        keys = [key] if isinstance(key, str) else list(key)
        columns = [c for c in frame.columns if c not in keys] if columns is None else list(columns)
        recorded = 0
        for _, row in frame.iterrows():
            name = "_".join(str(row[k]) for k in keys)
            for column in columns:
                if pd.notna(row[column]):
                    self.record(f"{prefix}_{name}_{column}", row[column])
                    recorded += 1
        return recorded

    def table(self, frame: pd.DataFrame, name: str, title: str) -> pd.DataFrame:
        """Save a table as CSV and keep its markdown for the summary; returns it for display."""
        frame.to_csv(self.out_dir / f"{self.notebook}_{name}.csv", index=False)
        self.tables[title] = frame.to_markdown(index=False, floatfmt=".4g")
        return frame

    def figure(self, fig, name: str, width: int | None = None, height: int | None = None, static: bool = False):
        """Save a plotly or matplotlib figure as PNG under figures/; returns it for display. A plotly figure is
        `width` pixels wide, else as wide as its layout says, else 1000.

        `static=True` is for image galleries: saved as JPEG (speckle makes PNG ~5x larger) and
        returned as that picture rather than as plotly JSON, which would embed every pixel twice.
        """
        path = self.out_dir / "figures" / f"{self.notebook}_{name}.{'jpg' if static else 'png'}"
        if hasattr(fig, "write_image"):
            fig.write_image(path, width=width or fig.layout.width or 1000,
                            height=height or fig.layout.height or 500)
        else:
            fig.savefig(path, dpi=110, bbox_inches="tight")
        return Image(filename=path) if static else fig

    def save(self) -> Path:
        """Write `<notebook>.metrics.json` and `<notebook>.tables.md`; returns the JSON path."""
        path = self.out_dir / f"{self.notebook}.metrics.json"
        path.write_text(json.dumps(self.metrics, indent=1, sort_keys=True))
        body = "\n\n".join(f"### {title}\n\n{markdown}" for title, markdown in self.tables.items())
        (self.out_dir / f"{self.notebook}.tables.md").write_text(body + "\n")
        return path
