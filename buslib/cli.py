"""Command line: `python -m buslib study|verify|phantom ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _study(args: argparse.Namespace) -> int:
    from .study import run_study

    only = [part.strip().zfill(2) for part in args.only.split(",")] if args.only else None
    study = run_study(args.profile, only, args.data, Path(args.reports) if args.reports else None, args.seed)
    for run in study.runs:
        print(f"[buslib] {run.name}: {'ok' if run.ok else 'FAILED'} in {run.seconds / 60:.1f} min")
    print(f"[buslib] reports in {study.out_dir} (summary.md, metrics.json)")
    return 0 if study.ok else 1


def _verify(args: argparse.Namespace) -> int:
    from .context import resolve_data_root
    from .study import data_facts

    lines = data_facts(resolve_data_root(args.data))
    print("\n".join(lines))
    return 0 if all("match" in line or "PHANTOM" in line for line in lines) else 1


def _phantom(args: argparse.Namespace) -> int:
    from .phantom import write_phantom

    print(f"phantom written to {write_phantom(Path(args.folder), seed=args.seed)}")
    return 0


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
    study.set_defaults(run=_study)
    verify = commands.add_parser("verify", help="check the data files against their manifests")
    verify.add_argument("--data", default="")
    verify.set_defaults(run=_verify)
    phantom = commands.add_parser("phantom", help="write the synthetic phantom in the official layouts")
    phantom.add_argument("folder")
    phantom.add_argument("--seed", type=int, default=0)
    phantom.set_defaults(run=_phantom)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
