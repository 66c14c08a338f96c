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


translator = SpendSenseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_build_args(as_of_date: str, amount_convention: str) -> list[str]:
    """The dbt command for one run: every window is computed as of the run's date (docs/features.md).

    dbt unit tests check the SQL on fixed rows, not the day's data: CI runs them (`make dbt-build`), a
    run does not. Each table is built beside the old one and swapped in by one transaction, so a run
    that fails or is killed leaves the previous table in place (docs/orchestration.md).
    """
    variables = {"as_of_date": as_of_date, "amount_convention": amount_convention}
    return ["build", "--vars", json.dumps(variables, sort_keys=True), "--exclude-resource-type", "unit_test"]


def read_run_context(spendsense: SpendSenseResource) -> tuple[str, str]:
    """The as-of date and sign convention the ingest resolved for this run."""
    with spendsense.connect() as con:
        row = con.execute("select as_of_date, amount_convention from raw.run_context").fetchone()
    if row is None:
        raise dg.Failure("raw.run_context is empty: materialize the ingest assets first")
    return row[0].isoformat(), row[1]


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
    as_of_date, convention = read_run_context(spendsense)
    context.log.info(f"dbt build as of {as_of_date} ({convention} sign convention)")
    with warehouse_env(spendsense.warehouse_path):
        yield from dbt.cli(dbt_build_args(as_of_date, convention), context=context).stream()
