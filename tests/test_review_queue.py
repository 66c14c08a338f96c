"""Approval queue (table, CSV, HTML), CSV decisions and approved recommendations on a real DuckDB file.

`make_review_warehouse` builds the small hand-made warehouse the review, consent and evaluation tests
share: raw.users / raw.run_context, marts.user_features / user_personas, recs.* per the data contract.
"""

from __future__ import annotations

import csv
from pathlib import Path

from spendsense_dagster.lib.review.actions import approve, override, reject
from spendsense_dagster.lib.review.consent_log import grant_consent, revoke_consent
from spendsense_dagster.lib.review.csv_decisions import UNAPPLIED_COLUMNS, UNAPPLIED_CSV_NAME
from spendsense_dagster.lib.review.decision_log import append_decisions, new_decision, read_decisions
from spendsense_dagster.lib.review.queue import (
    DECISION_COLUMNS,
    ITEM_COLUMNS,
    approved_items_violations,
    build_approval_queue,
    build_approved_recommendations,
    import_csv_decisions,
    refresh_review,
)
from tests.review_warehouse import TRICKY_CONTENT, TRICKY_TITLE, add_recommendation


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*ITEM_COLUMNS, *DECISION_COLUMNS])
        writer.writeheader()
        writer.writerows(rows)


def _fill(rows: list[dict[str, str]], recommendation_id: str, **cells: str) -> None:
    next(row for row in rows if row["recommendation_id"] == recommendation_id).update(cells)


