"""What the review sensor watches: operator input that has not been applied yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from spendsense_dagster.lib.review.consent_log import consent_log_path
from spendsense_dagster.lib.review.decision_log import decision_log_path
from spendsense_dagster.lib.review.queue import QUEUE_CSV_NAME, read_decision_rows


def _file_state(path: Path) -> list[int] | None:
    if not path.exists():
        return None
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def review_inputs_state(review_dir: Path) -> dict:
    """The decision log, the consent log and the decisions typed into the CSV, as comparable values.

    Only the CSV's filled-in decision rows count: the review job rewrites the CSV itself, and that
    must not trigger another run.
    """
    csv_path = review_dir / QUEUE_CSV_NAME
    try:
        csv_decisions = read_decision_rows(csv_path) if csv_path.exists() else []
    except ValueError:
        csv_decisions = []  # not an approval queue file: the review job reports it
    return {
        "decisions": _file_state(decision_log_path(review_dir)),
        "consent": _file_state(consent_log_path(review_dir)),
        "csv": csv_decisions,
    }


def has_operator_input(state: dict) -> bool:
    return any(state.values())


def fingerprint(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
