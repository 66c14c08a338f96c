"""Writes the generator's Arrow tables as JSON arrays, NDJSON or Parquet through DuckDB.

DuckDB's writers are native code, far faster than Python's json module, and with insertion order
preserved they write the same bytes for the same table: generated files stay byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.core.files import atomic_path
from spendsense_dagster.lib.core.sql import sql_string

FORMATS = ("json", "ndjson", "parquet")  # also the file extensions
_COPY_OPTIONS = {
    "json": "format json, array true",
    "ndjson": "format json",
    "parquet": "format parquet, compression zstd",
}
# ISO 8601 in UTC, whatever the session time zone.
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _select_list(schema: pa.Schema) -> str:
    """Every column as is, timestamps rendered as ISO text (the same in every format)."""
    columns = []
    for field in schema:
        name = '"' + field.name.replace('"', '""') + '"'
        if pa.types.is_timestamp(field.type):
            columns.append(f"strftime({name}, {sql_string(_TIMESTAMP_FORMAT)}) as {name}")
        else:
            columns.append(name)
    return ", ".join(columns)


def write_records(tables: dict[str, pa.Table], out_dir: Path, fmt: str) -> dict[str, int]:
    """Write each table to `<out_dir>/<stem>.<fmt>`; returns file name -> record count.

    A file of the same stem in another format is removed, so a folder never holds the same
    records twice. Each file is written under a temporary name and renamed into place.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        con.execute("set preserve_insertion_order = true")
        for stem, table in tables.items():
            for other in FORMATS:
                (out_dir / f"{stem}.{other}").unlink(missing_ok=True)
            path = out_dir / f"{stem}.{fmt}"
            con.register("records", table)
            with atomic_path(path) as partial:
                con.execute(
                    f"copy (select {_select_list(table.schema)} from records) "
                    f"to {sql_string(str(partial))} ({_COPY_OPTIONS[fmt]})"
                )
            con.unregister("records")
            counts[path.name] = table.num_rows
    finally:
        con.close()
    return counts
