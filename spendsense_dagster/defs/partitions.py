"""Daily as-of partitions: partition D is the whole pipeline run as of day D (docs/orchestration.md).

Every asset is partitioned the same way, the ingest included (transactions after D are quarantined as
future_date for partition D). The warehouse holds one run's raw tables and marts at a time, so a
partition is materialized by one run, start to end, and runs go one at a time: backfills use one
partition per run, and `dagster.yaml` admits one run at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.ingest.latest_date import latest_transaction_date

DEFAULT_HISTORY_DAYS = 180
LATEST_DATE_CACHE = "latest_transaction_date.json"
ONE_PARTITION_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def utc_today() -> date:
    return datetime.now(UTC).date()


def default_as_of(settings: Settings) -> date:
    """The as-of date of a run that names none: the latest transaction date (not after today)."""
    cache = settings.warehouse_path.parent / LATEST_DATE_CACHE
    return latest_transaction_date(settings.raw_dir, utc_today(), cache) or utc_today()


def partitions_start(settings: Settings) -> date:
    """SPENDSENSE_PARTITIONS_START, else 180 days before the latest data."""
    if settings.partitions_start:
        return date.fromisoformat(settings.partitions_start)
    return default_as_of(settings) - timedelta(days=DEFAULT_HISTORY_DAYS)


def as_of_partitions(start: date) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, so the 23:30 schedule runs as of its own day.
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, timezone="UTC")


def partitioned(
    assets: Sequence[dg.AssetsDefinition], partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The assets with the daily partitions and one partition per backfill run (dagster-dbt would
    otherwise build a time-partitioned range in one dbt run)."""
    return [
        asset.map_asset_specs(
            lambda spec: spec.replace_attributes(partitions_def=partitions)
        ).with_attributes(backfill_policy=ONE_PARTITION_PER_RUN)
        for asset in assets
    ]
