"""The consent log and effective consent (latest log entry wins over raw.users.consent_status)."""

from __future__ import annotations

import json

import pytest

from spendsense_dagster.lib.review.actions import approve
from spendsense_dagster.lib.review.consent_log import (
    ConsentError,
    consent_log_path,
    effective_consent,
    grant_consent,
    read_consent_log,
    record_consent,
    revoke_consent,
)
from spendsense_dagster.lib.review.queue import build_approved_recommendations


def _consent_now(con, review_dir) -> dict[str, tuple[bool, str]]:
    table = effective_consent(con, review_dir)
    rows = con.execute(
        f"select user_id, consent_status, consent_source from {table} order by user_id"
    ).fetchall()
    return {user_id: (status, source) for user_id, status, source in rows}


def test_without_a_log_raw_consent_applies(warehouse, review_dir):
    assert _consent_now(warehouse, review_dir) == {
        "c1": (True, "raw"),
        "c2": (True, "raw"),
        "c3": (False, "raw"),
        "c4": (True, "raw"),
        "op1": (False, "raw"),
    }


def test_the_latest_logged_change_wins(warehouse, review_dir):
    grant_consent(warehouse, review_dir, "c3")
    revoke_consent(warehouse, review_dir, "c1")
    revoke_consent(warehouse, review_dir, "c2")
    grant_consent(warehouse, review_dir, "c2")

    consent = _consent_now(warehouse, review_dir)
    assert (
        consent["c1"] == (False, "log") and consent["c2"] == (True, "log") and consent["c3"] == (True, "log")
    )
    assert consent["c4"] == (True, "raw")
    changes = read_consent_log(review_dir)
    assert [(c.user_id, c.action, c.source) for c in changes] == [
        ("c3", "grant", "cli"),
        ("c1", "revoke", "cli"),
        ("c2", "revoke", "cli"),
        ("c2", "grant", "cli"),
    ]
    first = json.loads(consent_log_path(review_dir).read_text().splitlines()[0])
    assert list(first) == ["recorded_at", "user_id", "action", "source"] and first["recorded_at"].endswith(
        "Z"
    )


@pytest.mark.parametrize(
    ("user_id", "action", "message"),
    [
        ("nobody", "grant", "unknown user 'nobody'"),
        ("op1", "revoke", r"'op1' is not a customer \(user_type 'operator'\)"),
        ("c1", "pause", "unknown consent action 'pause'"),
    ],
)
def test_refused_consent_changes_write_nothing(warehouse, review_dir, user_id, action, message):
    with pytest.raises(ConsentError, match=message):
        record_consent(warehouse, review_dir, user_id, action)
    assert not consent_log_path(review_dir).exists()


def test_a_revoke_after_approval_withdraws_the_users_items(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu", "rec-c1-offer"], "op1")
    assert build_approved_recommendations(warehouse, review_dir) == 2

    revoke_consent(warehouse, review_dir, "c1")

    assert build_approved_recommendations(warehouse, review_dir) == 0
    assert [d for d in (review_dir / "decision_log.jsonl").read_text().splitlines() if d]  # decisions kept
