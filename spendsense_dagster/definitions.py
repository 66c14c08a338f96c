"""The one entry point: Definitions for `dagster dev` (workspace.yaml), the CLI and the tests."""

from __future__ import annotations

import dagster as dg

from spendsense_dagster.defs.automation import daily_pipeline_schedule, ingest_job, pipeline_job
from spendsense_dagster.defs.ingest import ingest_assets
from spendsense_dagster.defs.resources import SpendSenseResource, dbt_resource
from spendsense_dagster.defs.transform import spendsense_dbt_models
from spendsense_dagster.lib.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*ingest_assets, spendsense_dbt_models],
        jobs=[pipeline_job, ingest_job],
        schedules=[daily_pipeline_schedule],
        resources={"spendsense": SpendSenseResource.from_settings(settings), "dbt": dbt_resource()},
        # DuckDB allows one writer: the in-process executor runs the steps of a run one at a time.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
