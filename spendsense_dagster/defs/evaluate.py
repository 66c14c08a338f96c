"""exports and eval/*: the analysts' Parquet files, then the run's metrics and report, published as a
whole (docs/exports.md): per-user files -> blocking read-back check -> metrics, report, manifest."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.defs.review import APPROVED_KEY
from spendsense_dagster.lib.core.warehouse import run_as_of
from spendsense_dagster.lib.evaluate.exports import ANALYTICS_MARTS, store_from_settings
from spendsense_dagster.lib.evaluate.metrics import compute_metrics
from spendsense_dagster.lib.evaluate.privacy import audit_exports, create_export_audience
from spendsense_dagster.lib.evaluate.publish import REPORT_NAME, publish_evaluation, publish_per_user_exports
from spendsense_dagster.lib.evaluate.report import metrics_markdown
from spendsense_dagster.lib.evaluate.report_html import REPORT_HTML_NAME, write_report_html

EXPORTS_KEY = dg.AssetKey(["exports", "parquet_exports"])


def local_report_path(spendsense: SpendSenseResource) -> Path:
    """The latest report, beside the warehouse (a copy of the one published with the exports)."""
    return Path(spendsense.warehouse_path).parent / REPORT_NAME


@dg.asset(
    key=EXPORTS_KEY,
    group_name="evaluate",
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
            "purged_users": purge.users_removed,
            "purged_rows": purge.rows_removed,
            "purge_files_rewritten": purge.files_rewritten,
            "partitions": purge.partitions,
            "export_uri": dg.MetadataValue.text(settings.export_uri),
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
    key=["eval", "evaluation_metrics"],
    group_name="evaluate",
    kinds={"duckdb", "parquet"},
    pool="duckdb",
    deps=[EXPORTS_KEY],
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
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": history,
            "coverage_30d": metrics["coverage_30d"],
            "explainability": metrics["explainability"],
            "fairness_within_threshold": metrics["fairness_within_threshold"],
            "purge": dg.MetadataValue.json(report["purge"] or {}),
            "summary": dg.MetadataValue.md(metrics_markdown(metrics)),
            "report_html": dg.MetadataValue.path(str(report_html)),
        }
    )


evaluate_assets = [parquet_exports, evaluation_metrics]
evaluate_checks = [exports_publishable]
