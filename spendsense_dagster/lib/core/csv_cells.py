"""Spreadsheet-safe CSV cells: the OWASP CSV-injection rule, for every CSV the project writes.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula (`=HYPERLINK("http://…")`). Written cells that start so get a single quote in front, which
spreadsheets show as text; reading a file back removes exactly that quote. A value that already
starts with quotes before such a character gets one more, so every value reads back unchanged.

`escape_cell` / `unescape_cell` are the Python side; `escape_cell_sql` the same rule as a DuckDB
expression, for files written with COPY. A test proves the two agree.
"""

from __future__ import annotations

from spendsense_dagster.lib.core.sql import sql_string

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# One or more quotes may precede the formula character: those values need a quote more too.
_SQL_PATTERN = "^'*[=+@\\t\\r-]"


def _needs_quote(text: str) -> bool:
    return text.lstrip(QUOTE)[:1] in FORMULA_STARTS if text else False


def escape_cell(value: object) -> object:
    """The value as written to a CSV cell: text that a spreadsheet would run gets a leading quote."""
    return QUOTE + value if isinstance(value, str) and _needs_quote(value) else value


def unescape_cell(value: str | None) -> str | None:
    """The value as read back from a CSV cell written with `escape_cell`."""
    if value and value.startswith(QUOTE) and _needs_quote(value[1:]):
        return value[1:]
    return value


def escape_cell_sql(expression: str) -> str:
    """`escape_cell` as a DuckDB expression over a text expression (null stays null)."""
    return (
        f"case when regexp_matches({expression}, {sql_string(_SQL_PATTERN)})"
        f" then {sql_string(QUOTE)} || {expression} else {expression} end"
    )
