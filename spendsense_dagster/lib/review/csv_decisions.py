"""Decisions typed into the approval-queue CSV: imported before the queue is rewritten, and never dropped
(docs/review.md).

A typed decision goes through the same validation as the CLI. One that cannot be applied (an unknown or
stale id, someone who is not an operator, a missing reason, ...) is kept: while its item is still
pending it stays in approval_queue.csv (the rewrite keeps what was typed into pending rows); otherwise
it moves to unapplied_decisions.csv with the refusal reason. Every import tries those rows again (an
id comes back when its as-of date is run again) and keeps the ones still refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.csv_cells import escape_cell, unescape_cell
from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.review.actions import (
    PENDING_TABLE,
    DecisionRequest,
    check_requests,
    create_pending_table,
    write_new_decisions,
)
from spendsense_dagster.lib.review.decision_log import Decision
from spendsense_dagster.lib.review.jsonl_log import utc_now_iso

QUEUE_CSV_NAME = "approval_queue.csv"
UNAPPLIED_CSV_NAME = "unapplied_decisions.csv"
ITEM_COLUMNS = (
    "recommendation_id",
    "user_id",
    "persona",
    "window_days",
    "content_type",
    "title",
    "rationale",
    "content",
    "product_id",
    "generator",
    "guardrail_status",
    "guardrail_findings",
)
DECISION_COLUMNS = ("decision", "operator_id", "reason", "new_title", "new_content")
UNAPPLIED_COLUMNS = (*ITEM_COLUMNS, *DECISION_COLUMNS, "refusal_reason", "first_refused_at")
# Cells that show an operator meant to decide a row (operator_id alone is often filled down a column).
_DECIDING_COLUMNS = ("decision", "reason", "new_title", "new_content")


@dataclass(frozen=True)
class TypedRow:
    """A filled-in row of approval_queue.csv or unapplied_decisions.csv."""

    file_name: str
    row_number: int  # as a spreadsheet numbers it: the header is row 1
    cells: dict[str, str]

    @property
    def where(self) -> str:
        """How an error names the row: `row 5` in the queue file, `unapplied_decisions.csv row 5`."""
        prefix = "" if self.file_name == QUEUE_CSV_NAME else f"{self.file_name} "
        return f"{prefix}row {self.row_number}"

    def cell(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()


@dataclass
class CsvImport:
    recorded: list[Decision] = field(default_factory=list)
    unchanged: int = 0  # rows already in the log (a second import of the same file)
    errors: list[str] = field(default_factory=list)  # "row N: why" per refused row and problem
    kept_in_queue: int = 0  # refused rows whose item is pending: they stay in approval_queue.csv
    kept_unapplied: int = 0  # refused rows in unapplied_decisions.csv after the import

    @property
    def kept(self) -> int:
        """Typed decisions not applied and kept with their reason (0 when every one applied)."""
        return self.kept_in_queue + self.kept_unapplied


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> Path:
    """The review's CSV writer: a header and the rows (missing cells empty), written atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({column: escape_cell(value) for column, value in row.items()} for row in rows)
    return write_atomically(path, buffer.getvalue().encode("utf-8"))


def read_decision_rows(csv_path: Path) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, row) for every row an operator filled in; header is row 1."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets add a BOM
        reader = csv.DictReader(handle)
        missing = {"recommendation_id", *DECISION_COLUMNS} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{csv_path}: not an approval queue file, missing columns {sorted(missing)}")
        rows = (
            (row_number, {column: unescape_cell(value) for column, value in row.items()})
            for row_number, row in enumerate(reader, start=2)
        )
        return [
            (row_number, row)
            for row_number, row in rows
            if any((row.get(column) or "").strip() for column in _DECIDING_COLUMNS)
        ]


def _typed_rows(path: Path) -> list[TypedRow]:
    if not path.exists():
        return []
    return [TypedRow(path.name, number, cells) for number, cells in read_decision_rows(path)]


def _request(row: TypedRow, default_operator: str | None) -> DecisionRequest:
    return DecisionRequest(
        action=row.cell("decision"),
        recommendation_id=row.cell("recommendation_id"),
        operator_id=row.cell("operator_id") or default_operator,
        reason=row.cell("reason"),
        new_title=row.cell("new_title"),
        new_content=row.cell("new_content"),
    )


def _pending_ids(con: duckdb.DuckDBPyConnection, review_dir: Path) -> set[str]:
    create_pending_table(con, review_dir)
    return {row[0] for row in con.execute(f"select recommendation_id from {PENDING_TABLE}").fetchall()}


def _unapplied_rows(refused: list[tuple[TypedRow, list[str]]]) -> list[dict[str, str]]:
    """One row per distinct typed decision (same item and cells), keeping when it was first refused."""
    now = utc_now_iso()
    rows: dict[tuple[str, ...], dict[str, str]] = {}
    for typed, problems in refused:
        key = tuple(typed.cell(column) for column in ("recommendation_id", *DECISION_COLUMNS))
        first = typed.cell("first_refused_at") or now
        row = rows.setdefault(
            key, {column: typed.cells.get(column) or "" for column in (*ITEM_COLUMNS, *DECISION_COLUMNS)}
        )
        row["refusal_reason"] = "; ".join(problems)
        row["first_refused_at"] = min(first, row.get("first_refused_at") or first)
    return list(rows.values())


def import_csv_decisions(
    con: duckdb.DuckDBPyConnection, csv_path: Path, review_dir: Path, default_operator: str | None = None
) -> CsvImport:
    """Record the decisions filled into the approval-queue CSV and the unapplied ones (source 'csv').

    Valid rows are recorded; rows already in the log are not written again, so a second import is a
    no-op. Refused rows are kept (module doc) and reported in `errors`.
    """
    review_dir = Path(review_dir)
    unapplied_path = review_dir / UNAPPLIED_CSV_NAME
    rows = _typed_rows(Path(csv_path)) + _typed_rows(unapplied_path)
    result = CsvImport()
    valid: list[Decision] = []
    refused: list[tuple[TypedRow, list[str]]] = []
    checked = check_requests(con, [_request(row, default_operator) for row in rows], "csv")
    for row, (decision, problems) in zip(rows, checked, strict=True):
        if not row.cell("decision"):
            problems = ["the decision column is empty (approve, reject or override)"]
        if problems:
            refused.append((row, problems))
            result.errors.extend(f"{row.where}: {problem}" for problem in problems)
        else:
            valid.append(decision)
    outcome = write_new_decisions(review_dir, valid, skip_any_repeat=True)
    result.recorded, result.unchanged = outcome.written, len(outcome.unchanged)

    # A refused row of the queue file whose item stays pending is kept by the queue's rewrite.
    pending = _pending_ids(con, review_dir) if refused else set()
    in_queue = [
        (row, problems)
        for row, problems in refused
        if row.file_name == Path(csv_path).name and row.cell("recommendation_id") in pending
    ]
    unapplied = _unapplied_rows([item for item in refused if item not in in_queue])
    if unapplied:
        write_csv(unapplied_path, UNAPPLIED_COLUMNS, unapplied)
    else:
        unapplied_path.unlink(missing_ok=True)
    result.kept_in_queue, result.kept_unapplied = len(in_queue), len(unapplied)
    return result
