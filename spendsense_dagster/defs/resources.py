"""Resources: the warehouse (DuckDB), the dbt CLI and the pipeline's settings, all from one `Settings`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR, Settings

PATH_FIELDS = {"raw_dir", "warehouse_path", "review_dir"}


class SpendSenseResource(dg.ConfigurableResource):
    """`Settings` as a Dagster resource (same field names), plus the warehouse connection.

    Asset bodies never read os.environ: everything comes through here.
    """

    raw_dir: str
    warehouse_path: str
    review_dir: str
    export_uri: str
    amount_convention: str = "spendsense"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    s3_endpoint_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SpendSenseResource:
        values = {f.name: getattr(settings, f.name) for f in fields(Settings)}
        return cls(**{name: str(v) if isinstance(v, Path) else v for name, v in values.items()})

    @property
    def settings(self) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(Settings)}
        return Settings(**{name: Path(v) if name in PATH_FIELDS else v for name, v in values.items()})

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short-lived connection per step: DuckDB allows one writer, so never hold the file open."""
        path = Path(self.warehouse_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
        try:
            yield con
        finally:
            con.close()


def dbt_executable() -> str:
    """The dbt beside this interpreter: `.venv/bin/spendsense` runs without an activated venv on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )
