"""Load the input folder into the `raw` schema (docs/data_contract.md, docs/ingest.md).

One function per entity, called in dependency order: users -> accounts -> (transactions, liabilities);
products are independent. Each stages its records in `raw._loading_<entity>` (ingest_checks), then
publishes in one short transaction: the staged table replaces the clean table and the entity's rows
of `raw.rejected_records` are replaced. Re-ingesting the same files therefore gives the same tables,
and a file that cannot be read (IngestError) leaves the previous tables untouched.

The connection must be in autocommit mode (no open transaction): DuckDB aborts a whole transaction
on a failed statement, and the fast JSON reader is allowed to fail on a file before the tolerant one
reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.settings import AMOUNT_CONVENTIONS
from spendsense_dagster.lib.core.sql import sql_string
from spendsense_dagster.lib.ingest.checks import (
    REJECTED_TABLE,
    delete_rejected_sql,
    drop_helper_columns_sql,
    fill_owner_sql,
    rejections_sql,
    stage_file_sql,
    staging_table,
    staging_table_ddl,
)
from spendsense_dagster.lib.ingest.entities import (
    ACCOUNTS,
    DEFAULT_BOUNDS,
    ENTITIES,
    LIABILITIES,
    PRODUCTS,
    TRANSACTIONS,
    USERS,
    EntitySpec,
    PlausibilityBounds,
)
from spendsense_dagster.lib.ingest.sources import (
    IngestError,
    SourceFile,
    count_records_sql,
    find_source_files,
    insertion_order,
    numbered_records,
    record_payloads_sql,
    unreadable_file_error,
)

__all__ = [
    "EntityLoad",
    "IngestError",
    "conservation_check",
    "ingest_accounts",
    "ingest_liabilities",
    "ingest_products",
    "ingest_transactions",
    "ingest_users",
]

# The rejected records of the entity being loaded, with their payloads, ready to publish.
_REJECTED_RECORDS_TABLE = "_ingest_rejected_records"


@dataclass(frozen=True)
class EntityLoad:
    """What one entity's ingest read and where the records went (records_read = accepted + rejected)."""

    entity: str
    files: list[str]
    records_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    as_of_date: date | None = None


def ingest_users(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> EntityLoad:
    return _ingest(con, USERS, _required_sources(raw_dir, USERS))


def ingest_accounts(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, *, bounds: PlausibilityBounds = DEFAULT_BOUNDS
) -> EntityLoad:
    """Needs raw.users: an account of a user not there is rejected as orphan_user."""
    return _ingest(con, ACCOUNTS, _required_sources(raw_dir, ACCOUNTS), bounds=bounds)


def ingest_transactions(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    as_of: date | None,
    amount_convention: str = "spendsense",
    *,
    today: date | None = None,
    bounds: PlausibilityBounds = DEFAULT_BOUNDS,
) -> EntityLoad:
    """Needs raw.accounts. Resolves the as-of date and rewrites raw.run_context with it.

    The as-of date is `as_of` when given; else the latest transaction date not after `today` (the UTC
    date when not given) among records whose fields pass the per-record checks; else, when every date
    is later, the latest of them; else (no such record) `today`.
    """
    if amount_convention not in AMOUNT_CONVENTIONS:
        raise ValueError(f"amount_convention must be one of {AMOUNT_CONVENTIONS}, got {amount_convention!r}")
    run_context = _RunContext(
        as_of=as_of,
        amount_convention=amount_convention,
        raw_dir=raw_dir,
        today=today or datetime.now(UTC).date(),
    )
    return _ingest(con, TRANSACTIONS, _required_sources(raw_dir, TRANSACTIONS), run_context, bounds)


def ingest_liabilities(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, *, bounds: PlausibilityBounds = DEFAULT_BOUNDS
) -> EntityLoad:
    """Needs raw.accounts. Optional input: no file gives an empty table."""
    return _ingest(con, LIABILITIES, find_source_files(raw_dir, LIABILITIES.file_stem), bounds=bounds)


def ingest_products(con: duckdb.DuckDBPyConnection, catalog_path: Path) -> EntityLoad:
    """The partner product catalog (a JSON array, NDJSON or Parquet file); no file gives an empty table."""
    return _ingest(con, PRODUCTS, _catalog_sources(catalog_path))


def conservation_check(con: duckdb.DuckDBPyConnection, entity: str, source: Path) -> tuple[int, int, int]:
    """(records in the input files, rows of the clean table, rows of raw.rejected_records) for an entity.

    The records are counted again from the files, independently of the load. `source` is the input
    folder, or the catalog file for products.
    """
    spec = ENTITIES[entity]
    sources = _catalog_sources(source) if spec is PRODUCTS else find_source_files(source, spec.file_stem)
    records_read = sum(con.execute(count_records_sql(src)).fetchall()[0][0] for src in sources)
    accepted = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0]
    rejected = con.execute(
        "select count(*) from raw.rejected_records where entity = ?", [spec.entity]
    ).fetchall()[0][0]
    return records_read, accepted, rejected


