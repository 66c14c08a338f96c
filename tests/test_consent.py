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
from spendsense_dagster.lib.review.jsonl_log import append_jsonl, rejected_path
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


FEED = [
    # user, consent_status, granted_at, revoked_at, consents (the feed alone)
    ("f_granted", True, "2025-01-01 09:00", None, True),
    ("f_revoked_later", True, "2025-01-01 09:00", "2025-03-01 09:00", False),  # contradictory flag
    ("f_regranted", True, "2025-03-01 09:00", "2025-01-01 09:00", True),
    ("f_same_moment", True, "2025-01-01 09:00", "2025-01-01 09:00", False),  # a tie: the revoke wins
    ("f_revoked_only", True, None, "2025-01-01 09:00", False),
    ("f_flag_false", False, "2025-01-01 09:00", None, False),
    ("f_no_dates", True, None, None, True),
    ("f_flag_missing", None, None, None, False),
]


def _add_feed_users(con) -> None:
    for user_id, status, granted, revoked, _ in FEED:
        con.execute(
            "insert into raw.users (user_id, consent_status, consent_granted_at, consent_revoked_at,"
            " user_type) values (?, ?, ?::timestamp, ?::timestamp, 'customer')",
            [user_id, status, granted, revoked],
        )


def _log(review_dir, user_id: str, action: str, recorded_at: str) -> None:
    append_jsonl(
        consent_log_path(review_dir), [{"recorded_at": recorded_at, "user_id": user_id, "action": action}]
    )


def test_the_feed_alone_means_its_latest_event(warehouse, review_dir):
    _add_feed_users(warehouse)
    consent = _consent_now(warehouse, review_dir)
    assert {user_id: consent[user_id][0] for user_id, *_ in FEED} == {row[0]: row[-1] for row in FEED}


def test_the_latest_event_wins_between_the_feed_and_the_log(warehouse, review_dir):
    _add_feed_users(warehouse)
    _log(review_dir, "f_granted", "revoke", "2025-02-01T09:00:00Z")  # after the feed's grant
    _log(review_dir, "f_revoked_later", "grant", "2025-02-01T09:00:00Z")  # before the feed's revoke
    _log(review_dir, "f_regranted", "revoke", "2025-02-01T09:00:00Z")  # before the feed's re-grant
    _log(review_dir, "f_revoked_only", "grant", "2025-02-01T09:00:00Z")  # after the feed's revoke
    _log(review_dir, "f_same_moment", "grant", "2025-01-01T09:00:00Z")  # a tie again: revoke wins
    _log(review_dir, "f_no_dates", "revoke", "2024-01-01T00:00:00Z")  # the feed has no date to outrank it

    consent = _consent_now(warehouse, review_dir)

    assert consent["f_granted"] == (False, "log")
    assert consent["f_revoked_later"] == (False, "raw")
    assert consent["f_regranted"] == (True, "raw")
    assert consent["f_revoked_only"] == (True, "log")
    assert consent["f_same_moment"][0] is False
    assert consent["f_no_dates"] == (False, "log")


def test_a_feed_date_in_the_future_never_outranks_a_logged_revoke(warehouse, review_dir):
    warehouse.execute("update raw.users set consent_granted_at = timestamp '2999-01-01' where user_id = 'c1'")
    assert _consent_now(warehouse, review_dir)["c1"] == (True, "raw")
    revoke_consent(warehouse, review_dir, "c1")
    assert _consent_now(warehouse, review_dir)["c1"] == (False, "log")


def test_a_bad_consent_line_is_set_aside_and_the_valid_ones_still_count(warehouse, review_dir):
    revoke_consent(warehouse, review_dir, "c1")
    with consent_log_path(review_dir).open("a") as handle:
        handle.write('{"recorded_at": "2025-07-01T00:00:00Z", "user_id": "c2", "action": "pause"}\n')
        handle.write('{"recorded_at": "yesterday", "user_id": "c2", "action": "revoke"}\n')
    revoke_consent(warehouse, review_dir, "c4")

    consent = _consent_now(warehouse, review_dir)

    assert (consent["c1"][0], consent["c2"][0], consent["c4"][0]) == (False, True, False)
    rejected = [
        json.loads(line) for line in rejected_path(consent_log_path(review_dir)).read_text().splitlines()
    ]
    assert [(r["line"], r["problem"]) for r in rejected] == [
        (2, "not a consent change: action 'pause' is not grant or revoke"),
        (3, "recorded_at 'yesterday' is not an ISO 8601 timestamp"),
    ]
