"""The operator's side of the warehouse: approval queue (table, CSV, HTML) and approved items.

Order of a review refresh (`refresh_review`): import the decisions typed into the current CSV
(csv_decisions), rebuild review.decisions, rebuild the queue (pending items only), rebuild
review.approved_recommendations.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.core.csv_cells import escape_cell_sql
from spendsense_dagster.lib.core.files import atomic_path, write_atomically
from spendsense_dagster.lib.core.sql import sql_string
from spendsense_dagster.lib.core.warehouse import create_table_from_arrow
from spendsense_dagster.lib.review.actions import create_pending_table
from spendsense_dagster.lib.review.consent_log import effective_consent
from spendsense_dagster.lib.review.csv_decisions import (
    DECISION_COLUMNS,
    ITEM_COLUMNS,
    QUEUE_CSV_NAME,
    CsvImport,
    import_csv_decisions,
    read_decision_rows,
)
from spendsense_dagster.lib.review.decision_log import LATEST_DECISIONS_SQL, load_decisions

QUEUE_HTML_NAME = "approval_queue.html"
_QUEUE_ORDER = "user_id, window_days, content_type, recommendation_id"
_CARRIED_TABLE = "carried_csv_decisions"


@dataclass(frozen=True)
class ApprovalQueue:
    rows: int
    status_counts: dict[str, int]
    csv_path: Path
    html_path: Path


@dataclass(frozen=True)
class ReviewRefresh:
    imported: CsvImport
    decisions: int
    queue: ApprovalQueue
    approved: int


def _carry_over_typed_cells(con: duckdb.DuckDBPyConnection, csv_path: Path) -> None:
    """Temp table of what an operator typed into the current CSV, per recommendation id.

    The queue CSV is rewritten on every refresh; a still-pending row (e.g. one whose decision was
    refused) keeps the operator's cells so nothing typed is lost.
    """
    rows = read_decision_rows(csv_path) if csv_path.exists() else []
    columns = ("recommendation_id", *DECISION_COLUMNS)
    typed = {column: [(row.get(column) or "").strip() or None for _, row in rows] for column in columns}
    schema = pa.schema([(column, pa.string()) for column in columns])
    create_table_from_arrow(con, _CARRIED_TABLE, pa.table(typed, schema=schema), temp=True)


def _csv_cell(column: str) -> str:
    """A queue column as a spreadsheet-safe CSV cell (lib/core/csv_cells.py), under its own name."""
    if column.endswith(".window_days"):  # the one number: nothing a spreadsheet could run
        return column
    return f"{escape_cell_sql(column)} as {column.split('.')[-1]}"


def _write_queue_csv(con: duckdb.DuckDBPyConnection, csv_path: Path) -> Path:
    """The queue as CSV, sorted for reading, with what the operator typed into still-pending rows.
    Cells a spreadsheet would run as formulas are written with a leading quote (read back without)."""
    _carry_over_typed_cells(con, csv_path)
    # An operator's spreadsheet never opens half a file.
    with atomic_path(csv_path) as temp_csv:
        con.execute(
            f"""
            copy (
                with queue as (
                    select * from review.approval_queue
                ),

                carried as (
                    select * from {_CARRIED_TABLE}
                    qualify row_number() over (partition by recommendation_id) = 1
                ),

                final as (
                    select
                        {", ".join(_csv_cell(f"queue.{column}") for column in ITEM_COLUMNS)},
                        {", ".join(_csv_cell(f"carried.{column}") for column in DECISION_COLUMNS)}
                    from queue
                    left join carried on carried.recommendation_id = queue.recommendation_id
                )

                select * from final order by {_QUEUE_ORDER}
            ) to {sql_string(str(temp_csv))} (format csv, header true)
            """
        ).fetchall()
    return csv_path


def build_approval_queue(
    con: duckdb.DuckDBPyConnection, review_dir: Path, *, max_html_rows: int = 2000
) -> ApprovalQueue:
    """review.approval_queue (pending items, empty decision columns) plus the CSV and HTML files."""
    review_dir = Path(review_dir)
    review_dir.mkdir(parents=True, exist_ok=True)
    pending_table = create_pending_table(con, review_dir)
    con.execute("create schema if not exists review")
    empty_decisions = ", ".join(f"null::varchar as {column}" for column in DECISION_COLUMNS)
    con.execute(
        f"""
        create or replace table review.approval_queue as
        with pending as (
            select * from {pending_table}
        ),

        final as (
            select {", ".join(ITEM_COLUMNS)}, {empty_decisions}
            from pending
        )

        select * from final
        """
    )
    csv_path = _write_queue_csv(con, review_dir / QUEUE_CSV_NAME)
    status_counts = dict(
        con.execute("select guardrail_status, count(*) from review.approval_queue group by all").fetchall()
    )
    total = sum(status_counts.values())
    cursor = con.execute(
        f"select {', '.join(ITEM_COLUMNS)} from review.approval_queue order by {_QUEUE_ORDER} limit ?",
        [max_html_rows],
    )
    shown = [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    html_path = write_atomically(
        review_dir / QUEUE_HTML_NAME, render_queue_html(shown, total, status_counts).encode("utf-8")
    )
    return ApprovalQueue(rows=total, status_counts=status_counts, csv_path=csv_path, html_path=html_path)


def _findings_html(findings_json: str | None) -> str:
    try:
        findings = json.loads(findings_json or "[]")
        items = []
        for finding in findings:
            severity, check, message = (
                html.escape(str(finding.get(key, ""))) for key in ("severity", "check", "message")
            )
            items.append(f'<li class="{severity}"><b>{severity}</b> {check}: {message}</li>')
    except (ValueError, AttributeError):  # not the expected list of objects: show it as text
        return f"<pre>{html.escape(str(findings_json))}</pre>"
    return f"<ul>{''.join(items)}</ul>" if items else "none"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2933; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #cbd2d9; padding: .4rem .5rem; vertical-align: top; text-align: left;
  font-size: .9rem; }
th { background: #f0f4f8; position: sticky; top: 0; }
code { font-size: .8rem; }
pre { white-space: pre-wrap; margin: 0; font-family: inherit; }
ul { margin: 0; padding-left: 1rem; }
.status { font-weight: 600; padding: .1rem .4rem; border-radius: .3rem; }
.pass { background: #d9f2dd; color: #14532d; }
.warn { background: #fff1c2; color: #713f12; }
.block { background: #fbd5d5; color: #7f1d1d; }
li.critical b { color: #b91c1c; } li.notable b { color: #b45309; } li.info b { color: #52606d; }
"""


