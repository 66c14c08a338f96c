"""Runs the real Dagster jobs in-process against a real DuckDB file, for the end-to-end tests."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.partitions import default_as_of
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.core.warehouse import run_as_of

DATASETS = Path(__file__).resolve().parent / "datasets"
HANDMADE_AS_OF = "2025-06-30"


@contextmanager
def environment(**values: str | None):
    """Set (or with None, unset) environment variables for the duration of a block."""
    previous = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def workspace_env(root: Path, raw_dir: Path, **extra: str | None) -> dict[str, str | None]:
    return {
        "SPENDSENSE_RAW_DIR": str(raw_dir),
        "SPENDSENSE_WAREHOUSE": str(root / "warehouse" / "spendsense.duckdb"),
        "SPENDSENSE_REVIEW_DIR": str(root / "review"),
        "SPENDSENSE_EXPORT_URI": str(root / "exports"),
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
        **extra,
    }


def run_pipeline(as_of: str | None = HANDMADE_AS_OF) -> dg.ExecuteInProcessResult:
    """The whole daily job of the real Definitions, settings from the current environment: the partition
    `as_of` (None: the latest transaction date, as `spendsense run` picks it)."""
    settings = Settings.from_env()
    job = build_definitions(settings).resolve_job_def("spendsense_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            partition_key=as_of or default_as_of(settings).isoformat(), instance=instance
        )
    assert result.success
    return result


def run_groups(*groups: str, partition: str | None = None) -> dg.ExecuteInProcessResult:
    """Only the assets of these groups (e.g. the review job's), upstream tables taken as they are: the
    partition given, else the one the warehouse holds, as the publish job's sensor picks it."""
    defs = build_definitions(Settings.from_env())
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        assets,
        selection=dg.AssetSelection.groups(*groups),
        resources=defs.resources,
        partition_key=partition or current_partition(),
    )
    assert result.success
    return result


def current_partition() -> str:
    """The as-of date the configured warehouse holds (raw.run_context): the partition a publish job
    re-runs, as the review sensor picks it."""
    with duckdb.connect(str(Settings.from_env().warehouse_path), read_only=True) as con:
        return run_as_of(con).isoformat()


def copy_workspace(source: Path, target: Path) -> None:
    """A test that changes decisions or consent works on its own copy of a materialized workspace."""
    shutil.copytree(source, target, dirs_exist_ok=True)


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
