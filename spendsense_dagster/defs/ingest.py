"""raw/* assets: one per input file, JSON (array or NDJSON) or Parquet into DuckDB, bad rows quarantined."""

# No `from __future__ import annotations`: Dagster inspects config annotations at definition time.
from datetime import date
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.metadata import OWNERS, PACKAGE, TAGS, code_version
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.settings import CATALOG_PATH
from spendsense_dagster.lib.ingest import loader as ingest
from spendsense_dagster.lib.ingest.entities import PlausibilityBounds

CODE_VERSION = code_version(PACKAGE / "lib" / "ingest", PACKAGE / "defs" / "ingest.py")


def _load_metadata(load: ingest.EntityLoad) -> dict:
    reasons = "\n".join(
        f"| {reason} | {count} |" for reason, count in sorted(load.rejected_by_reason.items())
    )
    metadata = {
        "files": dg.MetadataValue.json(load.files),
        "records_read": dg.MetadataValue.int(load.records_read),
        "dagster/row_count": dg.MetadataValue.int(load.accepted),
        "rejected": dg.MetadataValue.int(load.rejected),
        "rejections_by_reason": dg.MetadataValue.md(
            "| reason | records |\n| --- | --- |\n" + reasons if reasons else "no rejected records"
        ),
    }
    if load.as_of_date is not None:
        metadata["as_of_date"] = dg.MetadataValue.text(load.as_of_date.isoformat())
    return metadata


def _conservation_check(load: ingest.EntityLoad) -> dg.AssetCheckResult:
    """Every record read lands in exactly one place: the clean table or raw.rejected_records."""
    return dg.AssetCheckResult(
        check_name="row_conservation",
        passed=load.records_read == load.accepted + load.rejected,
        metadata={"read": load.records_read, "accepted": load.accepted, "rejected": load.rejected},
    )


def _ingest_asset(entity: str, deps: list[str], description: str, *, bounded: bool = False):
    """A raw/<entity> asset that loads its files and reports row conservation as a check; `bounded`
    entities hold numbers checked against the configured plausibility bounds."""
    load_fn = getattr(ingest, f"ingest_{entity}")

    @dg.asset(
        key=["raw", entity],
        group_name="ingest",
        owners=OWNERS,
        tags=TAGS,
        code_version=CODE_VERSION,
        kinds={"duckdb", "python"},
        pool="duckdb",
        deps=[dg.AssetKey(["raw", dep]) for dep in deps],
        description=description,
        check_specs=[
            dg.AssetCheckSpec("row_conservation", asset=dg.AssetKey(["raw", entity]), blocking=True)
        ],
    )
    def _asset(spendsense: SpendSenseResource):
        options = {"bounds": PlausibilityBounds.from_settings(spendsense.settings)} if bounded else {}
        with spendsense.connect() as con:
            load = load_fn(con, Path(spendsense.raw_dir), **options)
        yield dg.MaterializeResult(metadata=_load_metadata(load))
        yield _conservation_check(load)

    return _asset


raw_users = _ingest_asset("users", [], "People: customers and operators, with consent status.")
raw_accounts = _ingest_asset(
    "accounts", ["users"], "Accounts of known users; orphans and bad limits rejected.", bounded=True
)
raw_liabilities = _ingest_asset(
    "liabilities", ["accounts"], "Credit card and loan terms per account.", bounded=True
)


@dg.asset(
    key=["raw", "transactions"],
    group_name="ingest",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"duckdb", "python"},
    pool="duckdb",
    deps=[dg.AssetKey(["raw", "accounts"])],
    description="Transactions of known accounts up to the as-of date (the partition key), which it records"
    " in raw.run_context; later ones are quarantined as future_date.",
    check_specs=[
        dg.AssetCheckSpec("row_conservation", asset=dg.AssetKey(["raw", "transactions"]), blocking=True)
    ],
)
def raw_transactions(context: dg.AssetExecutionContext, spendsense: SpendSenseResource):
    # The partition key is the run's as-of date (defs/partitions.py); it reaches dbt via raw.run_context.
    with spendsense.connect() as con:
        load = ingest.ingest_transactions(
            con,
            Path(spendsense.raw_dir),
            date.fromisoformat(context.partition_key),
            spendsense.amount_convention,
            bounds=PlausibilityBounds.from_settings(spendsense.settings),
        )
    yield dg.MaterializeResult(metadata=_load_metadata(load))
    yield _conservation_check(load)


@dg.asset(
    key=["raw", "products"],
    group_name="ingest",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"duckdb", "python"},
    pool="duckdb",
    description="The partner product catalog committed in data/product_catalog.json.",
    check_specs=[
        dg.AssetCheckSpec("row_conservation", asset=dg.AssetKey(["raw", "products"]), blocking=True)
    ],
)
def raw_products(spendsense: SpendSenseResource):
    with spendsense.connect() as con:
        load = ingest.ingest_products(con, CATALOG_PATH)
    yield dg.MaterializeResult(metadata=_load_metadata(load))
    yield _conservation_check(load)


ingest_assets = [raw_users, raw_accounts, raw_transactions, raw_liabilities, raw_products]
