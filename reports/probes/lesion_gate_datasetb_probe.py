"""Probe: how many Dataset B lesions does each of notebook 02's lesion gates miss, and does `predict`'s detector
bundle give the chosen gate's verdicts?

Every Dataset B image holds a lesion. Notebook 02 chooses on BUSI validation data whose score says "lesion" (the fold
U2NET-Lites' highest lesion probability, the fold lesion classifiers' P(lesion), or their mean) and sets each fold's
threshold on pooled BUSI validation normals. This runs notebook 04's `external_detection` (every saved gate, each
fold model and the folds' ensemble) on all 163 images of a report made at or after the commit that saves the gates,
then the detector bundle `predict` exports from the same report, image by image as `predict` reads them, and checks
that its scores and verdicts are the chosen gate's ensemble's. Nothing is chosen on Dataset B.

    PYTHONPATH=. .venv/bin/python reports/probes/lesion_gate_datasetb_probe.py REPORT_DIR ../shared/data OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from buslib.data.readers import read_dataset_b
from buslib.experiments.lesion_gate import external_detection, gate_from_bundle, load_lesion_gate, saved_gates
from buslib.predict.export import detector_bundle
from buslib.predict.inputs import read_scan
from buslib.profiles import resolve_profile


def main(report: Path, data: Path, out: Path) -> None:
    gates, chosen = saved_gates(report)
    if chosen is None:
        raise SystemExit(f"{report}: its notebook 02 saved no lesion gate (a report from before the gate was saved)")
    seg_size = resolve_profile(json.loads((report / "02.run.json").read_text())["profile"]).seg_size
    frame = read_dataset_b(data / "DatasetB")
    scans = [read_scan(path)[0] for path in frame["image_path"]]
    malignant = (frame["label"] == "malignant").to_numpy()
    start = time.perf_counter()
    table = external_detection(report, scans, malignant, seg_size)
    seconds = time.perf_counter() - start
    print(table.round(4).to_string(index=False), flush=True)

    bundle = detector_bundle(report)
    from_bundle = gate_from_bundle(bundle)
    bundle_scores = np.array([from_bundle.member_scores([scan]).mean() for scan in scans])
    reference = load_lesion_gate(report, seg_size).member_scores(scans).mean(0)
    ensemble = table[(table["gate"] == chosen) & (table["which"] == "ensemble of the folds")].iloc[0]
    results = {"report": str(report), "images": len(frame), "gates": list(gates), "chosen": chosen,
               "external_detection_seconds": seconds, "table": table.to_dict(orient="records"),
               "bundle": {"gate": bundle.gate, "threshold": bundle.threshold, "members": len(bundle.gate_thresholds),
                          "provenance": bundle.provenance,
                          "max_abs_score_difference": float(np.abs(bundle_scores - reference).max()),
                          "lesion_detection_rate": float((bundle_scores > bundle.threshold).mean()),
                          "notebook_04_ensemble_rate": float(ensemble["lesion_detection_rate"])}}
    out.write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps(results["bundle"], indent=1, default=str))
    print(f"written {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
