"""eval/* and exports: per-run metrics with history, the evaluation report and the analysts' Parquet files."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
import json
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.defs.review import APPROVED_KEY
from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.core.warehouse import run_as_of
from spendsense_dagster.lib.evaluate.exports import export_tables, publish_file
from spendsense_dagster.lib.evaluate.metrics import append_metrics, compute_metrics
from spendsense_dagster.lib.evaluate.report import metrics_markdown, write_evaluation_report

REPORT_NAME = "evaluation_report.json"


def local_report_path(spendsense: SpendSenseResource) -> Path:
    """The latest report, beside the warehouse; the exports asset adds the files and publishes it."""
    return Path(spendsense.warehouse_path).parent / REPORT_NAME


@dg.asset(
    key=["eval", "evaluation_metrics"],
    group_name="evaluate",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[APPROVED_KEY, dg.AssetKey(["recs", "recommendations"])],
    description="This run's metrics (docs/review.md), appended to eval.evaluation_metrics (history kept).",
)
def evaluation_metrics(context: dg.AssetExecutionContext, spendsense: SpendSenseResource):
    with spendsense.connect() as con:
        metrics = compute_metrics(con, context.run.run_id, Path(spendsense.review_dir))
        append_metrics(con, metrics)
        history = con.execute("select count(*) from eval.evaluation_metrics").fetchall()[0][0]
    write_evaluation_report(local_report_path(spendsense), metrics)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": history,
            "coverage_30d": metrics["coverage_30d"],
            "explainability": metrics["explainability"],
            "fairness_within_threshold": metrics["fairness_within_threshold"],
            "summary": dg.MetadataValue.md(metrics_markdown(metrics)),
        }
    )


@dg.asset(
    key=["exports", "parquet_exports"],
    group_name="evaluate",
    kinds={"parquet", "s3"},
    pool="duckdb",
    deps=[dg.AssetKey(["eval", "evaluation_metrics"]), APPROVED_KEY],
    description="Parquet files of features, personas, recommendations, approvals, metrics; the report.",
)
def parquet_exports(spendsense: SpendSenseResource) -> dg.MaterializeResult:
    settings = spendsense.settings
    with spendsense.connect() as con:
        as_of = run_as_of(con)
        files = export_tables(con, settings.export_uri, as_of, endpoint_url=settings.s3_endpoint_url)
    report_path = local_report_path(spendsense)
    report = {**json.loads(report_path.read_text()), "exports": [asdict(f) for f in files]}
    report_bytes = (json.dumps(report, indent=2, default=str) + "\n").encode()
    write_atomically(report_path, report_bytes)
    report_uri = publish_file(
        settings.export_uri, as_of, REPORT_NAME, report_bytes, endpoint_url=settings.s3_endpoint_url
    )
    rows = "\n".join(f"| {f.name} | {f.rows} | {f.uri} |" for f in files)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md("| export | rows | uri |\n| --- | --- | --- |\n" + rows),
            "report": dg.MetadataValue.text(report_uri),
            "export_uri": dg.MetadataValue.text(settings.export_uri),
        }
    )


evaluate_assets = [evaluation_metrics, parquet_exports]
