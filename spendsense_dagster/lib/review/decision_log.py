"""The operator decision log: append-only JSONL outside the warehouse (docs/review.md).

The log file is the source of truth; `review.decisions` is only a copy rebuilt from it, so rebuilding
the warehouse or regenerating the queue never loses a decision. Reading and appending go through
`jsonl_log` (a torn or invalid line is set aside, never fatal).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.core.warehouse import create_table_from_arrow
from spendsense_dagster.lib.review.jsonl_log import (
    append_jsonl,
    parse_utc,
    read_jsonl,
    timestamp_problem,
    utc_now_iso,
)

DECISION_LOG_NAME = "decision_log.jsonl"
ACTIONS = ("approve", "reject", "override")
SOURCES = ("cli", "csv", "web")
# The connection-local copy of the log that queue, bulk-approve and approved-items SQL read.
DECISIONS_TEMP_TABLE = "decision_log_rows"


@dataclass(frozen=True)
class Decision:
    """One line of the decision log (docs/data_contract.md, "Review")."""

    decision_id: str
    decided_at: str
    operator_id: str
    action: str
    recommendation_id: str
    user_id: str
    reason: str | None
    previous_title: str | None
    previous_content: str | None
    new_title: str | None
    new_content: str | None
    source: str
    # An override's non-blocking guardrail findings (JSON list), logged with it; None when it had none.
    guardrail_findings: str | None = None

    def repeats(self, other: Decision) -> bool:
        """Same operator making the same call on the same item: recording it again changes nothing."""
        keys = ("recommendation_id", "operator_id", "action", "reason", "new_title", "new_content")
        return all(getattr(self, key) == getattr(other, key) for key in keys)


DECISION_FIELDS = tuple(field.name for field in fields(Decision))

# review.decisions: the log's fields plus log_position, the line order that decides "latest".
DECISIONS_SCHEMA = pa.schema(
    [pa.field(name, pa.timestamp("us") if name == "decided_at" else pa.string()) for name in DECISION_FIELDS]
    + [pa.field("log_position", pa.int64())]
)


def new_decision(
    *,
    operator_id: str,
    action: str,
    recommendation_id: str,
    user_id: str,
    source: str,
    reason: str | None = None,
    previous_title: str | None = None,
    previous_content: str | None = None,
    new_title: str | None = None,
    new_content: str | None = None,
    guardrail_findings: str | None = None,
) -> Decision:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
    return Decision(
        decision_id=uuid.uuid4().hex,
        decided_at=utc_now_iso(),
        operator_id=operator_id,
        action=action,
        recommendation_id=recommendation_id,
        user_id=user_id,
        reason=reason,
        previous_title=previous_title,
        previous_content=previous_content,
        new_title=new_title,
        new_content=new_content,
        source=source,
        guardrail_findings=guardrail_findings,
    )


def decision_log_path(review_dir: Path) -> Path:
    return Path(review_dir) / DECISION_LOG_NAME


def append_decisions(review_dir: Path, decisions: Sequence[Decision]) -> None:
    """Append all decisions in one locked write: a batch lands whole and contiguous."""
    append_jsonl(decision_log_path(review_dir), [asdict(decision) for decision in decisions])


def decision_problem(record: dict) -> str | None:
    """Why a log record is not a decision (the reader sets such a line aside), or None."""
    missing = [name for name in ("operator_id", "action", "recommendation_id") if not record.get(name)]
    if missing:
        return f"not a decision: {', '.join(missing)} missing"
    not_text = [
        name for name in DECISION_FIELDS if record.get(name) is not None and not isinstance(record[name], str)
    ]
    if not_text:
        return f"not a decision: {', '.join(not_text)} not text"
    if record["action"] not in ACTIONS:
        return f"not a decision: unknown action {record['action']!r}"
    return timestamp_problem(record, "decided_at")


def read_decisions(review_dir: Path) -> list[Decision]:
    """Every decision ever logged, oldest first (bad lines set aside, see jsonl_log)."""
    records = read_jsonl(decision_log_path(review_dir), decision_problem)
    return [Decision(**{name: record.get(name) for name in DECISION_FIELDS}) for record in records]


def latest_decisions(review_dir: Path) -> dict[str, Decision]:
    """The decision in force per recommendation id: the last one logged wins; earlier ones stay in the log."""
    return {decision.recommendation_id: decision for decision in read_decisions(review_dir)}


def load_decisions(
    con: duckdb.DuckDBPyConnection,
    review_dir: Path,
    table: str = DECISIONS_TEMP_TABLE,
    *,
    temp: bool = True,
) -> int:
    """Copy the log into DuckDB (a temp table by default; `review.decisions` with temp=False).

    Rows come through `read_decisions`, so the table has a fixed schema even for an empty or missing
    log, timestamps are UTC, and `log_position` (1 = oldest) orders decisions exactly as the file does.
    """
    decisions = read_decisions(review_dir)
    columns: dict[str, list] = {name: [getattr(d, name) for d in decisions] for name in DECISION_FIELDS}
    columns["decided_at"] = [parse_utc(text) for text in columns["decided_at"]]
    columns["log_position"] = list(range(1, len(decisions) + 1))
    return create_table_from_arrow(con, table, pa.table(columns, schema=DECISIONS_SCHEMA), temp=temp)


# The decision in force per item, for SQL over the loaded log (see `load_decisions`).
LATEST_DECISIONS_SQL = f"""
select *
from {DECISIONS_TEMP_TABLE}
qualify row_number() over (partition by recommendation_id order by log_position desc) = 1
"""
