"""Read `<raw dir>/statements/<account_id>/*.csv` into raw.statement_files and raw.statement_rows.

One row of raw.statement_rows per data line, its cells as text under the role the header gave them
(date_text, description_text, amount_text or debit_text / credit_text, category_text, status_text).
Nothing is parsed or rejected here: the dbt models do that set-based, and the statement reconciliation
writes their verdicts to raw.rejected_records. A file that cannot be read, or whose headers name no
date, description and amount, fails the load (StatementFileError naming the file and the headers).
Both tables are replaced in one transaction, so a failed load leaves the previous ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.ingest.entities import MIN_MONEY_MAGNITUDE
from spendsense_dagster.lib.ingest.statements.columns import (
    MAPPING_FILE,
    ROLES,
    StatementMapping,
    map_columns,
    read_mapping,
)
from spendsense_dagster.lib.ingest.statements.decoding import StatementFileError, decode_statement

STATEMENTS_DIR = "statements"
FILES_TABLE = "raw.statement_files"
ROWS_TABLE = "raw.statement_rows"
CELL_COLUMNS = tuple(f"{role}_text" for role in ROLES)


@dataclass(frozen=True)
class StatementLoad:
    files: list[str]
    rows_read: int


def find_statement_files(raw_dir: Path) -> list[Path]:
    """Every CSV one folder below `<raw_dir>/statements`, sorted by (account folder, file name)."""
    root = raw_dir / STATEMENTS_DIR
    if not root.is_dir():
        return []
    stray = sorted(path.name for path in root.iterdir() if path.is_file() and path.suffix.lower() == ".csv")
    if stray:
        raise StatementFileError(
            f"{root}: statement files belong in a folder per account (statements/<account_id>/), "
            f"found directly: {stray}"
        )
    return sorted(
        path
        for folder in root.iterdir()
        if folder.is_dir()
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() == ".csv"
    )


def ingest_statements(con: duckdb.DuckDBPyConnection, raw_dir: Path, max_abs_amount: float) -> StatementLoad:
    """Read every statement file and replace both raw tables. The amount plausibility bounds of
    raw.transactions (`max_abs_amount`, MIN_MONEY_MAGNITUDE) are recorded per file for dbt's check."""
    files: list[dict] = []
    rows: list[dict] = []
    mappings: dict[Path, StatementMapping] = {}
    for path in find_statement_files(raw_dir):
        folder = path.parent
        if folder not in mappings:
            mappings[folder] = read_mapping(folder / MAPPING_FILE)
        label = f"{STATEMENTS_DIR}/{folder.name}/{path.name}"
        file_row, file_rows = _read_file(path, label, mappings[folder], max_abs_amount)
        files.append(file_row)
        rows.extend(file_rows)
    _publish(con, files, rows)
    return StatementLoad(files=[file["statement_file"] for file in files], rows_read=len(rows))


def _read_file(
    path: Path, label: str, mapping: StatementMapping, max_abs_amount: float
) -> tuple[dict, list[dict]]:
    try:
        decoded = decode_statement(path.read_bytes(), encoding=mapping.encoding, delimiter=mapping.delimiter)
    except UnicodeDecodeError as error:
        raise StatementFileError(
            f"{label}: not readable as {mapping.encoding or 'UTF-8 or Windows-1252'}"
        ) from error
    except StatementFileError as error:
        raise StatementFileError(f"{label}: {error}") from error
    # An empty file (no header, no rows) has nothing to map.
    positions = map_columns(decoded.header, mapping, label) if decoded.header else {}
    account_id = path.parent.name
    file_row = {
        "statement_file": label,
        "account_id": account_id,
        "encoding": decoded.encoding,
        "delimiter": decoded.delimiter,
        "headers": json.dumps(decoded.header),
        "column_roles": json.dumps({role: decoded.header[i] for role, i in positions.items()}),
        "date_order": mapping.date_order,
        "decimal_separator": mapping.decimal_separator,
        "sign_convention": mapping.sign_convention,
        "max_abs_amount": max_abs_amount,
        "min_abs_amount": MIN_MONEY_MAGNITUDE,
        "rows_read": len(decoded.rows),
    }
    rows = [
        {
            "statement_file": label,
            "line_number": line,
            "account_id": account_id,
            "row_text": original,
            "cell_count": _cell_count(cells, len(decoded.header)),
            "header_cell_count": len(decoded.header),
            **{
                f"{role}_text": cells[positions[role]].strip()
                if role in positions and positions[role] < len(cells)
                else None
                for role in ROLES
            },
        }
        for line, cells, original in decoded.rows
    ]
    return file_row, rows


def _cell_count(cells: list[str], header_cells: int) -> int:
    """The row's cells, not counting empty ones past the header's: Chase ends every data row with a
    delimiter its header lacks. A short row, or a long one with text past the header, stays as it is
    (malformed_row): which cell moved cannot be known."""
    count = len(cells)
    while count > header_cells and not cells[count - 1].strip():
        count -= 1
    return count


_FILE_SCHEMA = pa.schema(
    [
        ("statement_file", pa.string()),
        ("account_id", pa.string()),
        ("encoding", pa.string()),
        ("delimiter", pa.string()),
        ("headers", pa.string()),
        ("column_roles", pa.string()),
        ("date_order", pa.string()),
        ("decimal_separator", pa.string()),
        ("sign_convention", pa.string()),
        ("max_abs_amount", pa.float64()),
        ("min_abs_amount", pa.float64()),
        ("rows_read", pa.int64()),
    ]
)
_ROW_SCHEMA = pa.schema(
    [
        ("statement_file", pa.string()),
        ("line_number", pa.int64()),
        ("account_id", pa.string()),
        ("row_text", pa.string()),
        ("cell_count", pa.int64()),
        ("header_cell_count", pa.int64()),
        *((column, pa.string()) for column in CELL_COLUMNS),
    ]
)


def _publish(con: duckdb.DuckDBPyConnection, files: list[dict], rows: list[dict]) -> None:
    con.execute("create schema if not exists raw").fetchall()
    tables = {
        FILES_TABLE: pa.Table.from_pylist(files, schema=_FILE_SCHEMA),
        ROWS_TABLE: pa.Table.from_pylist(rows, schema=_ROW_SCHEMA),
    }
    con.begin()
    try:
        for table, arrow in tables.items():
            view = f"_{table.replace('.', '_')}_arrow"
            con.register(view, arrow)
            try:
                con.execute(f"create or replace table {table} as select * from {view}").fetchall()
            finally:
                con.unregister(view)
    except BaseException:
        con.rollback()
        raise
    con.commit()
