"""The one entry point: Definitions for `dagster dev` (workspace.yaml), the CLI and the tests."""

from __future__ import annotations

from datetime import date

import dagster as dg

from spendsense_dagster.defs.automation import (
    daily_pipeline_schedule,
    ingest_job,
    pipeline_job,
    publish_job,
    review_decisions_sensor,
)
from spendsense_dagster.defs.evaluate import evaluate_assets, evaluate_checks
from spendsense_dagster.defs.ingest import ingest_assets
from spendsense_dagster.defs.partitions import as_of_partitions, partitioned, partitions_start
from spendsense_dagster.defs.recommend import recommend_assets
from spendsense_dagster.defs.resources import SpendSenseResource, dbt_resource
from spendsense_dagster.defs.review import review_assets
from spendsense_dagster.defs.statements import statement_assets
from spendsense_dagster.defs.transform import spendsense_dbt_models
from spendsense_dagster.lib.core.settings import Settings


def build_definitions(
    settings: Settings,
    start: date | None = None,
    executor: dg.ExecutorDefinition = dg.in_process_executor,
    extra_resources: dict | None = None,
) -> dg.Definitions:
    """`start`: the first partition when not the configured or default one (the CLI's earlier --as-of).

    `executor` and `extra_resources`: the Kubernetes code location's step-per-pod executor and shared
    IO manager (spendsense_dagster/k8s_definitions.py, docs/scaling.md); locally, steps run in-process.
    """
    partitions = as_of_partitions(start or partitions_start(settings))
    assets = [
        *ingest_assets,
        *statement_assets,
        spendsense_dbt_models,
        *recommend_assets,
        *review_assets,
        *evaluate_assets,
    ]
    return dg.Definitions(
        assets=partitioned(assets, partitions),
        asset_checks=evaluate_checks,
        jobs=[pipeline_job, ingest_job, publish_job],
        sensors=[review_decisions_sensor],
        schedules=[daily_pipeline_schedule],
        resources={
            "spendsense": SpendSenseResource.from_settings(settings),
            "dbt": dbt_resource(),
            **(extra_resources or {}),
        },
        # DuckDB allows one writer: the in-process executor runs the steps of a run one at a time.
        executor=executor,
    )


defs = build_definitions(Settings.from_env())
