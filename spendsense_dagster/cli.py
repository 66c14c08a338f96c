"""The `spendsense` command. Thin: parses arguments, then calls lib/ and the Dagster job."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    from spendsense_dagster.lib.core.settings import Settings
    from spendsense_dagster.lib.synthetic.dataset import generate_dataset

    out_dir = Path(args.out) if args.out else Settings.from_env().raw_dir
    counts = generate_dataset(
        out_dir,
        users=args.users,
        seed=args.seed,
        as_of=args.as_of,
        consent_rate=args.consent_rate,
        fmt=args.format,
        statements=args.statements,
    )
    for name, count in counts.items():
        print(f"{count:>10,}  {out_dir / name}")
    return 0


def _execute(args: argparse.Namespace, selection: str) -> int:
    """Run the pipeline (or part of it, or a range of partitions) in-process against the configured
    warehouse.

    One run at a time per warehouse, as `dagster dev` admits one run at a time: the run lock is taken
    before the slow imports, so runs start in the order they were typed.
    """
    if args.raw_dir:
        os.environ["SPENDSENSE_RAW_DIR"] = str(Path(args.raw_dir).resolve())
    from spendsense_dagster.lib.core.locks import WarehouseBusy, run_lock
    from spendsense_dagster.lib.core.settings import Settings

    settings = Settings.from_env()
    try:
        with run_lock(settings.warehouse_path, wait_seconds=settings.lock_wait_seconds):
            from spendsense_dagster.runner import PartitionError, backfill, run_pipeline

            try:
                if selection == "backfill":
                    return backfill(args.first, args.last, force=args.force, verbose=args.verbose)
                return run_pipeline(as_of=args.as_of, selection=selection, verbose=args.verbose)
            except PartitionError as error:
                raise CliError(str(error)) from error
    except WarehouseBusy as busy:
        print(f"spendsense: {busy}", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace) -> int:
    return _execute(args, "all")


def cmd_ingest(args: argparse.Namespace) -> int:
    return _execute(args, "ingest")


def cmd_backfill(args: argparse.Namespace) -> int:
    return _execute(args, "backfill")


class CliError(Exception):
    """A refusal or problem to print as one clear line, exit code 2."""


@contextmanager
def _warehouse(read_only: bool = True):
    from spendsense_dagster.lib.core.locks import WarehouseBusy, connect_warehouse
    from spendsense_dagster.lib.core.settings import Settings

    settings = Settings.from_env()
    path = settings.warehouse_path
    if not path.exists():
        raise CliError(f"no warehouse at {path}: run `spendsense run` first")
    try:
        # a run writing the warehouse holds it for a while: wait (and say so) instead of failing
        con = connect_warehouse(
            path,
            read_only=read_only,
            wait_seconds=settings.lock_wait_seconds,
            on_wait=lambda message: print(message, file=sys.stderr),
        )
    except WarehouseBusy as e:
        raise CliError(str(e)) from e
    try:
        yield con
    finally:
        con.close()


def _review_dir() -> Path:
    from spendsense_dagster.lib.core.settings import Settings

    return Settings.from_env().review_dir


def cmd_verify_log() -> int:
    """Both logs checked, nothing changed; exit code 1 when something needs an operator's look."""
    from spendsense_dagster.lib.review.log_check import check_logs, format_log_checks

    checks = check_logs(_review_dir())
    print(format_log_checks(checks))
    return 0 if all(check.ok for check in checks) else 1


