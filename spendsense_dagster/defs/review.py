"""review/* assets: the operator's approval queue and the approved recommendations it leads to."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.metadata import OWNERS, PACKAGE, TAGS, code_version
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.review.consent_log import consent_log_path
from spendsense_dagster.lib.review.csv_decisions import UNAPPLIED_CSV_NAME, CsvImport
from spendsense_dagster.lib.review.decision_log import decision_log_path, load_decisions
from spendsense_dagster.lib.review.jsonl_log import rejected_path
from spendsense_dagster.lib.review.queue import (
    QUEUE_CSV_NAME,
    approved_items_violations,
    build_approval_queue,
    build_approved_recommendations,
    import_csv_decisions,
)

CODE_VERSION = code_version(PACKAGE / "lib" / "review", PACKAGE / "defs" / "review.py")
QUEUE_KEY = dg.AssetKey(["review", "approval_queue"])
APPROVED_KEY = dg.AssetKey(["review", "approved_recommendations"])


def _typed_decisions_check(imported: CsvImport, review_dir: Path) -> dg.AssetCheckResult:
    """WARN, not blocking: refused typed decisions are kept, and an operator has to look at them."""
    description = None
    if imported.kept:
        description = (
            f"{imported.kept} typed decision(s) could not be applied and were kept:"
            f" {imported.kept_unapplied} in {review_dir / UNAPPLIED_CSV_NAME} (with the refusal reason),"
            f" {imported.kept_in_queue} still in {review_dir / QUEUE_CSV_NAME}. First: {imported.errors[0]}"
        )
    return dg.AssetCheckResult(
        check_name="typed_decisions_applied",
        passed=imported.kept == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "kept": imported.kept,
            "kept_unapplied": imported.kept_unapplied,
            "kept_in_queue": imported.kept_in_queue,
            "refusals": dg.MetadataValue.json(imported.errors[:50]),
        },
    )


def _set_aside_lines(review_dir: Path) -> int:
    """Lines the log readers moved to a .rejected sidecar (`spendsense review verify-log` lists them)."""
    sidecars = [rejected_path(log(review_dir)) for log in (decision_log_path, consent_log_path)]
    return sum(len(path.read_bytes().splitlines()) for path in sidecars if path.exists())


@dg.asset(
    key=QUEUE_KEY,
    group_name="review",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"duckdb", "csv", "html"},
    pool="duckdb",
    deps=[dg.AssetKey(["recs", "recommendations"])],
    description="Pending items for operators: review.approval_queue, approval_queue.csv and .html.",
    check_specs=[dg.AssetCheckSpec("typed_decisions_applied", asset=QUEUE_KEY)],
)
def approval_queue(spendsense: SpendSenseResource):
    review_dir = Path(spendsense.review_dir)
    with spendsense.connect() as con:
        # Decisions typed into the current CSV are logged before the CSV is rewritten: none is lost.
        imported = import_csv_decisions(con, review_dir / QUEUE_CSV_NAME, review_dir)
        decisions = load_decisions(con, review_dir, "review.decisions", temp=False)
        queue = build_approval_queue(con, review_dir)
    status_rows = "\n".join(f"| {status} | {n} |" for status, n in sorted(queue.status_counts.items()))
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": queue.rows,
            "decisions_in_log": decisions,
            "log_lines_set_aside": _set_aside_lines(review_dir),
            "csv_decisions_recorded": len(imported.recorded),
            "csv_decision_errors": dg.MetadataValue.json(imported.errors),
            "pending_by_guardrail_status": dg.MetadataValue.md(
                "| guardrail status | pending items |\n| --- | --- |\n" + status_rows
            ),
            "csv": dg.MetadataValue.path(str(queue.csv_path)),
            "html": dg.MetadataValue.path(str(queue.html_path)),
        }
    )
    yield _typed_decisions_check(imported, review_dir)


@dg.asset(
    key=APPROVED_KEY,
    group_name="review",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
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
