"""The `spendsense` command. Thin: parses arguments, then calls lib/ and the Dagster job."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    from spendsense_dagster.lib.generator import generate_dataset
    from spendsense_dagster.lib.settings import Settings

    out_dir = Path(args.out) if args.out else Settings.from_env().raw_dir
    counts = generate_dataset(
        out_dir, users=args.users, seed=args.seed, as_of=args.as_of, consent_rate=args.consent_rate, fmt=args.format
    )
    for name, count in counts.items():
        print(f"{count:>10,}  {out_dir / name}")
    return 0


def _execute(args: argparse.Namespace, selection: str) -> int:
    """Run the pipeline (or part of it) in-process against the configured warehouse."""
    if args.raw_dir:
        os.environ["SPENDSENSE_RAW_DIR"] = str(Path(args.raw_dir).resolve())
    from spendsense_dagster.runner import run_pipeline

    return run_pipeline(as_of=args.as_of, selection=selection)


def cmd_run(args: argparse.Namespace) -> int:
    return _execute(args, "all")


def cmd_ingest(args: argparse.Namespace) -> int:
    return _execute(args, "ingest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spendsense", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic dataset (SPEC §2)")
    generate.add_argument("--users", type=int, default=75)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--as-of", type=_date, default=None, help="last day of history (default: today, UTC)")
    generate.add_argument("--out", default=None, help="output folder (default: SPENDSENSE_RAW_DIR or data/raw)")
    generate.add_argument("--consent-rate", type=float, default=0.30)
    generate.add_argument("--format", choices=["json", "ndjson", "parquet"], default="json")
    generate.set_defaults(func=cmd_generate)

    for name, func, help_text in (
        ("run", cmd_run, "run the whole pipeline and print a summary"),
        ("ingest", cmd_ingest, "load the raw files into the warehouse only"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--raw-dir", default=None, help="input folder (default: SPENDSENSE_RAW_DIR or data/raw)")
        sub.add_argument("--as-of", default=None, type=_date, help="as-of date (default: latest transaction date)")
        sub.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
