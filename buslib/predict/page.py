"""One self-contained HTML page of a prediction run: every image's overlay and CAM inline, its numbers,
where the models came from, and what failed. Opens offline: no script, no CDN."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..experiments.segmentation import MAX_NORMAL_FP
from ..report.drawing import jpeg_data_uri

__all__ = ["write_page"]

THUMBNAIL = 360  # longest side of the inline pictures, pixels


def _inline(path: Path) -> str:
    with Image.open(path) as image:
        source = jpeg_data_uri(np.asarray(image.convert("RGB")), THUMBNAIL)
    return f'<img src="{source}" alt="{html.escape(path.name)}"/>'


def _detection(table: pd.DataFrame) -> str:
    """What the page says about the lesion detector."""
    first = table.iloc[0]
    if "lesion_threshold" not in table:
        return "No lesion detector came with the models."
    score = first.get("lesion_score", f"the {first['detector']} fold lesion classifiers' P(lesion)")
    return (f"An image is flagged 'no lesion' where {score} ({first['detector_members']} fold models' mean, the "
            "lesion gate notebook 02 chose on BUSI validation data) is at most "
            f"{first['lesion_threshold']:.3f} (the median of the folds' thresholds, each letting at most "
            f"{MAX_NORMAL_FP:.0%} of BUSI's validation normals through); the flag withholds nothing: a threshold set "
            "on BUSI's normal images need not hold on other scanners (notebook 04 measures it on Dataset B).")


def _uncertainty(table: pd.DataFrame) -> str:
    """What the page says about per-image uncertainty, from the models' member counts."""
    first = table.iloc[0]
    parts = []
    if first.get("classifier_members", 1) > 1:
        parts.append(f"The classifier is the mean of {first['classifier_members']} fold models; "
                     + ("an image is flagged 'uncertain, review' where they disagree more than on the top 10% of "
                        "BUSI lesion images." if np.isfinite(first["classifier_review_level"]) else
                        "no review flag: the BUSI data was not available when the bundle was made."))
    else:
        parts.append("The classifier is a single network: no per-image uncertainty is given.")
    if first.get("segmenter_members", 1) > 1:
        zoomed = (", each refined by its zoomed second stage (a second U2NET-Lite on the crop around the lesion "
                  "it found)" if "segmenter_zoom_uses" in table else "")
        parts.append(f"The mask is the mean of {first['segmenter_members']} fold models{zoomed}; last picture: where "
                     "they disagree (per-pixel variance).")
    return html.escape(" ".join(parts))


def _verdict(row, spread: str) -> str:
    """One image's line: the detector's P(lesion) where there is one, then the classifier's call."""
    detected = (f"lesion score {row.prob_lesion:.3f} (threshold {row.lesion_threshold:.3f}) · "
                if np.isfinite(row.prob_lesion) else "")
    return (f"<p>{detected}P(malignant) <b>{row.prob_malignant:.3f}</b>{spread} → <b>{row.call}</b> (threshold "
            f"{row.threshold:.3f}) · lesion {100 * row.lesion_fraction:.1f}% of the image</p>")


def write_page(target: Path, table: pd.DataFrame, folder: Path, note: str) -> Path:
    """Write the page for the `predictions.csv` table `table`, whose picture files lie in `folder`."""
    done = table[table["status"] == "ok"]
    failed = table[table["status"] != "ok"]
    provenance = [c for c in table.columns if c.startswith(("detector", "lesion_threshold", "classifier", "segmenter"))]
    facts = "".join(f"<li><b>{html.escape(c)}</b>: {html.escape(str(table[c].iloc[0]))}</li>" for c in provenance)
    cards = []
    for row in done.itertuples():
        notes = [text for text in (row.flags, row.review) if isinstance(text, str) and text]
        flags = "".join(f'<p class="flag">⚠ {html.escape(text)}</p>' for text in notes)
        spread = f" ± {row.prob_sd:.3f} (SD over the fold models)" if row.classifier_members > 1 else ""
        variance = _inline(folder / row.variance) if isinstance(row.variance, str) and row.variance else ""
        cards.append(f'<div class="card" id="{html.escape(row.image)}"><h3>{html.escape(Path(row.path).name)}</h3>'
                     f"{_verdict(row, spread)}{flags}"
                     f"{_inline(folder / row.overlay)}{_inline(folder / row.cam)}{variance}</div>")
    errors = "".join(f"<li>{html.escape(str(row.error))}</li>"   # each error names its file
                     for row in failed.itertuples())
    profiles = {str(table[c].iloc[0]) for c in ("classifier_profile", "segmenter_profile") if c in table}
    smoke = ('<p class="note"><b>Models from the SMOKE profile (a plumbing check, trained for seconds): these '
             "predictions mean nothing.</b></p>") if "smoke" in profiles else ""
    body = (f"<h1>buslib predictions: {len(done)} images</h1><p class=\"note\">{html.escape(note)}</p>{smoke}"
            f"<p>{html.escape(_detection(table))} Red outline: predicted lesion (U2NET-Lite). Next: Grad-CAM of the "
            "classifier. "
            f"{_uncertainty(table)}</p>"
            f"<h2>Models</h2><ul>{facts}</ul>"
            + (f"<h2>Not processed ({len(failed)})</h2><ul class=\"failed\">{errors}</ul>" if len(failed) else "")
            + "<h2>Images</h2>" + "".join(cards))
    style = ("body{font-family:sans-serif;margin:1.5em;max-width:1200px}.card{border:1px solid #ccc;padding:.5em;"
             "margin:.5em 0}.card img{margin-right:.5em;vertical-align:top}.note{background:#fff3cd;padding:.5em}"
             ".flag{color:#a15c00}.failed{color:#b00020}")
    target.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>buslib predictions</title>'
                      f"<style>{style}</style></head><body>{body}</body></html>")
    return target
