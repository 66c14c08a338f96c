"""exports and eval/*: the analysts' Parquet files, then the run's metrics and report, published as a
whole (docs/exports.md): per-user files -> blocking read-back check -> metrics, report, manifest."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
from datetime import timedelta
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.metadata import OWNERS, PACKAGE, TAGS, code_version, file_link
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.defs.review import APPROVED_KEY
from spendsense_dagster.lib.core.warehouse import run_as_of
from spendsense_dagster.lib.core.windows import WINDOWS
from spendsense_dagster.lib.evaluate.exports import ANALYTICS_MARTS, store_from_settings
from spendsense_dagster.lib.evaluate.metrics import compute_metrics
from spendsense_dagster.lib.evaluate.privacy import audit_exports, create_export_audience
from spendsense_dagster.lib.evaluate.publish import REPORT_NAME, publish_evaluation, publish_per_user_exports
from spendsense_dagster.lib.evaluate.report import fairness_flags, metrics_markdown, persona_mix_markdown
from spendsense_dagster.lib.evaluate.report_html import REPORT_HTML_NAME, write_report_html

CODE_VERSION = code_version(PACKAGE / "lib" / "evaluate", PACKAGE / "defs" / "evaluate.py")

EXPORTS_KEY = dg.AssetKey(["exports", "parquet_exports"])
METRICS_KEY = dg.AssetKey(["eval", "evaluation_metrics"])
# A day whose coverage falls below this in either window is yellow in the UI (a WARN check).
MIN_COVERAGE = 0.7
EXPORTS_MAX_AGE = timedelta(days=1, hours=1)


def local_report_path(spendsense: SpendSenseResource) -> Path:
    """The latest report, beside the warehouse (a copy of the one published with the exports)."""
    return Path(spendsense.warehouse_path).parent / REPORT_NAME


@dg.asset(
    key=EXPORTS_KEY,
    # At most one day behind the daily schedule: older than a day (plus an hour for the run) fails.
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=EXPORTS_MAX_AGE),
    group_name="evaluate",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"parquet", "s3"},
    pool="duckdb",
    deps=[
        APPROVED_KEY,
        dg.AssetKey(["recs", "recommendations"]),
        dg.AssetKey(["marts", "user_features"]),
        dg.AssetKey(["marts", "user_personas"]),
        *(dg.AssetKey(["marts", name]) for name in ANALYTICS_MARTS),
    ],
    description="Per-user Parquet files of consenting customers (features, personas, spending analytics,"
    " items, approvals);"
    " earlier dates purged of users who no longer consent.",
)
def parquet_exports(spendsense: SpendSenseResource) -> dg.MaterializeResult:
    settings = spendsense.settings
    store = store_from_settings(settings)
    with spendsense.connect() as con:
        as_of = run_as_of(con)
        files, purge = publish_per_user_exports(con, store, as_of, settings.review_dir)
    rows = "\n".join(f"| {f.name} | {f.rows} | {f.uri} |" for f in files)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md("| export | rows | uri |\n| --- | --- | --- |\n" + rows),
            **{f"uri_{f.name}": file_link(f.uri) for f in files},
            "purged_users": purge.users_removed,
            "purged_rows": purge.rows_removed,
            "purge_files_rewritten": purge.files_rewritten,
            "partitions": purge.partitions,
            "export_uri": file_link(settings.export_uri),
        }
    )


@dg.asset_check(asset=EXPORTS_KEY, name="publishable", blocking=True)
def exports_publishable(spendsense: SpendSenseResource) -> dg.AssetCheckResult:
    """Every per-user file of every date, read back: only consenting customers, no name or email, and
    approved items with approval, disclaimer and rationale. Blocking: metrics and report wait for it."""
    settings = spendsense.settings
    with spendsense.connect() as con:
        create_export_audience(con, settings.review_dir)
        audit = audit_exports(con, store_from_settings(settings))
    return dg.AssetCheckResult(
        passed=not audit.violations,
        description="; ".join(audit.violations[:5]) or None,
        metadata={
            "files_checked": audit.files_checked,
            "violation_count": len(audit.violations),
            "violations": dg.MetadataValue.json(audit.violations[:50]),
        },
    )


@dg.asset(
    key=METRICS_KEY,
    group_name="evaluate",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"duckdb", "parquet"},
    pool="duckdb",
    deps=[EXPORTS_KEY],
    check_specs=[
        dg.AssetCheckSpec(
            "coverage",
            asset=METRICS_KEY,
            description=f"WARN when fewer than {MIN_COVERAGE:.0%} of consenting customers have one of the"
            " five personas and >= 3 detected behaviours, in a window (docs/review.md).",
        ),
        dg.AssetCheckSpec(
            "fairness_parity",
            asset=METRICS_KEY,
            description="WARN when a group (income quintile, age band, region) is more than 10 points"
            " from the whole in recommendations per consenting user, partner-offer access or guardrail"
            " block rate. The persona mix is informational: it differs by income by design.",
        ),
    ],
    description="This run's metrics (docs/review.md) appended to eval.evaluation_metrics (history kept),"
    " evaluation_metrics.parquet, evaluation_report.json and the date's manifest: committed together,"
    " after the per-user files were written and read back.",
)
def evaluation_metrics(context: dg.AssetExecutionContext, spendsense: SpendSenseResource):
    settings = spendsense.settings
    with spendsense.connect() as con:
        metrics = compute_metrics(con, context.run.run_id, settings.review_dir)
        report = publish_evaluation(
            con, store_from_settings(settings), metrics, settings.review_dir, local_report_path(spendsense)
        )
        history = con.execute("select count(*) from eval.evaluation_metrics").fetchall()[0][0]
        report_html = write_report_html(
            con, metrics, local_report_path(spendsense).with_name(REPORT_HTML_NAME)
        )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": history,
            "coverage_30d": metrics["coverage_30d"],
            "explainability": metrics["explainability"],
            "fairness_within_threshold": metrics["fairness_within_threshold"],
            "purge": dg.MetadataValue.json(report["purge"] or {}),
            "summary": dg.MetadataValue.md(metrics_markdown(metrics)),
            "report_html": dg.MetadataValue.path(str(report_html)),
            "persona_mix_by_group": dg.MetadataValue.md(persona_mix_markdown(metrics["fairness"])),
        }
    )
    yield _coverage_check(metrics)
    yield _fairness_check(metrics["fairness"])


def _coverage_check(metrics: dict) -> dg.AssetCheckResult:
    coverage = {window: metrics[f"coverage_{window}d"] for window in WINDOWS}
    low = {window: value for window, value in coverage.items() if value is not None and value < MIN_COVERAGE}
    return dg.AssetCheckResult(
        check_name="coverage",
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{w}-day coverage {v:.1%} < {MIN_COVERAGE:.0%}" for w, v in low.items())
        or None,
        metadata={f"coverage_{window}d": value for window, value in coverage.items() if value is not None},
    )


def _fairness_check(fairness: dict) -> dg.AssetCheckResult:
    flagged = fairness_flags(fairness)
    return dg.AssetCheckResult(
        check_name="fairness_parity",
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(flagged)} group(s) flagged: " + " | ".join(flagged[:5]) if flagged else None,
        metadata={"flagged_groups": len(flagged), "flags": dg.MetadataValue.json(flagged[:50])},
    )


evaluate_assets = [parquet_exports, evaluation_metrics]
evaluate_checks = [exports_publishable]