def cmd_review_serve(args: argparse.Namespace) -> int:
    """The operator web page; it opens the warehouse read-only per request, never between them."""
    import uvicorn

    from spendsense_dagster.lib.core.settings import Settings
    from spendsense_dagster.lib.review.web.app import create_app

    settings = Settings.from_env()
    print(f"SpendSense review on http://{args.host}:{args.port} (warehouse {settings.warehouse_path})")
    uvicorn.run(create_app(settings, host=args.host), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_review_token(args: argparse.Namespace) -> int:
    """Create or rotate an operator's sign-in token; printed once, only its digest is stored."""
    from spendsense_dagster.lib.review.actions import check_operator
    from spendsense_dagster.lib.review.operator_tokens import issue_token

    with _warehouse() as con:
        check_operator(con, args.operator)
    issued = issue_token(_review_dir(), args.operator)
    print(f"New sign-in token for {issued.operator_id} (shown once; only its SHA-256 digest is kept in")
    print(f"{issued.path}; running this again rotates it and signs out every session of the old one):")
    print(issued.token)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from spendsense_dagster.lib.review import actions as review_actions

    if args.action == "verify-log":
        return cmd_verify_log()
    if args.action == "serve":
        return cmd_review_serve(args)
    if args.action == "token":
        return cmd_review_token(args)
    with _warehouse() as con:
        if args.action == "list":
            return _print_pending(con)
        review_dir = _review_dir()
        if args.action == "approve":
            outcome = review_actions.approve(con, review_dir, args.ids, args.operator)
        elif args.action == "reject":
            outcome = review_actions.reject(con, review_dir, args.id, args.reason, args.operator)
        elif args.action == "override":
            outcome = review_actions.override(
                con, review_dir, args.id, args.title, args.content, args.reason, args.operator
            )
        else:
            outcome = review_actions.bulk_approve(
                con, review_dir, args.operator, clean=args.clean, recommendation_ids=args.ids
            )
    print(f"recorded {len(outcome.written)} decision(s); {len(outcome.unchanged)} already in force")
    for decision in outcome.written:  # an override's non-blocking guardrail findings, logged with it
        for finding in json.loads(decision.guardrail_findings or "[]"):
            print(f"note: {decision.recommendation_id}: {finding['check']}: {finding['message']}")
    print("They apply on the next `spendsense run` or publish job (the Dagster sensor starts it).")
    return 0


def _print_pending(con) -> int:
    from spendsense_dagster.lib.review.actions import PENDING_TABLE, create_pending_table

    create_pending_table(con, _review_dir())
    rows = con.execute(
        f"select recommendation_id, user_id, persona, content_type, guardrail_status, title"
        f" from {PENDING_TABLE} order by user_id, content_type, recommendation_id"
    ).fetchall()
    print(f"{'recommendation_id':<18}{'user':<14}{'persona':<20}{'type':<15}{'guardrail':<10}title")
    for rec_id, user_id, persona, content_type, status, title in rows:
        print(f"{rec_id:<18}{user_id:<14}{persona:<20}{content_type:<15}{status:<10}{title}")
    print(f"{len(rows)} pending item(s)")
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    from spendsense_dagster.lib.review.consent_log import record_consent

    with _warehouse() as con:
        change = record_consent(con, _review_dir(), args.user_id, args.action)
    print(
        f"consent {change.action} recorded for {change.user_id} at {change.recorded_at};"
        " applies on the next run"
    )
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from spendsense_dagster.lib.review.explain import decision_trace, format_trace

    with _warehouse() as con:
        print(format_trace(decision_trace(con, _review_dir(), args.recommendation_id)))
    return 0


def _add_review_parser(commands) -> None:
    review = commands.add_parser("review", help="operator review of generated items (docs/review.md)")
    actions = review.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="pending items")
    actions.add_parser(
        "verify-log", help="check the decision and consent logs; exit code 1 when a line needs attention"
    )
    approve = actions.add_parser("approve", help="approve items")
    approve.add_argument("ids", nargs="+")
    reject = actions.add_parser("reject", help="reject an item (reason required)")
    reject.add_argument("id")
    reject.add_argument("--reason")
    override = actions.add_parser(
        "override", help="replace an item's text (reason, title and content required)"
    )
    override.add_argument("id")
    override.add_argument("--title")
    override.add_argument("--content")
    override.add_argument("--reason")
    bulk = actions.add_parser(
        "bulk-approve", help="approve every pending item that passed guardrails, or a list"
    )
    bulk.add_argument("--clean", action="store_true", help="all pending items with guardrail status pass")
    bulk.add_argument("ids", nargs="*")
    serve = actions.add_parser("serve", help="the operator web page (docs/review.md)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765)
    actions.add_parser("token", help="create or rotate an operator's sign-in token for the web page")
    for name in ("approve", "reject", "override", "bulk-approve", "token"):
        actions.choices[name].add_argument("--operator", required=True, help="user_id of an operator")
    review.set_defaults(func=cmd_review)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spendsense", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic dataset (docs/ingest.md)")
    generate.add_argument("--users", type=int, default=75)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument(
        "--as-of", type=_date, default=None, help="last day of history (default: today, UTC)"
    )
    generate.add_argument(
        "--out", default=None, help="output folder (default: SPENDSENSE_RAW_DIR or data/raw)"
    )
    generate.add_argument("--consent-rate", type=float, default=0.30)
    generate.add_argument("--format", choices=["json", "ndjson", "parquet"], default="json")
    generate.add_argument(
        "--statements",
        action="store_true",
        help="also write CSV bank statements for a share of the accounts (docs/statements.md)",
    )
    generate.set_defaults(func=cmd_generate)

    for name, func, help_text in (
        ("run", cmd_run, "run the whole pipeline and print a summary"),
        ("ingest", cmd_ingest, "load the raw files into the warehouse only"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--raw-dir", default=None, help="input folder (default: SPENDSENSE_RAW_DIR or data/raw)"
        )
        sub.add_argument(
            "--as-of",
            default=None,
            type=_date,
            help="as-of date: the daily partition to materialize (default: latest transaction date)",
        )
        sub.add_argument(
            "--verbose", action="store_true", help="show dbt's own lines instead of logging them"
        )
        sub.set_defaults(func=func)

    backfill = commands.add_parser(
        "backfill",
        help="materialize a range of daily as-of partitions, one at a time (docs/orchestration.md)",
    )
    backfill.add_argument("--from", dest="first", required=True, type=_date, help="first as-of date")
    backfill.add_argument("--to", dest="last", required=True, type=_date, help="last as-of date (included)")
    backfill.add_argument(
        "--force", action="store_true", help="rebuild partitions that are already materialized too"
    )
    backfill.add_argument(
        "--raw-dir", default=None, help="input folder (default: SPENDSENSE_RAW_DIR or data/raw)"
    )
    backfill.add_argument("--verbose", action="store_true", help="every stage's line and dbt's own lines")
    backfill.set_defaults(func=cmd_backfill)

    _add_review_parser(commands)
    consent = commands.add_parser("consent", help="record a customer's consent change")
    consent.add_argument("action", choices=["grant", "revoke"])
    consent.add_argument("user_id")
    consent.set_defaults(func=cmd_consent)
    explain = commands.add_parser("explain", help="print a recommendation's decision trace")
    explain.add_argument("recommendation_id")
    explain.set_defaults(func=cmd_explain)
    return parser


def main(argv: list[str] | None = None) -> int:
    from spendsense_dagster.lib.review.actions import DecisionError
    from spendsense_dagster.lib.review.consent_log import ConsentError
    from spendsense_dagster.lib.review.explain import UnknownRecommendation

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, DecisionError, ConsentError, UnknownRecommendation) as e:
        print(f"spendsense: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
