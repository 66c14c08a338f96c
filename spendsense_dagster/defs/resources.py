"""Resources: the warehouse (DuckDB), the dbt CLI and the pipeline's settings, all from one `Settings`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from spendsense_dagster.lib.settings import DBT_PROJECT_DIR, Settings


class SpendSenseResource(dg.ConfigurableResource):
    """Where the data lives and how to read it. Built from `Settings`; asset bodies never read os.environ."""

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
    def from_settings(cls, settings: Settings) -> "SpendSenseResource":
        return cls(
            raw_dir=str(settings.raw_dir),
            warehouse_path=str(settings.warehouse_path),
            review_dir=str(settings.review_dir),
            export_uri=settings.export_uri,
            amount_convention=settings.amount_convention,
            openai_api_key=settings.openai_api_key,
            openai_base_url=settings.openai_base_url,
            openai_model=settings.openai_model,
            s3_endpoint_url=settings.s3_endpoint_url,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            raw_dir=Path(self.raw_dir),
            warehouse_path=Path(self.warehouse_path),
            review_dir=Path(self.review_dir),
            export_uri=self.export_uri,
            amount_convention=self.amount_convention,
            openai_api_key=self.openai_api_key,
            openai_base_url=self.openai_base_url,
            openai_model=self.openai_model,
            s3_endpoint_url=self.s3_endpoint_url,
        )

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
