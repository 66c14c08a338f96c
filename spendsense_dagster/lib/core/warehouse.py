"""Small helpers over a DuckDB connection that every stage uses the same way."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa


class RunContextMissing(LookupError):
    """raw.run_context is absent or empty: the ingest has not run against this warehouse."""


def run_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The as-of date the ingest resolved for this run (raw.run_context)."""
    try:
        rows = con.execute("select as_of_date from raw.run_context").fetchall()
    except duckdb.CatalogException as error:
        raise RunContextMissing("raw.run_context does not exist: run the ingest first") from error
    if not rows:
        raise RunContextMissing("raw.run_context is empty: run the ingest first")
    return rows[0][0]


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> dict[str, Any] | None:
    """The first row of a query as {column: value}, or None when it returns no rows."""
    cursor = con.execute(sql, params if params is not None else [])
    rows = cursor.fetchall()
    if not rows:
        return None
    names = [column[0] for column in cursor.description]
    return dict(zip(names, rows[0], strict=True))


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every `schema.table` (and view) of the database."""
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {row[0] for row in rows}


def create_table_from_arrow(
    con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, *, temp: bool = False
) -> int:
    """(Re)create `table` from an Arrow table in one statement; returns its row count.

    Temp tables also work on a read-only connection (the CLI's), which only reads the warehouse.
    """
    if not temp and "." in table:
        con.execute(f"create schema if not exists {table.split('.')[0]}")
    view = f"_arrow_{uuid.uuid4().hex[:8]}"
    con.register(view, rows)
    try:
        con.execute(f"create or replace {'temp ' if temp else ''}table {table} as select * from {view}")
    finally:
        con.unregister(view)
    return rows.num_rows
