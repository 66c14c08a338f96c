"""Consent changes (grant / revoke) in an append-only JSONL log outside the warehouse, and every user's
consent now (docs/review.md).

`effective_consent` is the one place consent is decided; everything that selects users for a model,
an approved item or an export reads it. The latest consent event wins, from two sources: the input
feed (`consent_status` with `consent_granted_at` / `consent_revoked_at`) and this log. A revoke later
than a grant means no consent, whichever source holds which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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


def consent_problem(record: dict) -> str | None:
    """Why a log record is not a consent change (the reader sets such a line aside), or None."""
    if not isinstance(record.get("user_id"), str) or not record["user_id"]:
        return "not a consent change: user_id missing"
    if record.get("action") not in CONSENT_ACTIONS:
        return f"not a consent change: action {record.get('action')!r} is not grant or revoke"
    return timestamp_problem(record, "recorded_at")


def read_consent_log(review_dir: Path) -> list[ConsentChange]:
    """Every consent change, oldest first (bad lines set aside, see jsonl_log)."""
    return [
        ConsentChange(
            record["recorded_at"], record["user_id"], record["action"], str(record.get("source", ""))
        )
        for record in read_jsonl(consent_log_path(review_dir), consent_problem)
    ]


_EFFECTIVE_CONSENT_SQL = f"""
with users as (
    select user_id, user_type, consent_status, consent_granted_at, consent_revoked_at from raw.users
),

consent_log as (
    select * from {_CONSENT_LOG_TABLE}
),

latest_logged as (
    select user_id, action = 'grant' as grants, recorded_at
    from consent_log
    qualify row_number() over (partition by user_id order by log_position desc) = 1
),

feed as (
    select
        user_id,
        user_type,
        -- the flag, unless the feed's own revoke is at least as late as its grant
        coalesce(consent_status, false)
        and not coalesce(consent_revoked_at >= consent_granted_at, consent_revoked_at is not null)
            as grants,
        -- when the feed last changed; a date after now has not happened and never outranks the log
        greatest(
            case when consent_granted_at <= $now then consent_granted_at end,
            case when consent_revoked_at <= $now then consent_revoked_at end
        ) as changed_at
    from users
),

final as (
    select
        feed.user_id,
        feed.user_type,
        case
            when latest_logged.user_id is null then feed.grants
            when feed.changed_at is null or latest_logged.recorded_at > feed.changed_at
                then latest_logged.grants
            when latest_logged.recorded_at < feed.changed_at then feed.grants
            -- the same moment: a revoke on either side wins
            else latest_logged.grants and feed.grants
        end as consent_status,
        case
            when latest_logged.user_id is null then 'raw'
            when feed.changed_at is null or latest_logged.recorded_at >= feed.changed_at then 'log'
            else 'raw'
        end as consent_source,
        case
            when latest_logged.user_id is null then feed.changed_at
            else greatest(latest_logged.recorded_at, feed.changed_at)
        end as consent_changed_at
    from feed
    left join latest_logged on latest_logged.user_id = feed.user_id
)

select * from final
"""


def effective_consent(con: duckdb.DuckDBPyConnection, review_dir: Path) -> str:
    """Create the temp table `effective_consent` (user_id, user_type, consent_status, consent_source,
    consent_changed_at): every user's consent now. Returns the table name for use in SQL.

    Per user, the latest consent event decides: the last entry of the consent log, or the feed's
    answer as of its latest timestamp (its flag, false when its revoke is as late as its grant or
    later), whichever is later; at the same moment a revoke wins. No event anywhere means no consent.
    """
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
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        f"create or replace temp table {EFFECTIVE_CONSENT_TABLE} as {_EFFECTIVE_CONSENT_SQL}", {"now": now}
    )
    return EFFECTIVE_CONSENT_TABLE
