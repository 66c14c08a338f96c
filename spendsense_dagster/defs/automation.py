"""Jobs and schedules: the whole pipeline once a day, as of that day."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.review.inputs import fingerprint, has_operator_input, review_inputs_state

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
    return dg.RunRequest(
        run_key=as_of_date, run_config=as_of_run_config(as_of_date), tags={"as_of": as_of_date}
    )


ingest_job = dg.define_asset_job(
    "spendsense_ingest",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load the raw files into the warehouse only (`spendsense ingest`, CI's dbt build).",
)

publish_job = dg.define_asset_job(
    "spendsense_publish",
    selection=dg.AssetSelection.groups("review", "evaluate"),
    description="Apply operator decisions and consent changes, republish approved items, metrics and exports."
    " Never recomputes features or calls the language model.",
)


@dg.sensor(job=publish_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def review_decisions_sensor(context: dg.SensorEvaluationContext, spendsense: SpendSenseResource):
    """A new decision (CLI or CSV) or consent change starts the publish job once."""
    state = review_inputs_state(Path(spendsense.review_dir))
    current = fingerprint(state)
    previous = context.cursor
    context.update_cursor(current)
    if previous == current:
        return dg.SkipReason("no new operator decisions or consent changes")
    if previous is None and not has_operator_input(state):
        return dg.SkipReason("no operator input yet")
    return dg.RunRequest(run_key=current)
