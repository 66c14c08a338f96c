"""Jobs and schedules: the whole pipeline once a day, as of that day."""

from __future__ import annotations

import dagster as dg

# The op that owns the run's as-of date (see defs/ingest.py AsOfConfig).
AS_OF_OP = "raw__transactions"

pipeline_job = dg.define_asset_job(
    "spendsense_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest, features, personas, recommendations, review, evaluation and exports.",
)


def as_of_run_config(as_of_date: str | None) -> dict:
    """Run config that pins every window of a run to one as-of date (None: latest transaction date)."""
    return {"ops": {AS_OF_OP: {"config": {"as_of_date": as_of_date}}}}


@dg.schedule(job=pipeline_job, cron_schedule="30 23 * * *", execution_timezone="UTC")
def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Late in the day so the day's transactions are in; the run key makes a day's re-run idempotent."""
    as_of_date = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=as_of_date, run_config=as_of_run_config(as_of_date), tags={"as_of": as_of_date})

ingest_job = dg.define_asset_job(
    "spendsense_ingest",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load the raw files into the warehouse only (used by `spendsense ingest` and CI's dbt build).",
)
