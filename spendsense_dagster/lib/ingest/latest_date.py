"""The latest transaction date in the raw files, read before any load: the as-of date a run without one
takes, and the anchor of the daily partitions' start (docs/orchestration.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from spendsense_dagster.lib.ingest.entities import TRANSACTIONS
from spendsense_dagster.lib.ingest.sources import find_source_files, record_fields_sql


def latest_transaction_date(raw_dir: Path, today: date) -> date | None:
    """The latest transaction date not after `today`; else the latest; None when no file has a date.

    The ingest's own rule (lib/ingest/loader.py) over the dates alone: a record that the ingest rejects
    for another field still counts here. A file that cannot be read is skipped: the ingest names it.
    """
    dates: list[tuple[date | None, date | None]] = []
    with duckdb.connect() as con:
        for source in find_source_files(raw_dir, TRANSACTIONS.file_stem):
            try:
                fields = record_fields_sql(con, source, ["date"], tolerant=True)
                dates.append(
                    con.execute(
                        f"""
                        select max(d) filter (where d <= ?), max(d)
                        from (select try_cast(text_date as date) as d from ({fields}))
                        """,
                        [today],
                    ).fetchone()
                )
            except duckdb.Error:
                continue
    not_after = [d for d, _ in dates if d is not None]
    latest = [d for _, d in dates if d is not None]
    return max(not_after) if not_after else max(latest) if latest else None
