"""The statement rows' verdicts from dbt (intermediate.int_statement_rows_deduplicated) into
raw.rejected_records, and the counts the run reports (docs/statements.md).

Rejected and duplicate rows land in raw.rejected_records (entity `statement_rows`, the file, the
1-based line as record_index, the statement id as record_key for a duplicate, whose detail names the
kept id, and the original line as payload), replacing the previous run's, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

ENTITY = "statement_rows"
VERDICTS_TABLE = "intermediate.int_statement_rows_deduplicated"
UNIONED_VIEW = "intermediate.int_transactions_unioned"


@dataclass(frozen=True)
class StatementVerdicts:
    """rows_read = accepted + duplicates + rejected when every row landed in one place."""

    files: int
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    uncategorized: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def uncategorized_share(self) -> float | None:
        """Share of the accepted statement rows no category rule matched."""
        return self.uncategorized / self.accepted if self.accepted else None


def publish_statement_verdicts(con: duckdb.DuckDBPyConnection) -> StatementVerdicts:
    con.begin()
    try:
        con.execute("delete from raw.rejected_records where entity = ?", [ENTITY]).fetchall()
        con.execute(
            f"""
            insert into raw.rejected_records
            select
                '{ENTITY}' as entity,
                statement_file as source_file,
                line_number as record_index,
                case when status = 'duplicate' then transaction_id end as record_key,
                reason,
                detail,
                row_text as payload
            from {VERDICTS_TABLE}
            where status <> 'accepted'
            order by statement_file, line_number
            """
        ).fetchall()
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return count_statement_verdicts(con)


def count_statement_verdicts(con: duckdb.DuckDBPyConnection) -> StatementVerdicts:
    """Counted from three places independently: the raw rows, the transactions the features read,
    and raw.rejected_records."""
    files, rows_read = con.execute(
        "select (select count(*) from raw.statement_files), (select count(*) from raw.statement_rows)"
    ).fetchall()[0]
    accepted, uncategorized = con.execute(
        f"""
        select count(*), count(*) filter (where category_primary is null)
        from {UNIONED_VIEW} where transaction_source = 'statement'
        """
    ).fetchall()[0]
    by_reason = dict(
        con.execute(
            """
            select reason, count(*) from raw.rejected_records
            where entity = ? group by reason order by reason
            """,
            [ENTITY],
        ).fetchall()
    )
    duplicates = by_reason.get("duplicate", 0)
    return StatementVerdicts(
        files=files,
        rows_read=rows_read,
        accepted=accepted,
        duplicates=duplicates,
        rejected=sum(by_reason.values()) - duplicates,
        uncategorized=uncategorized,
        rejected_by_reason={reason: n for reason, n in by_reason.items() if reason != "duplicate"},
    )
