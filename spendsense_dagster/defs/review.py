"""review/* assets: the operator's approval queue and the approved recommendations it leads to."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.review.decision_log import load_decisions
from spendsense_dagster.lib.review.queue import (
    QUEUE_CSV_NAME,
    approved_items_violations,
    build_approval_queue,
    build_approved_recommendations,
    import_csv_decisions,
)

APPROVED_KEY = dg.AssetKey(["review", "approved_recommendations"])


@dg.asset(
    key=["review", "approval_queue"],
    group_name="review",
    kinds={"duckdb", "csv", "html"},
    pool="duckdb",
    deps=[dg.AssetKey(["recs", "recommendations"])],
    description="Pending items for operators: review.approval_queue, approval_queue.csv and .html.",
)
def approval_queue(spendsense: SpendSenseResource) -> dg.MaterializeResult:
    review_dir = Path(spendsense.review_dir)
    csv_path = review_dir / QUEUE_CSV_NAME
    with spendsense.connect() as con:
        # Decisions typed into the current CSV are logged before the CSV is rewritten: none is lost.
        imported = import_csv_decisions(con, csv_path, review_dir) if csv_path.exists() else None
        decisions = load_decisions(con, review_dir, "review.decisions", temp=False)
        queue = build_approval_queue(con, review_dir)
    status_rows = "\n".join(f"| {status} | {n} |" for status, n in sorted(queue.status_counts.items()))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": queue.rows,
            "decisions_in_log": decisions,
            "csv_decisions_recorded": len(imported.recorded) if imported else 0,
            "csv_decision_errors": dg.MetadataValue.json(imported.errors if imported else []),
            "pending_by_guardrail_status": dg.MetadataValue.md(
                "| guardrail status | pending items |\n| --- | --- |\n" + status_rows
            ),
            "csv": dg.MetadataValue.path(str(queue.csv_path)),
            "html": dg.MetadataValue.path(str(queue.html_path)),
        }
    )


@dg.asset(
    key=APPROVED_KEY,
    group_name="review",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[dg.AssetKey(["review", "approval_queue"])],
    description="Approved and overridden items (final text) of users who consent now.",
    check_specs=[dg.AssetCheckSpec("publishable", asset=APPROVED_KEY, blocking=True)],
)
def approved_recommendations(spendsense: SpendSenseResource):
    review_dir = Path(spendsense.review_dir)
    with spendsense.connect() as con:
        load_decisions(con, review_dir, "review.decisions", temp=False)
        rows = build_approved_recommendations(con, review_dir)
        by_decision = con.execute(
            "select decision, count(*) from review.approved_recommendations group by all order by all"
        ).fetchall()
        violations = approved_items_violations(con, review_dir)
    yield dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "by_decision": dg.MetadataValue.json(dict(by_decision))}
    )
    # Blocking: an item without approval, disclaimer or rationale, or of a revoked user, is never exported.
    yield dg.AssetCheckResult(
        check_name="publishable",
        passed=not violations,
        metadata={"violations": dg.MetadataValue.json(violations[:50]), "violation_count": len(violations)},
    )


review_assets = [approval_queue, approved_recommendations]
