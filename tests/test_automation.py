from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.automation import daily_pipeline_schedule, review_decisions_sensor
from spendsense_dagster.defs.partitions import default_as_of, partitions_start
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.review.csv_decisions import UNAPPLIED_COLUMNS, UNAPPLIED_CSV_NAME, write_csv
from spendsense_dagster.lib.review.decision_log import decision_log_path
from tests.conftest import DATASETS


def test_the_daily_schedule_requests_its_own_days_partition_with_an_idempotent_run_key(tmp_path: Path):
    tick = dt.datetime(2025, 7, 1, 23, 30, tzinfo=dt.UTC)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, resources={"spendsense": _resource(tmp_path)}
    )
    request = daily_pipeline_schedule(context)
    assert request.run_key == "2025-07-01"
    assert request.partition_key == "2025-07-01"
    assert request.tags == {"as_of": "2025-07-01", "generator": "template", "trigger": "schedule"}


def _resource(tmp_path: Path, as_of: str | None = "2025-06-30") -> SpendSenseResource:
    """A warehouse whose last run was as of `as_of` (None: no run yet)."""
    warehouse = tmp_path / "w.duckdb"
    if as_of is not None:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema raw")
            con.execute("create table raw.run_context as select ?::date as as_of_date", [as_of])
    return SpendSenseResource(
        raw_dir=str(tmp_path / "raw"),
        warehouse_path=str(warehouse),
        review_dir=str(tmp_path / "review"),
        export_uri=str(tmp_path / "exports"),
    )


def _evaluate(resource: SpendSenseResource, cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor, resources={"spendsense": resource})
    return review_decisions_sensor(context), context.cursor


def test_the_review_sensor_starts_the_publish_job_once_per_new_decision(tmp_path: Path):
    resource = _resource(tmp_path)
    result, cursor = _evaluate(resource, None)
    assert isinstance(result, dg.SkipReason)  # no operator input yet

    log = decision_log_path(tmp_path / "review")
    log.parent.mkdir(parents=True)
    log.write_text('{"recommendation_id": "r1"}\n')
    result, cursor = _evaluate(resource, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.partition_key == "2025-06-30"  # the partition the warehouse holds
    assert result.tags["trigger"] == "sensor"
    result, cursor = _evaluate(resource, cursor)
    assert isinstance(result, dg.SkipReason)  # nothing new since

    with log.open("a") as handle:
        handle.write('{"recommendation_id": "r2"}\n')
    result, _ = _evaluate(resource, cursor)
    assert isinstance(result, dg.RunRequest)


def test_the_sensor_sees_typed_decisions_kept_as_unapplied_but_not_their_reasons(tmp_path: Path):
    resource = _resource(tmp_path)
    review_dir = tmp_path / "review"
    review_dir.mkdir()
    _, cursor = _evaluate(resource, None)
    row = dict.fromkeys(UNAPPLIED_COLUMNS, "") | {"recommendation_id": "r1", "decision": "approve"}
    write_csv(review_dir / UNAPPLIED_CSV_NAME, UNAPPLIED_COLUMNS, [row])
    result, cursor = _evaluate(resource, cursor)
    assert isinstance(result, dg.RunRequest)  # an operator may have fixed a kept decision

    # the publish job rewrites the file with the refusal reason: that alone starts nothing
    write_csv(review_dir / UNAPPLIED_CSV_NAME, UNAPPLIED_COLUMNS, [row | {"refusal_reason": "still stale"}])
    result, _ = _evaluate(resource, cursor)
    assert isinstance(result, dg.SkipReason)


def test_the_review_sensor_waits_for_a_first_run_without_losing_the_decision(tmp_path: Path):
    resource = _resource(tmp_path, as_of=None)
    log = decision_log_path(tmp_path / "review")
    log.parent.mkdir(parents=True)
    log.write_text('{"recommendation_id": "r1"}\n')
    result, cursor = _evaluate(resource, None)
    assert isinstance(result, dg.SkipReason) and "no run" in result.skip_message
    resource = _resource(tmp_path, as_of="2025-06-30")
    result, _ = _evaluate(resource, cursor)
    assert isinstance(result, dg.RunRequest) and result.partition_key == "2025-06-30"


def test_the_partitions_start_180_days_before_the_latest_data_unless_configured(tmp_path: Path):
    env = {
        "SPENDSENSE_RAW_DIR": str(DATASETS / "handmade_basic"),
        "SPENDSENSE_WAREHOUSE": str(tmp_path / "w.duckdb"),
    }
    settings = Settings.from_env(env)
    assert default_as_of(settings) == dt.date(2025, 6, 30)  # the latest transaction date of the files
    assert partitions_start(settings) == dt.date(2025, 6, 30) - dt.timedelta(days=180)
    configured = Settings.from_env({**env, "SPENDSENSE_PARTITIONS_START": "2025-01-15"})
    assert partitions_start(configured) == dt.date(2025, 1, 15)
    with pytest.raises(ValueError, match="SPENDSENSE_PARTITIONS_START must be a date"):
        Settings.from_env({**env, "SPENDSENSE_PARTITIONS_START": "2025-13-01"})

    graph = build_definitions(configured).resolve_asset_graph()
    for key in (dg.AssetKey(["raw", "transactions"]), dg.AssetKey(["marts", "persona_history"])):
        node = graph.get(key)
        assert node.partitions_def.start.date() == dt.date(2025, 1, 15)
        assert node.backfill_policy.max_partitions_per_run == 1  # one partition per run, never a range
