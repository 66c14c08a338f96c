"""Input files of the ingest: which files hold an entity, how DuckDB reads them, clear errors for bad ones.

Every file is read as the same relation, whatever the format (`numbered_records`), so the checks in
`ingest_checks` are written once: `record_index` (0-based position of the record in its file),
`is_object`, `repeated_fields` (the known fields that occur more than once in the object,
comma-separated; null when none), and one VARCHAR column `text_<field>` per known field: a JSON string
unescaped, a number or boolean as written, an object or array as its JSON text, SQL null when the field
is absent or JSON null. Unknown fields are not read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.sql import quote_identifier, sql_string

INPUT_SUFFIXES = (".json", ".ndjson", ".jsonl", ".parquet")

# The records of one JSON file as read, in file order, before they are numbered (`numbered_records`).
_READ_TABLE = "ingest_read_records"

# Past this size a JSON array is not loaded into Python just to find the line of a syntax error.
_MAX_ARRAY_BYTES_TO_LOCATE = 256 * 1024 * 1024
_DUCKDB_LINE = re.compile(r"in line (\d+)")


class IngestError(Exception):
    """An input file is missing or cannot be read as records (not JSON, a malformed line, bad Parquet)."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    format: str  # "array" | "newline_delimited" | "parquet"

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def detect(cls, path: Path) -> SourceFile:
        """The format from the suffix; a .json file is a JSON array when its first non-blank byte is '['."""
        if path.suffix == ".parquet":
            return cls(path, "parquet")
        if path.suffix == ".json" and _first_non_blank_byte(path) == b"[":
            return cls(path, "array")
        return cls(path, "newline_delimited")


def find_source_files(raw_dir: Path, stem: str) -> list[SourceFile]:
    """`<stem>*.{json,ndjson,jsonl,parquet}` in raw_dir (split files included), sorted by name."""
    paths = [path for path in raw_dir.glob(f"{stem}*") if path.is_file() and path.suffix in INPUT_SUFFIXES]
    return [SourceFile.detect(path) for path in sorted(paths, key=lambda path: path.name)]


@contextmanager
def numbered_records(
    con: duckdb.DuckDBPyConnection, source: SourceFile, field_names: list[str], *, tolerant: bool
) -> Iterator[str]:
    """SQL yielding record_index, is_object, repeated_fields and text_<field> for one file, valid inside
    the block.

    Parquet's reader numbers rows itself, on every thread. DuckDB's JSON reader numbers records
    (`with ordinality`) only on one thread, so a JSON file is read on every thread into a temporary
    table in file order, and its rowid is the record's position (dropped when the block ends).
    """
    if source.format == "parquet":
        yield record_fields_sql(con, source, field_names, tolerant=tolerant)
        return
    try:
        with insertion_order(con, preserved=True):
            con.execute(
                f"create or replace temp table {_READ_TABLE} as "
                f"{record_fields_sql(con, source, field_names, tolerant=tolerant)}"
            ).fetchall()
        yield f"select rowid as record_index, * from {_READ_TABLE}"
    finally:
        con.execute(f"drop table if exists {_READ_TABLE}").fetchall()


