"""CSV bank statements (docs/statements.md): the files into raw.statement_rows before dbt, and the
rows' verdicts (rejected, duplicate) into raw.rejected_records after dbt's statement models."""

# No `from __future__ import annotations`: Dagster inspects annotations at definition time.
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.ingest.statements.decoding import StatementFileError
from spendsense_dagster.lib.ingest.statements.loader import ingest_statements
from spendsense_dagster.lib.ingest.statements.verdicts import StatementVerdicts, publish_statement_verdicts

STATEMENT_FILES_KEY = dg.AssetKey(["raw", "statement_files"])
STATEMENT_ROWS_KEY = dg.AssetKey(["raw", "statement_rows"])
VERDICTS_KEY = dg.AssetKey(["raw", "statement_verdicts"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            STATEMENT_FILES_KEY,
            group_name="ingest",
            kinds={"duckdb", "python"},
            description="One row per CSV statement under <raw dir>/statements/<account_id>/: encoding,"
            " delimiter, headers and the column of each role.",
        ),
        dg.AssetSpec(
            STATEMENT_ROWS_KEY,
            group_name="ingest",
            kinds={"duckdb", "python"},
            description="One row per statement line, its cells as text by role. A file that cannot be"
            " read or whose headers cannot be mapped fails the load, naming the file and its headers.",
        ),
    ],
    pool="duckdb",
)
def raw_statements(spendsense: SpendSenseResource):
    try:
        with spendsense.connect() as con:
            load = ingest_statements(con, Path(spendsense.raw_dir), spendsense.settings.max_abs_amount)
    except StatementFileError as error:
        # The message names the file and what is wrong with it (its headers, its encoding, ...).
        raise dg.Failure(description=str(error)) from error
    yield dg.MaterializeResult(
        asset_key=STATEMENT_FILES_KEY,
        metadata={"files": dg.MetadataValue.json(load.files), "dagster/row_count": len(load.files)},
    )
    yield dg.MaterializeResult(asset_key=STATEMENT_ROWS_KEY, metadata={"dagster/row_count": load.rows_read})


def _verdict_metadata(verdicts: StatementVerdicts) -> dict:
    reasons = "\n".join(f"| {reason} | {n} |" for reason, n in verdicts.rejected_by_reason.items())
    share = verdicts.uncategorized_share
    return {
        "files": verdicts.files,
        "rows_read": verdicts.rows_read,
        "accepted": verdicts.accepted,
        "duplicates": verdicts.duplicates,
        "rejected": verdicts.rejected,
        "uncategorized_share": dg.MetadataValue.float(share if share is not None else 0.0),
        "rejections_by_reason": dg.MetadataValue.md(
            "| reason | rows |\n| --- | --- |\n" + reasons if reasons else "no rejected rows"
        ),
    }


@dg.asset(
    key=VERDICTS_KEY,
    group_name="features",
    kinds={"duckdb", "python"},
    pool="duckdb",
    deps=[
        dg.AssetKey(["intermediate", "int_statement_rows_deduplicated"]),
        dg.AssetKey(["intermediate", "int_transactions_unioned"]),
    ],
    description="Rejected and duplicate statement rows into raw.rejected_records (entity statement_rows),"
    " with the file, line, reason and the kept id of a duplicate.",
    check_specs=[dg.AssetCheckSpec("row_conservation", asset=VERDICTS_KEY, blocking=True)],
)
def statement_verdicts(spendsense: SpendSenseResource):
    with spendsense.connect() as con:
        verdicts = publish_statement_verdicts(con)
    yield dg.MaterializeResult(metadata=_verdict_metadata(verdicts))
    yield dg.AssetCheckResult(
        check_name="row_conservation",
        passed=verdicts.rows_read == verdicts.accepted + verdicts.duplicates + verdicts.rejected,
        metadata={
            "read": verdicts.rows_read,
            "accepted": verdicts.accepted,
            "duplicates": verdicts.duplicates,
            "rejected": verdicts.rejected,
        },
    )


statement_assets = [raw_statements, statement_verdicts]