def _queue_row_html(item: dict) -> str:
    e = html.escape
    text = {key: e("" if value is None else str(value)) for key, value in item.items()}
    product = f"<br>product {text['product_id']}" if item["product_id"] else ""
    return (
        "<tr>"
        f"<td><code>{text['recommendation_id']}</code><br>{text['content_type']}{product}<br>{text['generator']}</td>"
        f"<td>{text['user_id']}<br>{text['persona']} ({text['window_days']} d)</td>"
        f"<td><b>{text['title']}</b><p>{text['rationale']}</p></td>"
        f"<td><pre>{text['content']}</pre></td>"
        f'<td><span class="status {text["guardrail_status"]}">{text["guardrail_status"]}</span>'
        f"{_findings_html(item['guardrail_findings'])}</td>"
        "</tr>"
    )


def render_queue_html(items: list[dict], total: int, status_counts: dict[str, int]) -> str:
    """A self-contained page (inline CSS, no scripts); every value escaped. `items` hold ITEM_COLUMNS."""
    counts = ", ".join(f"{status_counts.get(status, 0)} {status}" for status in ("pass", "warn", "block"))
    columns = ("item", "user / persona", "title and rationale", "content", "guardrails")
    header = "".join(f"<th>{name}</th>" for name in columns)
    body = [_queue_row_html(item) for item in items]
    more = (
        f"<p>Showing the first {len(items)} of {total} items; the CSV holds all.</p>"
        if len(items) < total
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>SpendSense approval queue</title><style>{_STYLE}</style></head>
<body>
<h1>SpendSense approval queue</h1>
<p>{total} pending items ({counts}). Decide with <code>spendsense review approve ID --operator OP</code>,
<code>reject ID --reason R</code>, <code>override ID --title T --content C --reason R</code> or
<code>bulk-approve --clean</code>, or fill the decision columns of <code>{QUEUE_CSV_NAME}</code>.</p>
{more}
<table><thead><tr>{header}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body>
</html>
"""


def build_approved_recommendations(con: duckdb.DuckDBPyConnection, review_dir: Path) -> int:
    """review.approved_recommendations: items whose decision in force is approve or override (final
    text), of users who consent now, among the items that still exist in recs.recommendations."""
    load_decisions(con, review_dir)
    consent_table = effective_consent(con, review_dir)
    con.execute("create schema if not exists review")
    con.execute(
        f"""
        create or replace table review.approved_recommendations as
        with recommendations as (
            select * from recs.recommendations
        ),

        latest_decisions as (
            {LATEST_DECISIONS_SQL}
        ),

        consenting_users as (
            select user_id from {consent_table} where consent_status
        ),

        final as (
            select
                recommendations.recommendation_id,
                recommendations.user_id,
                recommendations.window_days,
                recommendations.as_of_date,
                recommendations.persona,
                recommendations.content_type,
                case when latest_decisions.action = 'override'
                    then latest_decisions.new_title else recommendations.title end as title,
                case when latest_decisions.action = 'override'
                    then latest_decisions.new_content else recommendations.content end as content,
                recommendations.rationale,
                recommendations.disclaimer,
                recommendations.product_id,
                latest_decisions.action as decision,
                latest_decisions.operator_id,
                latest_decisions.decided_at,
                recommendations.generator,
                recommendations.model,
                recommendations.prompt_version
            from recommendations
            inner join latest_decisions
                on latest_decisions.recommendation_id = recommendations.recommendation_id
            inner join consenting_users on consenting_users.user_id = recommendations.user_id
            where latest_decisions.action in ('approve', 'override')
        )

        select * from final
        """
    )
    return con.execute("select count(*) from review.approved_recommendations").fetchall()[0][0]


def approved_items_violations(con: duckdb.DuckDBPyConnection, review_dir: Path) -> list[str]:
    """What must block an export (docs/orchestration.md): approved rows without an approval in force, a
    disclaimer or
    a rationale, or of a user who does not consent now. One "id: problem; problem" line per bad row."""
    load_decisions(con, review_dir)
    consent_table = effective_consent(con, review_dir)
    rows = con.execute(
        f"""
        with approved as (
            select * from review.approved_recommendations
        ),

        latest_decisions as (
            {LATEST_DECISIONS_SQL}
        ),

        consent as (
            select user_id, consent_status from {consent_table}
        ),

        final as (
            select
                approved.recommendation_id,
                concat_ws(
                    '; ',
                    case when coalesce(latest_decisions.action, '') not in ('approve', 'override')
                        then 'no approval in force' end,
                    case when coalesce(trim(approved.disclaimer), '') = '' then 'no disclaimer' end,
                    case when coalesce(trim(approved.rationale), '') = '' then 'no rationale' end,
                    case when not coalesce(consent.consent_status, false) then 'user does not consent now' end
                ) as problems
            from approved
            left join latest_decisions on latest_decisions.recommendation_id = approved.recommendation_id
            left join consent on consent.user_id = approved.user_id
        )

        select recommendation_id, problems from final where problems != '' order by recommendation_id
        """
    ).fetchall()
    return [f"{recommendation_id}: {problems}" for recommendation_id, problems in rows]


def refresh_review(con: duckdb.DuckDBPyConnection, review_dir: Path) -> ReviewRefresh:
    """The whole review step: CSV decisions in, then decisions, queue and approved items rebuilt."""
    imported = import_csv_decisions(con, Path(review_dir) / QUEUE_CSV_NAME, review_dir)
    decisions = load_decisions(con, review_dir, "review.decisions", temp=False)
    queue = build_approval_queue(con, review_dir)
    approved = build_approved_recommendations(con, review_dir)
    return ReviewRefresh(imported=imported, decisions=decisions, queue=queue, approved=approved)