def test_queue_holds_pending_items_in_table_csv_and_html(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu"], "op1")

    queue = build_approval_queue(warehouse, review_dir)

    assert queue.rows == 3
    assert queue.status_counts == {"pass": 1, "warn": 1, "block": 1}
    table_ids = {
        row[0] for row in warehouse.execute("select recommendation_id from review.approval_queue").fetchall()
    }
    assert table_ids == {"rec-c1-offer", "rec-c2-warn", "rec-c2-block"}
    columns = [row[0] for row in warehouse.execute("describe review.approval_queue").fetchall()]
    assert columns == [*ITEM_COLUMNS, *DECISION_COLUMNS]

    rows = _read_csv(queue.csv_path)
    assert list(rows[0]) == [*ITEM_COLUMNS, *DECISION_COLUMNS]
    assert [row["recommendation_id"] for row in rows] == ["rec-c1-offer", "rec-c2-block", "rec-c2-warn"]
    tricky = next(row for row in rows if row["recommendation_id"] == "rec-c2-warn")
    assert (tricky["title"], tricky["content"]) == (TRICKY_TITLE, TRICKY_CONTENT)  # quoting survives
    assert all(row[column] == "" for row in rows for column in DECISION_COLUMNS)
    assert not list(review_dir.glob(".*.tmp"))

    page = queue.html_path.read_text(encoding="utf-8")
    assert (
        "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; budgets" in page
    )
    assert 'class="status block"' in page and "subscriptions: 9 vs 4" in page
    assert "rec-c1-edu" not in page


def test_csv_import_records_valid_rows_reports_invalid_ones_and_is_idempotent(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    # spreadsheet rows 2..5: rec-c1-edu, rec-c1-offer, rec-c2-block, rec-c2-warn
    rows = _read_csv(queue.csv_path)
    _fill(rows, "rec-c1-edu", decision="Approve", operator_id="op1")
    _fill(rows, "rec-c1-offer", decision="reject", operator_id="op1")  # no reason
    _fill(rows, "rec-c2-block", decision="override", operator_id="op1", reason="fixed count",
          new_title="Review your 4 subscriptions", new_content="You have 4 subscriptions.")  # fmt: skip
    _fill(rows, "rec-c2-warn", reason="typed a reason but no decision")
    rows.append({**rows[0], "recommendation_id": "rec-gone", "decision": "approve", "operator_id": "c1"})
    _write_csv(queue.csv_path, rows)

    result = import_csv_decisions(warehouse, queue.csv_path, review_dir)

    assert [(d.recommendation_id, d.action, d.source) for d in result.recorded] == [
        ("rec-c1-edu", "approve", "csv"),
        ("rec-c2-block", "override", "csv"),
    ]
    assert result.errors == [
        "row 3: reject of rec-c1-offer needs a reason",
        "row 5: the decision column is empty (approve, reject or override)",
        "row 6: 'c1' is a customer, not an operator: only operators decide",
        (
            "row 6: unknown recommendation id 'rec-gone': not in recs.recommendations "
            "(stale: regenerated content, e.g. of a run as of another date, has a new id; "
            "see the approval queue)"
        ),
    ]
    override_logged = read_decisions(review_dir)[1]
    assert override_logged.previous_title == "Cut your 9 subscriptions"

    again = import_csv_decisions(warehouse, queue.csv_path, review_dir)
    assert (again.recorded, again.unchanged) == ([], 2)
    assert len(read_decisions(review_dir)) == 2


def test_reimporting_an_old_csv_does_not_revive_a_replaced_decision(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    rows = _read_csv(queue.csv_path)
    _fill(rows, "rec-c1-edu", decision="approve", operator_id="op1")
    _write_csv(queue.csv_path, rows)
    import_csv_decisions(warehouse, queue.csv_path, review_dir)
    reject(warehouse, review_dir, "rec-c1-edu", "second thoughts", "op1")

    import_csv_decisions(warehouse, queue.csv_path, review_dir)

    assert [d.action for d in read_decisions(review_dir)] == ["approve", "reject"]


def test_refresh_imports_the_csv_and_keeps_what_was_typed_into_refused_rows(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    rows = _read_csv(queue.csv_path)
    _fill(rows, "rec-c1-edu", decision="approve", operator_id="op1")
    _fill(rows, "rec-c2-warn", decision="approve", operator_id="c2")  # refused: not an operator
    _write_csv(queue.csv_path, rows)

    refreshed = refresh_review(warehouse, review_dir)

    assert [d.recommendation_id for d in refreshed.imported.recorded] == ["rec-c1-edu"]
    assert len(refreshed.imported.errors) == 1 and refreshed.imported.errors[0].startswith("row 5:")
    assert (refreshed.decisions, refreshed.queue.rows, refreshed.approved) == (1, 3, 1)
    rewritten = {row["recommendation_id"]: row for row in _read_csv(queue.csv_path)}
    assert "rec-c1-edu" not in rewritten
    assert (rewritten["rec-c2-warn"]["decision"], rewritten["rec-c2-warn"]["operator_id"]) == (
        "approve",
        "c2",
    )
    assert rewritten["rec-c1-offer"]["decision"] == ""


def test_approved_recommendations_carry_final_text_of_consenting_users_and_existing_items(
    warehouse, review_dir
):
    approve(warehouse, review_dir, ["rec-c1-edu", "rec-c1-offer"], "op1")
    reject(warehouse, review_dir, "rec-c1-offer", "offer not suitable", "op1")  # the later decision wins
    override(
        warehouse, review_dir, "rec-c2-block", "Review your 4 subscriptions", "You have 4.", "fixed", "op1"
    )
    reject(warehouse, review_dir, "rec-c2-warn", "tone", "op1")
    gone = new_decision(
        operator_id="op1", action="approve", recommendation_id="rec-gone", user_id="c1", source="cli"
    )
    append_decisions(review_dir, [gone])  # an item since regenerated away

    assert build_approved_recommendations(warehouse, review_dir) == 2
    approved = warehouse.execute(
        "select recommendation_id, title, content, decision, operator_id"
        " from review.approved_recommendations "
        "order by recommendation_id"
    ).fetchall()
    assert approved == [
        (
            "rec-c1-edu",
            "Paying down a card",
            "Paying more than the minimum lowers interest.",
            "approve",
            "op1",
        ),
        ("rec-c2-block", "Review your 4 subscriptions", "You have 4.", "override", "op1"),
    ]
    columns = [row[0] for row in warehouse.execute("describe review.approved_recommendations").fetchall()]
    assert columns == [
        "recommendation_id", "user_id", "window_days", "as_of_date", "persona", "content_type", "title",
        "content", "rationale", "disclaimer", "product_id", "decision", "operator_id", "decided_at",
        "generator", "model", "prompt_version",
    ]  # fmt: skip

    revoke_consent(warehouse, review_dir, "c2")
    assert build_approved_recommendations(warehouse, review_dir) == 1
    grant_consent(warehouse, review_dir, "c2")
    assert build_approved_recommendations(warehouse, review_dir) == 2


def test_regenerated_content_is_a_new_pending_item(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu"], "op1")
    # regeneration changed the text, hence the id; the old row is gone from recs.recommendations
    warehouse.execute("delete from recs.recommendations where recommendation_id = 'rec-c1-edu'")
    add_recommendation(
        warehouse, "rec-c1-edu-v2", "c1", content="Paying more than the minimum saves interest."
    )

    queue = build_approval_queue(warehouse, review_dir)
    approved = build_approved_recommendations(warehouse, review_dir)

    queued = {
        row[0] for row in warehouse.execute("select recommendation_id from review.approval_queue").fetchall()
    }
    assert "rec-c1-edu-v2" in queued and queue.rows == 4
    assert approved == 0


def test_export_guard_finds_unapproved_unexplained_or_unconsented_rows(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu", "rec-c1-offer"], "op1")
    override(
        warehouse, review_dir, "rec-c2-block", "Review your 4 subscriptions", "You have 4.", "fixed", "op1"
    )
    build_approved_recommendations(warehouse, review_dir)
    assert approved_items_violations(warehouse, review_dir) == []

    # what a stale table looks like: consent revoked, approval withdrawn, text fields emptied since the build
    revoke_consent(warehouse, review_dir, "c2")
    reject(warehouse, review_dir, "rec-c1-offer", "withdrawn", "op1")
    warehouse.execute(
        "update review.approved_recommendations set disclaimer = ' ', rationale = null "
        "where recommendation_id = 'rec-c1-edu'"
    )

    assert approved_items_violations(warehouse, review_dir) == [
        "rec-c1-edu: no disclaimer; no rationale",
        "rec-c1-offer: no approval in force",
        "rec-c2-block: user does not consent now",
    ]


def _read_unapplied(review_dir: Path) -> list[dict[str, str]]:
    path = review_dir / UNAPPLIED_CSV_NAME
    return _read_csv(path) if path.exists() else []


def test_refused_typed_decisions_are_kept_in_the_queue_or_moved_to_unapplied(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    rows = _read_csv(queue.csv_path)
    _fill(rows, "rec-c1-edu", decision="reject", operator_id="op1")  # no reason: the item stays pending
    _fill(rows, "rec-c1-offer", decision="approve", operator_id="op1")
    rows.append({**rows[0], "recommendation_id": "rec-stale", "decision": "approve", "operator_id": "op1"})
    _write_csv(queue.csv_path, rows)

    refreshed = refresh_review(warehouse, review_dir)

    assert [d.recommendation_id for d in refreshed.imported.recorded] == ["rec-c1-offer"]
    assert (refreshed.imported.kept_in_queue, refreshed.imported.kept_unapplied) == (1, 1)
    in_queue = {row["recommendation_id"]: row for row in _read_csv(queue.csv_path)}
    assert in_queue["rec-c1-edu"]["decision"] == "reject"  # kept where the operator typed it
    (moved,) = _read_unapplied(review_dir)
    assert list(moved) == list(UNAPPLIED_COLUMNS)
    assert (moved["recommendation_id"], moved["decision"], moved["operator_id"]) == (
        "rec-stale",
        "approve",
        "op1",
    )
    assert moved["refusal_reason"].startswith("unknown recommendation id 'rec-stale'")
    first_refused = moved["first_refused_at"]

    again = refresh_review(warehouse, review_dir)  # tried again, still refused: kept once, first date kept
    assert again.imported.kept_unapplied == 1
    assert _read_unapplied(review_dir)[0]["first_refused_at"] == first_refused
    assert again.imported.errors[-1].startswith("unapplied_decisions.csv row 2: unknown recommendation id")


def test_an_unapplied_decision_applies_once_its_item_is_back(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    rows = _read_csv(queue.csv_path)
    rows.append({**rows[0], "recommendation_id": "rec-c4-edu", "decision": "approve", "operator_id": "op1"})
    _write_csv(queue.csv_path, rows)
    refresh_review(warehouse, review_dir)
    assert [row["recommendation_id"] for row in _read_unapplied(review_dir)] == ["rec-c4-edu"]

    add_recommendation(warehouse, "rec-c4-edu", "c4")  # e.g. its as-of date was run again
    refreshed = refresh_review(warehouse, review_dir)

    assert [d.recommendation_id for d in refreshed.imported.recorded] == ["rec-c4-edu"]
    assert refreshed.imported.kept == 0 and not (review_dir / UNAPPLIED_CSV_NAME).exists()
    assert [d.recommendation_id for d in read_decisions(review_dir)] == ["rec-c4-edu"]
