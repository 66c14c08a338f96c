"""dbt models as Dagster assets: staging -> intermediate -> marts, dbt tests as asset checks."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.marts_reader import dbt_target_args, expose_dbt_tables, prepare_dbt_inputs
from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR, Settings
from spendsense_dagster.lib.core.sql import quote_identifier

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` on a fresh clone builds the manifest itself; the Makefile runs `dbt parse` otherwise.
dbt_project.prepare_if_dev()

# raw.run_context is written by the transactions ingest, so dbt's source points at that asset.
SOURCE_TABLE_TO_ASSET = {"run_context": "transactions"}
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PERSONA_MODELS = {"user_personas", "personas"}  # the mart and the registry seed it ranks by


class SpendSenseTranslator(DagsterDbtTranslator):
    """Keys are <schema>/<name>, so dbt sources meet the ingest assets (raw/users, ...) in one lineage."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props["name"]
            return dg.AssetKey(["raw", SOURCE_TABLE_TO_ASSET.get(table, table)])
        schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        return "personas" if dbt_resource_props["name"] in PERSONA_MODELS else "features"


# dbt's data tests on sources (raw.*) are checks of the ingest assets they test. Two sources
# (transactions, run_context) are one asset: the transactions ingest writes both tables.
translator = SpendSenseTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        enable_source_tests_as_checks=True,
        enable_duplicate_source_asset_keys=True,
    )
)


# The dbt command of every run. No --vars: the models read the run's as-of date and sign convention
# from raw.run_context, so the command never changes and dbt keeps its partial parse (a changed var
# forces a full re-parse of the project). dbt unit tests check the SQL on fixed rows, not the day's
# data: CI runs them (`make dbt-build`), a run does not. Each table is built beside the old one and
# swapped in by one transaction, so a run that fails or is killed leaves the previous table in place
# (docs/orchestration.md).
DBT_BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]


def _parse_state_path(warehouse_path: str, engine: str = "duckdb") -> Path:
    """Where the last dbt parse against this warehouse and engine is kept (both are in dbt's profile hash)."""
    key = hashlib.sha256(
        (warehouse_path if engine == "duckdb" else f"{warehouse_path}|{engine}").encode()
    ).hexdigest()[:16]
    return dbt_project.project_dir / dbt_project.target_path / "parse_state" / f"{key}.msgpack"


def _invocation_target(context: AssetExecutionContext, warehouse_path: str, engine: str = "duckdb") -> Path:
    """A fresh target folder for this dbt invocation, seeded with the warehouse's last parse state.

    dagster-dbt gives each invocation its own target folder and seeds it with the project's
    partial_parse.msgpack (from `dbt parse`), but never keeps the new one: without this, every run
    re-parses what differs from that first parse, e.g. the warehouse path.
    """
    name = f"{context.op_execution_context.op.name}-{context.run.run_id[:8]}-{uuid.uuid4().hex[:7]}"
    target = dbt_project.project_dir / dbt_project.target_path / name
    state = _parse_state_path(warehouse_path, engine)
    if state.is_file():
        target.mkdir(parents=True)
        shutil.copyfile(state, target / PARTIAL_PARSE_FILE)
    return target


def _keep_parse_state(target: Path, warehouse_path: str, engine: str = "duckdb") -> None:
    """This invocation's parse becomes the next one's start; replaced atomically, so a concurrent run
    reads the old file or the new one, never half of one."""
    produced = target / PARTIAL_PARSE_FILE
    if not produced.is_file():
        return
    state = _parse_state_path(warehouse_path, engine)
    state.parent.mkdir(parents=True, exist_ok=True)
    staging = state.with_name(f".{state.name}.{os.getpid()}")
    shutil.copyfile(produced, staging)
    os.replace(staging, state)


def read_run_context(spendsense: SpendSenseResource, partition_key: str) -> tuple[str, str]:
    """The as-of date and sign convention the ingest resolved, which must be this partition's."""
    with spendsense.connect() as con:
        row = con.execute("select as_of_date, amount_convention from raw.run_context").fetchone()
    if row is None:
        raise dg.Failure("raw.run_context is empty: materialize the ingest assets first")
    as_of_date = row[0].isoformat()
    if as_of_date != partition_key:
        raise dg.Failure(
            f"raw.run_context is as of {as_of_date}, but this is partition {partition_key}: materialize"
            f" raw/transactions for {partition_key} first (a partition runs start to end, one at a time)"
        )
    return as_of_date, row[1]


