"""Probe: does `predict`'s segmenter gain from the zoomed second stage on external data (Dataset B)?

`predict` runs the 5 fold U2NET-Lites of a report as one ensemble, each refined by its zoomed second stage with the
use its fold chose on BUSI validation images. Notebook 02 measures each fold's two-stage system on its BUSI test
fold; this probe measures the ensemble as `predict` runs it, on Dataset B (never used to choose anything), with the
zoom and with the same bundle stripped of it (stage 1 alone). Pooled IoU and mean Dice over the 163 images, masks at
each image's own size, with image-bootstrap intervals.

    PYTHONPATH=. .venv/bin/python reports/probes/predict_zoom_datasetb_probe.py reports/cpu ../shared/data out.json
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from buslib.data.images import read_mask
from buslib.data.readers import read_dataset_b
from buslib.eval.segmentation import score_cases, summarise_cases
from buslib.predict.export import bundle_folder, find_bundles
from buslib.predict.inputs import read_scan
from buslib.predict.run import Predictor


def main(report: Path, data: Path, out: Path) -> None:
    bundles = find_bundles(report)
    zoomed = bundles["segmenter"]
    if not zoomed.zoom_states:
        raise SystemExit(f"{report}: its segmenter bundle has no zoomed second stage (notebook 02 trained none)")
    frame = read_dataset_b(data)
    scans = [read_scan(path)[0] for path in frame["image_path"]]
    masks = [read_mask(paths, scan.shape) > 0 for paths, scan in zip(frame["mask_paths"], scans)]
    results = {"report": str(report), "images": len(frame), "zoom_uses": zoomed.zoom_uses,
               "segmenter_provenance": zoomed.provenance}
    for name, segmenter in (("two_stage", zoomed), ("stage1_only", replace(zoomed, zoom_states=[], zoom_uses=[]))):
        predictor = Predictor(bundles["classifier"], segmenter, bundle_folder(report))
        start = time.perf_counter()
        predicted = [predictor._segment(scan)[0] for scan in tqdm(scans, desc=name, unit="image")]
        seconds = time.perf_counter() - start
        summary = summarise_cases(score_cases(frame["image_id"].tolist(), predicted, masks))
        results[name] = {"path": predictor.path, "seconds": seconds,
                         **{k: summary[k] for k in ("iou", "iou_ci_low", "iou_ci_high", "dice_mean")}}
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in results[name].items()}, flush=True)
    results["gain_iou"] = results["two_stage"]["iou"] - results["stage1_only"]["iou"]
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"two-stage minus stage 1 alone, pooled IoU: {results['gain_iou']:+.4f}; written {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
