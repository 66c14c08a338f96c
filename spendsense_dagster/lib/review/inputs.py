"""What the review sensor watches: operator input that has not been applied yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from spendsense_dagster.lib.review.consent_log import consent_log_path
from spendsense_dagster.lib.review.csv_decisions import (
    DECISION_COLUMNS,
    QUEUE_CSV_NAME,
    UNAPPLIED_CSV_NAME,
    read_decision_rows,
)
from spendsense_dagster.lib.review.decision_log import decision_log_path


def _file_state(path: Path) -> list[int] | None:
    if not path.exists():
        return None
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _typed_decisions(csv_path: Path) -> list[list[str]]:
    """The decision cells typed into a queue-shaped CSV, per filled row."""
    try:
        rows = read_decision_rows(csv_path) if csv_path.exists() else []
    except ValueError:
        return []  # not an approval queue file: the review job reports it
    return [
        [row.get("recommendation_id") or "", *(row.get(c) or "" for c in DECISION_COLUMNS)] for _, row in rows
    ]


def review_inputs_state(review_dir: Path) -> dict:
    """The decision log, the consent log and the decisions typed into the CSVs, as comparable values.

    Only the typed decision cells of the CSVs count: the review job rewrites both files itself (the
    queue, the refusal reasons of unapplied decisions), and that must not trigger another run.
    """
    return {
        "decisions": _file_state(decision_log_path(review_dir)),
        "consent": _file_state(consent_log_path(review_dir)),
        "csv": _typed_decisions(review_dir / QUEUE_CSV_NAME),
        "unapplied": _typed_decisions(review_dir / UNAPPLIED_CSV_NAME),
    }


def has_operator_input(state: dict) -> bool:
    return any(state.values())


def fingerprint(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