@dataclass(frozen=True)
class _RunContext:
    as_of: date | None
    amount_convention: str
    raw_dir: Path
    today: date


def _required_sources(raw_dir: Path, spec: EntitySpec) -> list[SourceFile]:
    sources = find_source_files(raw_dir, spec.file_stem)
    if not sources:
        raise IngestError(
            f"no {spec.entity} input in {raw_dir}: expected {spec.file_stem}*.json "
            "(or .ndjson / .jsonl / .parquet)"
        )
    return sources


def _catalog_sources(catalog_path: Path) -> list[SourceFile]:
    return [SourceFile.detect(catalog_path)] if catalog_path.is_file() else []


def _ingest(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    sources: list[SourceFile],
    run_context: _RunContext | None = None,
    bounds: PlausibilityBounds = DEFAULT_BOUNDS,
) -> EntityLoad:
    """Stage and check every record, then publish the entity's tables in one transaction."""
    _require_parent_table(con, spec)
    try:
        _create_raw_tables(con)
        con.execute(staging_table_ddl(spec)).fetchall()
        records_read = _stage_records(con, spec, sources, bounds)
        as_of = None
        if run_context is not None:
            as_of = run_context.as_of or _default_as_of(con, spec, run_context.today)
        con.execute(rejections_sql(spec), {"as_of": as_of} if spec.uses_as_of else {}).fetchall()
        _collect_rejected_records(con, spec, sources)
        _reduce_staging_to_clean_table(con, spec)
        con.begin()
        try:
            _publish(con, spec, run_context, as_of)
            load = _summarise(con, spec, sources, records_read, as_of)
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        # After a successful publish the staging table no longer exists under its name.
        for table in (staging_table(spec), REJECTED_TABLE, _REJECTED_RECORDS_TABLE):
            con.execute(f"drop table if exists {table}").fetchall()
    return load


def _reduce_staging_to_clean_table(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    """Delete the rejected records, fill missing owners, drop the helper columns (no row is copied).

    Done before the publishing transaction: DuckDB refuses to commit a table altered in the same
    transaction as rows were deleted from it.
    """
    con.execute(delete_rejected_sql(spec)).fetchall()
    fill_owner = fill_owner_sql(spec)
    if fill_owner is not None:
        con.execute(fill_owner).fetchall()
    con.execute(drop_helper_columns_sql(spec)).fetchall()


def _publish(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, run_context: _RunContext | None, as_of: date | None
) -> None:
    """Swap the staged table in and replace the entity's rejected records (inside a transaction)."""
    con.execute(f"drop table if exists {spec.table}").fetchall()
    con.execute(f"alter table {staging_table(spec)} rename to {spec.entity}").fetchall()
    con.execute("delete from raw.rejected_records where entity = ?", [spec.entity]).fetchall()
    con.execute(f"insert into raw.rejected_records select * from {_REJECTED_RECORDS_TABLE}").fetchall()
    if run_context is not None:
        con.execute(
            """
            create or replace table raw.run_context as
            select ?::date as as_of_date, ?::varchar as amount_convention, ?::varchar as raw_dir
            """,
            [as_of, run_context.amount_convention, str(run_context.raw_dir)],
        ).fetchall()


def _require_parent_table(con: duckdb.DuckDBPyConnection, spec: EntitySpec) -> None:
    if spec.parent is None:
        return
    schema, table = spec.parent.table.split(".")
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchall()[0][0]
    if not found:
        raise IngestError(f"{spec.entity} are checked against {spec.parent.table}: ingest {table} first")


def _create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw").fetchall()
    con.execute(
        """
        create table if not exists raw.rejected_records (
            entity varchar, source_file varchar, record_index bigint, record_key varchar,
            reason varchar, detail varchar, payload varchar
        )
        """
    ).fetchall()


def _stage_records(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, sources: list[SourceFile], bounds: PlausibilityBounds
) -> int:
    """Read, type and check every record of every file; returns how many records were read."""
    records_read = 0
    # Staged rows may land in any order (record positions are explicit columns): an order-preserving
    # insert costs about twice as much.
    with insertion_order(con, preserved=False):
        for source in sources:
            records_read += _stage_file(con, spec, source, records_read, bounds)
    return records_read


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    source: SourceFile,
    first_pos: int,
    bounds: PlausibilityBounds,
) -> int:
    """Stage one file; returns its record count.

    JSON is read by the fast reader first; when it refuses the file (a record that is not an object,
    a repeated key, a syntax error), the tolerant reader reads it again, and its failure is the file's.
    """
    if source.format != "parquet":
        try:
            return _insert_file(con, spec, source, first_pos, bounds, tolerant=False)
        except (duckdb.InvalidInputException, duckdb.IOException):
            pass
    try:
        return _insert_file(con, spec, source, first_pos, bounds, tolerant=True)
    except (duckdb.InvalidInputException, duckdb.IOException) as error:
        raise unreadable_file_error(source, error) from error


