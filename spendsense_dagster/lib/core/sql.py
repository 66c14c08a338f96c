"""SQL text built in Python: literals and identifiers quoted in one place.

Prefer bound parameters; these are for the places DuckDB does not take one (file paths in COPY and
read_json, identifiers, generated SQL).
"""

from __future__ import annotations


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def quote_identifier(identifier: str) -> str:
    """A quoted SQL identifier (field names such as "date" and "type" are keywords)."""
    return '"' + identifier.replace('"', '""') + '"'
