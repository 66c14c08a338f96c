"""Jobs and schedules: the whole pipeline once a day, as of that day."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at definition time.
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.locks import WarehouseBusy, connect_warehouse
from spendsense_dagster.lib.core.warehouse import RunContextMissing, run_as_of
from spendsense_dagster.lib.review.inputs import fingerprint, has_operator_input, review_inputs_state

pipeline_job = dg.define_asset_job(
    "spendsense_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest, features, personas, recommendations, review, evaluation and exports, as of the"
    " partition's date.",
)


def run_tags(as_of_date: str, generator: str, trigger: str) -> dict[str, str]:
    """Tags every run carries: its as-of date, the generator (openai or template) and what started it
    (cli, backfill, schedule, sensor); a UI backfill's runs carry Dagster's own dagster/backfill."""
    return {"as_of": as_of_date, "generator": generator, "trigger": trigger}


@dg.schedule(job=pipeline_job, cron_schedule="30 23 * * *", execution_timezone="UTC")
def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext, spendsense: SpendSenseResource):
    """Late in the day so the day's transactions are in: the day's partition; the run key makes a
    day's re-run idempotent."""
    as_of_date = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=as_of_date,
        partition_key=as_of_date,
        tags=run_tags(as_of_date, spendsense.settings.generator_name, "schedule"),
    )


SENSOR_WAIT_SECONDS = 10.0

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
    """A new decision (CLI or CSV) or consent change starts the publish job once, for the partition
    the warehouse holds."""
    state = review_inputs_state(Path(spendsense.review_dir))
    current = fingerprint(state)
    previous = context.cursor
    context.update_cursor(current)
    if previous == current:
        return dg.SkipReason("no new operator decisions or consent changes")
    if previous is None and not has_operator_input(state):
        return dg.SkipReason("no operator input yet")
    try:
        as_of_date = latest_as_of(spendsense)
    except WarehouseBusy:
        context.update_cursor(previous)  # seen again on the next tick
        return dg.SkipReason("the warehouse is busy (a run is writing it): trying again on the next tick")
    if as_of_date is None:
        context.update_cursor(previous)  # seen again once a run has made a partition to publish
        return dg.SkipReason("no run has materialized an as-of date yet")
    return dg.RunRequest(
        run_key=current,
        partition_key=as_of_date,
        tags=run_tags(as_of_date, spendsense.settings.generator_name, "sensor"),
    )


def latest_as_of(spendsense: SpendSenseResource) -> str | None:
    """The partition the warehouse holds now (raw.run_context): the one the publish job republishes.

    A sensor must answer quickly: a warehouse held by a run raises WarehouseBusy after a short wait."""
    path = Path(spendsense.warehouse_path)
    if not path.exists():
        return None
    con = connect_warehouse(path, read_only=True, wait_seconds=SENSOR_WAIT_SECONDS, on_wait=lambda _: None)
    try:
        return run_as_of(con).isoformat()
    except RunContextMissing:
        return None
    finally:
        con.close()
