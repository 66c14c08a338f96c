"""Publishing a run's exports as a whole (docs/exports.md): two steps with a read-back between them.

1. `publish_per_user_exports`: the manifest of the date is removed, the per-user files are written
   (consenting customers only, names and emails redacted), and every earlier partition is purged of
   users who no longer consent. The files and the purge counts are recorded in the warehouse
   (`eval.exported_files`, `eval.export_purges`).
   Then `privacy.audit_exports` reads every per-user file back (the pipeline's blocking check).
2. `publish_evaluation`: inside one transaction the run's metrics row is added, the metrics history
   exported and read back, the report and the manifest published; only then is the row committed and
   the local report replaced. A failure anywhere leaves the metrics history and the report as they were.

Plain functions of (store, as-of date, tables), so a partitioned job can call them per date.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.evaluate.exports import (
    EXPORT_TABLES,
    MANIFEST_NAME,
    METRICS_EXPORT,
    PARQUET_SUFFIX,
    PER_USER_EXPORTS,
    ExportedFile,
    ExportError,
    ExportStore,
    export_queries,
    manifest_bytes,
    parquet_relation,
    select_sql,
    with_presigned_urls,
)
from spendsense_dagster.lib.evaluate.metrics import replace_metrics_row
from spendsense_dagster.lib.evaluate.privacy import (
    PurgeSummary,
    audit_exports,
    create_export_audience,
    publishable_sql,
    purge_partitions,
)

REPORT_NAME = "evaluation_report.json"


def publish_per_user_exports(
    con: duckdb.DuckDBPyConnection,
    store: ExportStore,
    as_of_date: date | str,
    review_dir: Path,
    tables: dict[str, str] = PER_USER_EXPORTS,
) -> tuple[list[ExportedFile], PurgeSummary]:
    """Step 1 (module doc): write the date's per-user files, purge earlier partitions, record both."""
    as_of = date.fromisoformat(str(as_of_date)).isoformat()
    create_export_audience(con, review_dir)
    store.delete(as_of, MANIFEST_NAME)  # no manifest while the set is being replaced
    queries = {name: publishable_sql(con, select_sql(source)) for name, source in tables.items()}
    files = export_queries(con, store, as_of, queries)
    purge = purge_partitions(con, store, skip={(as_of, f"{f.name}{PARQUET_SUFFIX}") for f in files})
    _record(con, as_of, files, purge)
    return files, purge


def _record(
    con: duckdb.DuckDBPyConnection, as_of: str, files: list[ExportedFile], purge: PurgeSummary
) -> None:
    con.execute("create schema if not exists eval")
    con.execute(
        "create table if not exists eval.exported_files"
        " (as_of_date date, name varchar, uri varchar, rows bigint, bytes bigint)"
    )
    con.execute(
        "create table if not exists eval.export_purges (as_of_date date, purged_at timestamp,"
        " partitions integer, files_checked integer, files_rewritten integer, rows_removed bigint,"
        " users_removed integer)"
    )
    con.execute("begin transaction")
    try:
        con.execute("delete from eval.exported_files where as_of_date = ?", [as_of])
        con.executemany(
            "insert into eval.exported_files values (?, ?, ?, ?, ?)",
            [[as_of, f.name, f.uri, f.rows, f.bytes] for f in files],
        )
        con.execute(
            "insert into eval.export_purges values (?, current_timestamp::timestamp, ?, ?, ?, ?, ?)",
            [as_of, *asdict(purge).values()],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _recorded(con: duckdb.DuckDBPyConnection, as_of: str) -> tuple[list[ExportedFile], dict | None]:
    """The per-user files step 1 wrote for the date, and its purge counts."""
    tables = {
        row[0]
        for row in con.execute("select table_name from duckdb_tables() where schema_name = 'eval'").fetchall()
    }
    if not {"exported_files", "export_purges"} <= tables:
        raise ExportError(
            f"the per-user exports of {as_of} were not written: materialize exports/parquet_exports"
        )
    rows = con.execute(
        "select name, uri, rows, bytes from eval.exported_files where as_of_date = ? order by name", [as_of]
    ).fetchall()
    files = [ExportedFile(name, uri, count, size, None) for name, uri, count, size in rows]
    order = list(EXPORT_TABLES)
    files.sort(key=lambda f: order.index(f.name) if f.name in order else len(order))
    cursor = con.execute(
        "select partitions, files_checked, files_rewritten, rows_removed, users_removed"
        " from eval.export_purges where as_of_date = ? order by purged_at desc limit 1",
        [as_of],
    )
    purge = cursor.fetchall()
    names = [column[0] for column in cursor.description]
    return files, (dict(zip(names, purge[0], strict=True)) if purge else None)


def publish_evaluation(
    con: duckdb.DuckDBPyConnection, store: ExportStore, metrics: dict, review_dir: Path, report_path: Path
) -> dict:
    """Step 2 (module doc); returns the report. The date's per-user files are audited once more, so
    this step never commits behind files that should not be out there (even when run on its own)."""
    as_of = date.fromisoformat(str(metrics["as_of_date"])).isoformat()
    per_user, purge = _recorded(con, as_of)
    if not per_user:
        raise ExportError(f"no per-user exports recorded for {as_of}: materialize exports/parquet_exports")
    create_export_audience(con, review_dir)
    audit = audit_exports(con, store, as_of=as_of)
    if audit.violations:
        raise ExportError("refusing to publish the evaluation: " + "; ".join(audit.violations[:10]))
    con.execute("begin transaction")
    try:
        replace_metrics_row(con, metrics)
        expected = con.execute("select count(*) from eval.evaluation_metrics").fetchall()[0][0]
        (metrics_file,) = export_queries(
            con, store, as_of, {METRICS_EXPORT: select_sql("eval.evaluation_metrics")}
        )
        with store.local_copy(as_of, f"{METRICS_EXPORT}{PARQUET_SUFFIX}") as path:
            read_back = con.execute(f"select count(*) from {parquet_relation(path)}").fetchall()[0][0]
        if read_back != expected:
            raise ExportError(f"{metrics_file.uri}: read back {read_back} rows, wrote {expected}")
        files = [*per_user, metrics_file]
        report = {
            **metrics,
            "exports": [asdict(f) for f in with_presigned_urls(store, as_of, files)],
            "purge": purge,
        }
        report_bytes = (json.dumps(report, indent=2, default=str) + "\n").encode()
        store.put_bytes(as_of, REPORT_NAME, report_bytes)
        store.put_bytes(as_of, MANIFEST_NAME, manifest_bytes(as_of, files))  # the set is complete
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    write_atomically(report_path, report_bytes)
    return report
