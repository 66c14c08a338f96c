"""dbt models as Dagster assets: staging -> intermediate -> marts, dbt tests as asset checks."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR
from spendsense_dagster.lib.core.sql import quote_identifier

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` on a fresh clone builds the manifest itself; the Makefile runs `dbt parse` otherwise.
dbt_project.prepare_if_dev()

# raw.run_context is written by the transactions ingest, so dbt's source points at that asset.
SOURCE_TABLE_TO_ASSET = {"run_context": "transactions"}
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


# dbt's data tests on sources (raw.*) are checks of the ingest assets they test.
translator = SpendSenseTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=True)
)


def dbt_build_args(as_of_date: str, amount_convention: str) -> list[str]:
    """The dbt command for one run: every window is computed as of the run's date (docs/features.md).

    dbt unit tests check the SQL on fixed rows, not the day's data: CI runs them (`make dbt-build`), a
    run does not. Each table is built beside the old one and swapped in by one transaction, so a run
    that fails or is killed leaves the previous table in place (docs/orchestration.md).
    """
    variables = {"as_of_date": as_of_date, "amount_convention": amount_convention}
    return ["build", "--vars", json.dumps(variables, sort_keys=True), "--exclude-resource-type", "unit_test"]


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
def warehouse_env(warehouse_path: str) -> Iterator[None]:
    """dbt's profile reads SPENDSENSE_WAREHOUSE; DbtCliResource passes only os.environ to its subprocess."""
    previous = os.environ.get("SPENDSENSE_WAREHOUSE")
    os.environ["SPENDSENSE_WAREHOUSE"] = warehouse_path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SPENDSENSE_WAREHOUSE", None)
        else:
            os.environ["SPENDSENSE_WAREHOUSE"] = previous


@dbt_assets(
    manifest=dbt_project.manifest_path, dagster_dbt_translator=translator, project=dbt_project, pool="duckdb"
)
def spendsense_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, spendsense: SpendSenseResource
):
    as_of_date, convention = read_run_context(spendsense, context.partition_key)
    context.log.info(f"dbt build as of {as_of_date} ({convention} sign convention)")
    # Held back until dbt has finished, then sent with the tables' counts and schemas (a failing
    # build still reports what it built before the error).
    events: list = []
    try:
        with warehouse_env(spendsense.warehouse_path):
            events.extend(dbt.cli(dbt_build_args(as_of_date, convention), context=context).stream())
    except Exception:
        yield from events  # what dbt built before the error, without counts: its error is the news
        raise
    yield from _with_observations(context, events, spendsense)
