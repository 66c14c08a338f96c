"""The raw tables dbt reads, handed to Spark (SPENDSENSE_ENGINE=spark, docs/scaling.md "Engines").

The ingest stays in DuckDB (it validates and quarantines); before dbt builds on Spark, each raw table
the models read is written as Parquet under `<warehouse>.spark/inputs/raw/<table>/`, where dbt's
on-run-start macro `register_spark_inputs` declares it as an external table `raw.<table>`. Written
anew each run: a table's folder is replaced whole, so Spark never sees half of a previous run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.sql import quote_identifier, sql_string

# dbt's raw sources (dbt_project/models/staging/_sources.yml), in the order the ingest writes them.
RAW_SOURCE_TABLES = (
    "users",
    "accounts",
    "transactions",
    "liabilities",
    "products",
    "run_context",
    "rejected_records",
    "statement_files",
    "statement_rows",
)


def spark_inputs_dir(warehouse_path: Path) -> Path:
    """`<warehouse>.spark/inputs`: the folder dbt's register_spark_inputs macro reads (profiles.yml)."""
    return Path(f"{warehouse_path}.spark") / "inputs"


def write_spark_inputs(con: duckdb.DuckDBPyConnection, warehouse_path: Path) -> dict[str, int]:
    """Every raw source table as Parquet for Spark; returns the rows written per table."""
    root = spark_inputs_dir(warehouse_path) / "raw"
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in RAW_SOURCE_TABLES:
        relation = f"raw.{quote_identifier(table)}"
        final = root / table
        staging = root / f".{table}.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        # Spark reads the folder; one file keeps a small table one task.
        target = sql_string(str(staging / "part-0.parquet"))
        con.execute(f"copy (select * from {relation}) to {target} (format parquet)")
        counts[table] = con.execute(f"select count(*) from {relation}").fetchone()[0]
        previous = root / f".{table}.old"
        shutil.rmtree(previous, ignore_errors=True)
        if final.exists():
            final.rename(previous)
        staging.rename(final)
        shutil.rmtree(previous, ignore_errors=True)
    return counts


if __name__ == "__main__":  # `make dbt-build-spark`: the inputs of the warehouse SPENDSENSE_WAREHOUSE names
    from spendsense_dagster.lib.core.settings import Settings

    settings = Settings.from_env()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        for name, rows in write_spark_inputs(connection, settings.warehouse_path).items():
            print(f"raw.{name}: {rows} rows")
