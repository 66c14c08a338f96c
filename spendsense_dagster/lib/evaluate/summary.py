"""The short report `spendsense run` prints: what is in the warehouse after a run."""

from __future__ import annotations

from datetime import date

import duckdb

from spendsense_dagster.lib.core.personas import PERSONAS
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.core.warehouse import existing_tables, run_as_of
from spendsense_dagster.lib.core.windows import WINDOWS
from spendsense_dagster.lib.ingest.statements.verdicts import (
    UNIONED_VIEW,
    VERDICTS_TABLE,
    count_statement_verdicts,
)
from spendsense_dagster.lib.review.consent_log import effective_consent

SUMMARY_TABLES = (
    "raw.users",
    "raw.accounts",
    "raw.transactions",
    "raw.liabilities",
    "raw.products",
    "raw.rejected_records",
    "marts.user_features",
    "marts.recurring_streams",
    "marts.user_personas",
    "marts.persona_history",
    "marts.persona_transitions",
    "marts.monthly_category_spend",
    "marts.top_merchants",
    "marts.savings_rate",
    "marts.spending_trend",
    "recs.recommendations",
    "review.approval_queue",
    "review.approved_recommendations",
    "eval.evaluation_metrics",
)


def _persona_table(con: duckdb.DuckDBPyConnection) -> list[str]:
    counts = {
        (persona, window): n
        for persona, window, n in con.execute(
            "select persona, window_days, count(*) from marts.user_personas group by all"
        ).fetchall()
    }
    lines = [f"  {'persona':<20}" + "".join(f"{f'{window} d':>8}" for window in WINDOWS)]
    for persona in PERSONAS:
        lines.append(
            f"  {persona:<20}" + "".join(f"{counts.get((persona, window), 0):>8}" for window in WINDOWS)
        )
    return lines


def _recommendation_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    items, users, generators = con.execute(
        """
        select
            count(*),
            count(distinct user_id),
            string_agg(distinct generator, ', ' order by generator)
        from recs.recommendations
        """
    ).fetchall()[0]
    by_status = dict(
        con.execute("select guardrail_status, count(*) from recs.recommendations group by all").fetchall()
    )
    failures = con.execute("select count(*) from recs.generation_failures").fetchall()[0][0]
    status_text = ", ".join(
        f"{status} {by_status[status]}" for status in ("pass", "warn", "block") if status in by_status
    )
    return [
        f"recommendations: {items} items for {users} consenting customers (generators: {generators or '-'})",
        f"  guardrails: {status_text or '-'}; generation failures: {failures}",
    ]


def _statement_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the CSV statements gave (docs/statements.md): files, rows and where they went."""
    verdicts = count_statement_verdicts(con)
    if not verdicts.files:
        return []
    read = f"statements: {verdicts.files} files read, {verdicts.rows_read} rows"
    if verdicts.rows_read != verdicts.accepted + verdicts.duplicates + verdicts.rejected:
        # After `spendsense ingest` alone the verdicts are an earlier run's.
        return [f"{read} (not yet through dbt: run the pipeline)"]
    counts = f"{verdicts.accepted} accepted, {verdicts.duplicates} duplicates, {verdicts.rejected} rejected"
    share = verdicts.uncategorized_share
    if share is not None:
        counts += f"; uncategorized: {verdicts.uncategorized} of the accepted rows ({share:.1%})"
    return [f"{read}: {counts}"]


def warehouse_summary(settings: Settings) -> str:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = existing_tables(con)
        # few lines on purpose: `spendsense run` prints at most 40 on the default data (docs/orchestration.md)
        heading = ["SpendSense run summary"]
        if "raw.run_context" in tables:
            heading.append(f"as of {run_as_of(con)}   input {settings.raw_dir}")
        lines = ["   ".join(heading)]
        if "raw.users" in tables:
            consent = effective_consent(con, settings.review_dir)  # the consent log wins over the feed
            customers, consenting = con.execute(
                f"select count(*), count(*) filter (consent_status) from {consent}"
                " where user_type = 'customer'"
            ).fetchall()[0]
            lines.append(f"customers: {customers} ({consenting} consenting now)")
        lines.append("rows per table:")
        counts = [
            f"{table:<30}{con.execute(f'select count(*) from {table}').fetchall()[0][0]:>9,}"
            for table in SUMMARY_TABLES
            if table in tables
        ]
        lines.extend("  " + "   ".join(counts[i : i + 3]) for i in range(0, len(counts), 3))
        if {"raw.statement_files", VERDICTS_TABLE, UNIONED_VIEW} <= tables:
            lines.extend(_statement_lines(con))
        if "marts.user_personas" in tables:
            lines.append("customers per persona and window:")
            lines.extend(_persona_table(con))
        if "recs.recommendations" in tables:
            lines.extend(_recommendation_lines(con))
        if "raw.rejected_records" in tables:
            rejected = con.execute(
                "select entity, reason, count(*) from raw.rejected_records group by all order by all"
            ).fetchall()
            lines.append(f"rejected records: {sum(n for *_, n in rejected)}")
            lines.extend(f"  {entity:<16}{reason:<26}{n:>6}" for entity, reason, n in rejected)
    lines.append(f"warehouse: {settings.warehouse_path}   exports: {settings.export_uri}")
    lines.append(f"approval queue: {settings.review_dir / 'approval_queue.csv'} (and .html)")
    return "\n".join(lines)


def materialized_as_of_dates(settings: Settings) -> set[date]:
    """As-of dates whose run completed: the evaluation, the run's last step, recorded its metrics row."""
    if not settings.warehouse_path.exists():
        return set()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        if "eval.evaluation_metrics" not in existing_tables(con):
            return set()
        return {
            row[0]
            for row in con.execute("select distinct as_of_date from eval.evaluation_metrics").fetchall()
        }
