"""The one place that knows which engine built the dbt models (docs/scaling.md, "Engines").

The Python stages (recommendations, review, evaluation, exports, the statement verdicts) read
`marts.*` (and two intermediate tables) from the DuckDB warehouse and never name an engine:

- duckdb (the default): dbt builds those tables in the warehouse itself; nothing to do here.
- spark: before dbt, the raw tables go to Spark as Parquet (lib/core/spark_inputs.py); dbt builds on
  Spark (`--target spark`), each table a Parquet folder under `<warehouse>.spark/warehouse/<schema>.db/`;
  after dbt, `expose_dbt_tables` makes each of them a view `<schema>.<table>` over `read_parquet` in
  the warehouse, so the same queries read them (a few hundred thousand rows of marts need no cluster).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.core.spark_inputs import write_spark_inputs
from spendsense_dagster.lib.core.sql import quote_identifier, sql_string

# Spark tables the Python stages read besides the marts (lib/ingest/statements/verdicts.py).
INTERMEDIATE_TABLES = ("int_statement_rows_deduplicated", "int_transactions_unioned")


def dbt_target_args(settings: Settings) -> list[str]:
    """dbt's --target for the engine (profiles.yml): none for DuckDB, the `spark` output for Spark."""
    return ["--target", "spark"] if settings.engine == "spark" else []


def prepare_dbt_inputs(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Before dbt: on Spark, the raw tables as Parquet where dbt's on-run-start registers them."""
    if settings.engine != "spark":
        return {}
    return write_spark_inputs(con, settings.warehouse_path)


def spark_table_dir(settings: Settings, schema: str, table: str) -> Path:
    """A Spark managed table's folder: `<warehouse>.spark/warehouse/<schema>.db/<table>` (profiles.yml)."""
    return settings.spark_warehouse_dir / "warehouse" / f"{schema}.db" / table


def _parquet_view_sql(folder: Path) -> str:
    """A select over a Spark table's Parquet files; partition folders (col=value) become columns, first."""
    partitions = sorted(
        {child.name.split("=", 1)[0] for child in folder.iterdir() if child.is_dir() and "=" in child.name}
    )
    if not partitions:
        return f"select * from read_parquet({sql_string(str(folder / '*.parquet'))})"
    # Spark writes partition values in folder names; as_of_date-style columns are dates.
    hive_types = ", ".join(f"{sql_string(name)}: 'date'" for name in partitions if name.endswith("_date"))
    source = (
        f"read_parquet({sql_string(str(folder / '**' / '*.parquet'))}, hive_partitioning = true"
        + (f", hive_types = {{{hive_types}}}" if hive_types else "")
        + ")"
    )
    columns = ", ".join(quote_identifier(name) for name in partitions)
    return f"select {columns}, * exclude ({columns}) from {source}"


def _spark_tables(settings: Settings) -> list[tuple[str, str, Path]]:
    tables = []
    marts = settings.spark_warehouse_dir / "warehouse" / "marts.db"
    if marts.is_dir():
        tables += [("marts", folder.name, folder) for folder in sorted(marts.iterdir()) if folder.is_dir()]
    for table in INTERMEDIATE_TABLES:
        folder = spark_table_dir(settings, "intermediate", table)
        if folder.is_dir():
            tables.append(("intermediate", table, folder))
    return tables


def expose_dbt_tables(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """After dbt: on Spark, every mart (and INTERMEDIATE_TABLES) as a view over its Parquet files, in one
    transaction; returns the views' names. On DuckDB the tables are already there: nothing to do."""
    if settings.engine != "spark":
        return []
    exposed = []
    con.begin()
    try:
        for schema, table, folder in _spark_tables(settings):
            if not any(folder.rglob("*.parquet")):
                continue  # an empty Spark table may have no file: DuckDB would fail to read the glob
            con.execute(f"create schema if not exists {quote_identifier(schema)}")
            name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            # A table of an earlier duckdb run stands in the way of the view.
            kind = con.execute(
                "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()
            if kind is not None and kind[0] == "BASE TABLE":
                con.execute(f"drop table {name}")
            con.execute(f"create or replace view {name} as {_parquet_view_sql(folder)}")
            exposed.append(f"{schema}.{table}")
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return exposed