@contextmanager
def insertion_order(con: duckdb.DuckDBPyConnection, *, preserved: bool) -> Iterator[None]:
    """DuckDB's preserve_insertion_order for a block; the setting is global, so it is restored."""
    previous = con.execute("select current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute(f"set preserve_insertion_order = {str(preserved).lower()}").fetchall()
    try:
        yield
    finally:
        con.execute(f"set preserve_insertion_order = {str(previous).lower()}").fetchall()


def record_fields_sql(
    con: duckdb.DuckDBPyConnection, source: SourceFile, field_names: list[str], *, tolerant: bool
) -> str:
    """SQL yielding is_object, repeated_fields and text_<field> columns for one file's records; JSON's
    in file order (`numbered_records` numbers them), Parquet's with their record_index.

    The fast JSON reader (DuckDB's read_json with declared columns) refuses a file holding a record
    that is not an object or repeats a known field (and reads a JSON null record as an object without
    fields: the payload step corrects its reason); the `tolerant` one reads each record as a JSON
    value first, so such records reach the checks. It would keep a repeated field's first value, so
    it lists the repeated known fields itself. Both give the same text for every field.
    """
    path = sql_string(str(source.path))
    if source.format == "parquet":
        return _parquet_fields_sql(con, source, field_names)
    texts = ", ".join(
        f"{quote_identifier(name)} as {quote_identifier('text_' + name)}" for name in field_names
    )
    if not tolerant:
        columns = "{" + ", ".join(f"{sql_string(name)}: 'varchar'" for name in field_names) + "}"
        return f"""
            select true as is_object, null::varchar as repeated_fields, {texts}
            from read_json({path}, format = '{source.format}', columns = {columns})
        """
    structure = sql_string(json.dumps(dict.fromkeys(field_names, "VARCHAR")))
    known = "[" + ", ".join(sql_string(name) for name in field_names) + "]"
    # read_json_objects returns each record's own text, trimmed: an object starts with '{'.
    # json_keys lists a repeated key as often as it occurs.
    return f"""
        with records as (
            select
                starts_with(json::varchar, '{{') as is_object,
                case when starts_with(json::varchar, '{{') then json_keys(json) end as record_keys,
                unnest(json_transform(json, {structure}))
            from read_json_objects({path}, format = '{source.format}')
        ),
        repeated as (
            select
                *,
                nullif(array_to_string(list_sort(list_filter(
                    list_distinct(record_keys),
                    key -> list_contains({known}, key) and len(list_filter(record_keys, k -> k = key)) > 1
                )), ', '), '') as repeated_fields
            from records
        )
        select is_object, repeated_fields, {texts} from repeated
    """


def record_payloads_sql(con: duckdb.DuckDBPyConnection, source: SourceFile) -> str:
    """SQL yielding record_index, payload (the record as JSON text) for one file."""
    path = sql_string(str(source.path))
    if source.format == "parquet":
        members = ", ".join(
            f"{sql_string(name)}: {quote_identifier(name)}" for name in _parquet_columns(con, source)
        )
        return f"""
            select file_row_number as record_index, to_json({{{members}}})::varchar as payload
            from read_parquet({path}, file_row_number = true)
        """
    return f"""
        select ordinality - 1 as record_index, json::varchar as payload
        from read_json_objects({path}, format = '{source.format}') with ordinality
    """


def count_records_sql(source: SourceFile) -> str:
    """SQL counting the records of one file, independently of the checks."""
    path = sql_string(str(source.path))
    if source.format == "parquet":
        return f"select count(*) from read_parquet({path})"
    return f"select count(*) from read_json_objects({path}, format = '{source.format}')"


def unreadable_file_error(source: SourceFile, error: duckdb.Error) -> IngestError:
    """An IngestError naming the file and, for JSON, the line and column of the first syntax error."""
    message = str(error).strip().splitlines()[0]  # DuckDB appends the SQL text after the first line
    if source.format == "parquet":
        return IngestError(f"{source.path}: not a readable Parquet file: {message}")
    located = _first_syntax_error(source, message)
    if located is None:
        return IngestError(f"{source.path}: not valid JSON ({source.format}): {message}")
    line, column, reason = located
    return IngestError(f"{source.path}: not valid JSON at line {line}, column {column}: {reason}")


def _parquet_fields_sql(con: duckdb.DuckDBPyConnection, source: SourceFile, field_names: list[str]) -> str:
    column_types = _parquet_columns(con, source)
    texts = []
    for name in field_names:
        column_type = column_types.get(name)
        if column_type is None:
            value = "null::varchar"
        elif column_type.endswith("]") or column_type.startswith(("STRUCT", "MAP", "UNION")):
            value = f"to_json({quote_identifier(name)})::varchar"  # lists and structs as JSON text
        else:
            value = f"{quote_identifier(name)}::varchar"
        texts.append(f"{value} as {quote_identifier('text_' + name)}")
    return f"""
        select file_row_number as record_index, true as is_object, null::varchar as repeated_fields,
            {", ".join(texts)}
        from read_parquet({sql_string(str(source.path))}, file_row_number = true)
    """


def _parquet_columns(con: duckdb.DuckDBPyConnection, source: SourceFile) -> dict[str, str]:
    """Column name -> DuckDB type of a Parquet file."""
    rows = con.execute(f"describe select * from read_parquet({sql_string(str(source.path))})").fetchall()
    return {row[0]: row[1] for row in rows}


def _first_syntax_error(source: SourceFile, duckdb_message: str) -> tuple[int, int, str] | None:
    """(line, column, reason) of the first JSON syntax error, found with Python's parser.

    Runs only after DuckDB refused the file. DuckDB's message carries a line number that can be one
    past the bad line, so NDJSON is checked from the line before the one it names. A large JSON
    array is not parsed in Python (None), nor is a file Python finds valid.
    """
    if source.format == "array":
        if source.path.stat().st_size > _MAX_ARRAY_BYTES_TO_LOCATE:
            return None
        try:
            json.loads(source.path.read_bytes())
        except json.JSONDecodeError as error:
            return error.lineno, error.colno, error.msg
        except ValueError:  # bytes that are not UTF-8: no position to give
            return None
        return None
    hint = _DUCKDB_LINE.search(duckdb_message)
    first_checked = max(int(hint.group(1)) - 1, 1) if hint else 1
    with source.path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if number < first_checked or not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return number, error.colno, error.msg
            except ValueError as error:
                return number, 1, str(error)
    return None


def _first_non_blank_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]
    return b""