def _table_observations(
    spendsense: SpendSenseResource, keys: set[dg.AssetKey]
) -> dict[dg.AssetKey, dict[str, Any]]:
    """dagster/row_count (tables; a view would re-run its query) and dagster/column_schema per asset,
    read by this step with one connection once dbt has finished. dagster-dbt's fetch_row_counts()
    opens the file from this process while dbt's own process still writes it: in a trial it got its
    counts because both sides retry a refused connect, but it races dbt for DuckDB's single writer
    (docs/orchestration.md)."""
    names = {(key.path[0], key.path[-1]): key for key in keys if len(key.path) == 2}
    with spendsense.connect() as con:
        columns = con.execute(
            """
            select table_schema, table_name, column_name, data_type, t.table_type
            from information_schema.columns as c
            join information_schema.tables as t using (table_catalog, table_schema, table_name)
            order by table_schema, table_name, ordinal_position
            """
        ).fetchall()
        found: dict[dg.AssetKey, dict[str, Any]] = {}
        for schema, table, column, data_type, table_type in columns:
            key = names.get((schema, table))
            if key is None:
                continue
            entry = found.setdefault(key, {"columns": [], "is_table": table_type == "BASE TABLE"})
            entry["columns"].append(dg.TableColumn(column, data_type))
        tables = [
            (key, schema, table)
            for (schema, table), key in names.items()
            if found.get(key, {}).get("is_table")
        ]
        counts = {}
        if tables:
            union = " union all ".join(
                f"select {i} as i, count(*) from {quote_identifier(schema)}.{quote_identifier(table)}"
                for i, (_, schema, table) in enumerate(tables)
            )
            counts = {tables[i][0]: n for i, n in con.execute(union).fetchall()}
    metadata = {}
    for key, entry in found.items():
        metadata[key] = {"dagster/column_schema": dg.TableSchema(columns=entry["columns"])}
        if key in counts:
            metadata[key]["dagster/row_count"] = dg.MetadataValue.int(counts[key])
    return metadata


def _with_observations(context: AssetExecutionContext, events: list, spendsense: SpendSenseResource):
    """The buffered dbt events, materializations with their tables' row counts and column schemas."""
    outputs = {id(e): context.asset_key_for_output(e.output_name) for e in events if isinstance(e, dg.Output)}
    observed = _table_observations(spendsense, set(outputs.values()))
    for event in events:
        key = outputs.get(id(event))
        yield event.with_metadata({**event.metadata, **observed.get(key, {})}) if key else event


@contextmanager
def warehouse_env(settings: Settings) -> Iterator[None]:
    """dbt's profile reads the warehouse path and DuckDB's memory settings from these variables;
    DbtCliResource passes only os.environ to its subprocess."""
    config = settings.duckdb_config
    values = {
        "SPENDSENSE_WAREHOUSE": str(settings.warehouse_path),
        "SPENDSENSE_DUCKDB_MEMORY_LIMIT": config["memory_limit"],
        "SPENDSENSE_DUCKDB_TEMP_DIR": config["temp_directory"],
    }
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dbt_assets(
    manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, project=dbt_project, pool="duckdb"
)
def spendsense_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, spendsense: SpendSenseResource
):
    as_of_date, convention = read_run_context(spendsense, context.partition_key)
    context.log.info(f"dbt build as of {as_of_date} ({convention} sign convention)")
    settings = spendsense.settings
    target = _invocation_target(context, spendsense.warehouse_path, settings.engine)
    # The engine's inputs (docs/scaling.md, "Engines"): nothing on DuckDB, Parquet files for Spark.
    with spendsense.connect() as con:
        prepare_dbt_inputs(con, settings)
    # Held back until dbt has finished, then sent with the tables' counts and schemas (a failing
    # build still reports what it built before the error).
    events: list = []
    try:
        with warehouse_env(spendsense.settings):
            args = DBT_BUILD_ARGS + dbt_target_args(settings)
            events.extend(dbt.cli(args, context=context, target_path=target).stream())
    except Exception:
        yield from events  # what dbt built before the error, without counts: its error is the news
        raise
    _keep_parse_state(target, spendsense.warehouse_path, settings.engine)
    # The marts where the Python stages read them (marts_reader: nothing to do on DuckDB).
    with spendsense.connect() as con:
        exposed = expose_dbt_tables(con, settings)
    if exposed:
        context.log.info(f"{len(exposed)} Spark tables read through DuckDB views: {', '.join(exposed)}")
    yield from _with_observations(context, events, spendsense)