def _insert_file(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    source: SourceFile,
    first_pos: int,
    bounds: PlausibilityBounds,
    *,
    tolerant: bool,
) -> int:
    with numbered_records(con, source, spec.field_names, tolerant=tolerant) as relation:
        return con.execute(stage_file_sql(spec, relation, source.name, first_pos, bounds)).fetchall()[0][0]


def _default_as_of(con: duckdb.DuckDBPyConnection, spec: EntitySpec, today: date) -> date:
    """The latest valid transaction date not after today; else the latest; else today."""
    not_after, latest = con.execute(
        f"""
        select max("date") filter (where "date" <= ?), max("date")
        from {staging_table(spec)}
        where reason is null
        """,
        [today],
    ).fetchall()[0]
    return not_after or latest or today


def _collect_rejected_records(
    con: duckdb.DuckDBPyConnection, spec: EntitySpec, sources: list[SourceFile]
) -> None:
    """The rejected records with their original payload, read again only from files that have some."""
    con.execute(
        f"""
        create or replace temp table {_REJECTED_RECORDS_TABLE} (
            entity varchar, source_file varchar, record_index bigint, record_key varchar,
            reason varchar, detail varchar, payload varchar
        )
        """
    ).fetchall()
    files_with_rejections = {
        row[0] for row in con.execute(f"select distinct source_file from {REJECTED_TABLE}").fetchall()
    }
    for source in sources:
        if source.name not in files_with_rejections:
            continue
        con.execute(
            f"""
            insert into {_REJECTED_RECORDS_TABLE}
            with rejected as (
                select * from {REJECTED_TABLE} where source_file = {sql_string(source.name)}
            ),
            payloads as (
                select * from ({record_payloads_sql(con, source)})
                where record_index in (select record_index from rejected)
            ),
            final as (
                select
                    {sql_string(spec.entity)} as entity,
                    rejected.source_file,
                    rejected.record_index,
                    rejected.record_key,
                    -- The fast reader reads a JSON null record as an object without fields.
                    case when starts_with(payloads.payload, '{{') then rejected.reason
                        else 'not_an_object' end as reason,
                    case when starts_with(payloads.payload, '{{') then rejected.detail
                        else 'the record is not a JSON object' end as detail,
                    payloads.payload
                from rejected
                left join payloads using (record_index)
                order by rejected.record_index
            )
            select * from final
            """
        ).fetchall()


def _summarise(
    con: duckdb.DuckDBPyConnection,
    spec: EntitySpec,
    sources: list[SourceFile],
    records_read: int,
    as_of: date | None,
) -> EntityLoad:
    accepted = con.execute(f"select count(*) from {spec.table}").fetchall()[0][0]
    by_reason = dict(
        con.execute(
            """
            select reason, count(*) from raw.rejected_records
            where entity = ? group by reason order by reason
            """,
            [spec.entity],
        ).fetchall()
    )
    return EntityLoad(
        entity=spec.entity,
        files=[source.name for source in sources],
        records_read=records_read,
        accepted=accepted,
        rejected=sum(by_reason.values()),
        rejected_by_reason=by_reason,
        as_of_date=as_of,
    )
