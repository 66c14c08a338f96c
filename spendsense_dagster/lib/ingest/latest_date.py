"""The latest transaction date in the raw files, read before any load: the as-of date a run without one
takes, and the anchor of the daily partitions' start (docs/orchestration.md).

Every process that loads the Dagster definitions asks for it, and a large JSON file takes minutes to
parse: the answer is cached beside the warehouse, keyed by the files' names, sizes and times."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.ingest.entities import TRANSACTIONS
from spendsense_dagster.lib.ingest.sources import SourceFile, find_source_files, record_fields_sql


def latest_transaction_date(raw_dir: Path, today: date, cache_path: Path | None = None) -> date | None:
    """The latest transaction date not after `today`; else the latest; None when no file has a date.

    The ingest's own rule (lib/ingest/loader.py) over the dates alone: a record that the ingest rejects
    for another field still counts here. A file that cannot be read is skipped: the ingest names it.
    """
    sources = find_source_files(raw_dir, TRANSACTIONS.file_stem)
    stats = [(source.path, source.path.stat()) for source in sources]
    key = json.dumps([today.isoformat(), *[[str(path), st.st_size, st.st_mtime_ns] for path, st in stats]])
    cached = _read_cache(cache_path, key)
    if cached is not None:
        return date.fromisoformat(cached) if cached else None
    latest = _scan(sources, today)
    if cache_path is not None and cache_path.parent.is_dir():
        entry = {"key": key, "latest": latest.isoformat() if latest else ""}
        write_atomically(cache_path, json.dumps(entry).encode())
    return latest


def _read_cache(cache_path: Path | None, key: str) -> str | None:
    if cache_path is None or not cache_path.is_file():
        return None
    try:
        entry = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        return None
    return entry.get("latest") if isinstance(entry, dict) and entry.get("key") == key else None


def _scan(sources: list[SourceFile], today: date) -> date | None:
    dates: list[tuple[date | None, date | None]] = []
    with duckdb.connect() as con:
        for source in sources:
            # the fast reader first; the tolerant one when a record is not an object (as the ingest does)
            for tolerant in (False, True):
                try:
                    fields = record_fields_sql(con, source, ["date"], tolerant=tolerant)
                    dates.append(
                        con.execute(
                            f"""
                            select max(d) filter (where d <= ?), max(d)
                            from (select try_cast(text_date as date) as d from ({fields}))
                            """,
                            [today],
                        ).fetchone()
                    )
                    break
                except duckdb.Error:
                    continue
    not_after = [d for d, _ in dates if d is not None]
    latest = [d for _, d in dates if d is not None]
    return max(not_after) if not_after else max(latest) if latest else None
