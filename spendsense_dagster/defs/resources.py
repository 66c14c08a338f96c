"""Resources: the warehouse (DuckDB), the dbt CLI and the pipeline's settings, all from one `Settings`."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from packaging import version

from spendsense_dagster.lib.core.locks import connect_warehouse
from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR, SECRET_ENV_VARS, Settings

PATH_FIELDS = {"raw_dir", "warehouse_path", "review_dir", "duckdb_temp_directory"}


class SpendSenseResource(dg.ConfigurableResource):
    """`Settings` as a Dagster resource (same field names), plus the warehouse connection.

    Asset bodies never read os.environ: everything comes through here. Secrets are configured as
    `dg.EnvVar` (see `from_settings`): the UI shows the variable's name, never its value.
    """

    raw_dir: str
    warehouse_path: str
    review_dir: str
    export_uri: str
    # Defaults are Settings' own (one home); `from_settings` fills every field anyway.
    amount_convention: str = Settings.amount_convention
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = Settings.openai_model
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    s3_max_attempts: int = Settings.s3_max_attempts
    lock_wait_seconds: float = Settings.lock_wait_seconds
    max_abs_amount: float = Settings.max_abs_amount
    max_abs_balance: float = Settings.max_abs_balance
    max_credit_limit: float = Settings.max_credit_limit
    max_apr: float = Settings.max_apr
    partitions_start: str | None = None
    duckdb_memory_limit: str = Settings.duckdb_memory_limit
    duckdb_temp_directory: str | None = None
    recommendation_shards: int = Settings.recommendation_shards
    guardrail_workers: int = Settings.guardrail_workers
    engine: str = Settings.engine

    @classmethod
    def from_settings(cls, settings: Settings) -> SpendSenseResource:
        values = {f.name: getattr(settings, f.name) for f in fields(Settings)}
        config = {name: str(v) if isinstance(v, Path) else v for name, v in values.items()}
        for name, variable in SECRET_ENV_VARS.items():
            if config[name] is None:
                continue
            if os.environ.get(variable) != config[name]:
                raise ValueError(
                    f"{name} must come from the environment variable {variable}, so that Dagster shows"
                    " its name and never its value"
                )
            config[name] = dg.EnvVar(variable)
        return cls(**config)

    @property
    def settings(self) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(Settings)}
        return Settings(
            **{name: Path(v) if name in PATH_FIELDS and v is not None else v for name, v in values.items()}
        )

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short-lived connection per step: DuckDB allows one writer, so never hold the file open.

        When another process holds the file, wait (bounded by lock_wait_seconds) and say so in the log.
        """
        path = Path(self.warehouse_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = connect_warehouse(
            path,
            read_only=read_only,
            wait_seconds=self.lock_wait_seconds,
            on_wait=dg.get_dagster_logger().warning,
            config=self.settings.duckdb_config,
        )
        try:
            yield con
        finally:
            con.close()


def dbt_executable() -> str:
    """The dbt beside this interpreter: `.venv/bin/spendsense` runs without an activated venv on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class SpendSenseDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two fixed costs of every dbt step (docs/performance.md).

    Before each invocation DbtCliResource runs `dbt --version` in a subprocess (a full dbt start-up,
    to tell dbt Core from dbt Fusion) and builds a dbt adapter in this process (loading every macro)
    for `fetch_row_counts()` and `fetch_column_metadata()`. The dbt here is the dbt-core installed
    beside this interpreter, and the dbt step reads its tables' counts and columns itself once dbt
    has finished (defs/transform.py), so neither is needed.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return SpendSenseDbtCli(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )
