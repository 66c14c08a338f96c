"""Consent changes (grant / revoke) in an append-only JSONL log outside the warehouse (docs/review.md).

A user's effective consent is the latest log entry when there is one, else `raw.users.consent_status`:
a revoke recorded today withdraws the user's items from the next approved set and export even though
the raw feed still says "consented".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.core.warehouse import create_table_from_arrow
from spendsense_dagster.lib.review.decision_log import (
    append_jsonl,
    parse_utc,
    read_jsonl,
    utc_now_iso,
)

CONSENT_LOG_NAME = "consent_log.jsonl"
CONSENT_ACTIONS = ("grant", "revoke")
EFFECTIVE_CONSENT_TABLE = "effective_consent"
_CONSENT_LOG_TABLE = "consent_log_rows"


class ConsentError(ValueError):
    """A consent change that must not be recorded (unknown user, operator, bad action)."""


@dataclass(frozen=True)
class ConsentChange:
    recorded_at: str
    user_id: str
    action: str
    source: str


def consent_log_path(review_dir: Path) -> Path:
    return Path(review_dir) / CONSENT_LOG_NAME


def record_consent(
    con: duckdb.DuckDBPyConnection, review_dir: Path, user_id: str, action: str, source: str = "cli"
) -> ConsentChange:
    """Validate against raw.users and append one grant/revoke; nothing is written when refused."""
    if action not in CONSENT_ACTIONS:
        raise ConsentError(f"unknown consent action {action!r}; expected one of {CONSENT_ACTIONS}")
    rows = con.execute("select user_type from raw.users where user_id = ?", [user_id]).fetchall()
    if not rows:
        raise ConsentError(f"unknown user {user_id!r}: no such user in raw.users")
    if rows[0][0] != "customer":
        raise ConsentError(
            f"{user_id!r} is not a customer (user_type {rows[0][0]!r}): only customers give or revoke consent"
        )
    change = ConsentChange(recorded_at=utc_now_iso(), user_id=user_id, action=action, source=source)
    append_jsonl(consent_log_path(review_dir), [asdict(change)])
    return change


def grant_consent(
    con: duckdb.DuckDBPyConnection, review_dir: Path, user_id: str, source: str = "cli"
) -> ConsentChange:
    return record_consent(con, review_dir, user_id, "grant", source)


def revoke_consent(
    con: duckdb.DuckDBPyConnection, review_dir: Path, user_id: str, source: str = "cli"
) -> ConsentChange:
    return record_consent(con, review_dir, user_id, "revoke", source)


def read_consent_log(review_dir: Path) -> list[ConsentChange]:
    """Every consent change, oldest first."""
    path = consent_log_path(review_dir)
    changes = []
    for position, record in enumerate(read_jsonl(path), start=1):
        if (
            record.get("action") not in CONSENT_ACTIONS
            or not record.get("user_id")
            or not record.get("recorded_at")
        ):
            raise ValueError(f"{path}: consent change #{position} is malformed: {record}")
        changes.append(
            ConsentChange(
                record["recorded_at"], record["user_id"], record["action"], record.get("source", "")
            )
        )
    return changes


_EFFECTIVE_CONSENT_SQL = f"""
with users as (
    select user_id, user_type, consent_status from raw.users
),

consent_log as (
    select * from {_CONSENT_LOG_TABLE}
),

latest_changes as (
    select user_id, action, recorded_at
    from consent_log
    qualify row_number() over (partition by user_id order by log_position desc) = 1
),

final as (
    select
        users.user_id,
        users.user_type,
        -- the latest logged change wins; no record anywhere means no consent
        coalesce(latest_changes.action = 'grant', users.consent_status, false) as consent_status,
        case when latest_changes.user_id is null then 'raw' else 'log' end as consent_source,
        latest_changes.recorded_at as consent_changed_at
    from users
    left join latest_changes on latest_changes.user_id = users.user_id
)

select * from final
"""


def effective_consent(con: duckdb.DuckDBPyConnection, review_dir: Path) -> str:
    """Create the temp table `effective_consent` (user_id, user_type, consent_status, consent_source,
    consent_changed_at): every user's consent now. Returns the table name for use in SQL."""
    changes = read_consent_log(review_dir)
    log_rows = pa.table(
        {
            "user_id": [change.user_id for change in changes],
            "action": [change.action for change in changes],
            "recorded_at": [parse_utc(change.recorded_at) for change in changes],
            "log_position": list(range(1, len(changes) + 1)),
        },
        schema=pa.schema(
            [
                ("user_id", pa.string()),
                ("action", pa.string()),
                ("recorded_at", pa.timestamp("us")),
                ("log_position", pa.int64()),
            ]
        ),
    )
    create_table_from_arrow(con, _CONSENT_LOG_TABLE, log_rows, temp=True)
    con.execute(f"create or replace temp table {EFFECTIVE_CONSENT_TABLE} as {_EFFECTIVE_CONSENT_SQL}")
    return EFFECTIVE_CONSENT_TABLE
