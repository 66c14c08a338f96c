"""Approval queue (table, CSV, HTML), CSV decisions and approved recommendations on a real DuckDB file.

`make_review_warehouse` builds the small hand-made warehouse the review, consent and evaluation tests
share: raw.users / raw.run_context, marts.user_features / user_personas, recs.* per the data contract.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from spendsense_dagster.lib.consent_log import grant_consent, revoke_consent
from spendsense_dagster.lib.decision_log import append_decisions, new_decision, read_decisions
from spendsense_dagster.lib.review_actions import approve, override, reject
from spendsense_dagster.lib.review_queue import (
    DECISION_COLUMNS,
    ITEM_COLUMNS,
    approved_items_violations,
    build_approval_queue,
    build_approved_recommendations,
    import_csv_decisions,
    refresh_review,
)

AS_OF = date(2025, 6, 30)
DISCLAIMER = (
    "This is educational content, not financial advice. Consult a licensed advisor for personalized guidance."
)
TRICKY_TITLE = '<script>alert("x")</script> & budgets'
TRICKY_CONTENT = 'Line one, with a comma\n"Quoted" line two'

_RECOMMENDATION_COLUMNS = """
    recommendation_id varchar primary key, user_id varchar, window_days integer, as_of_date date,
    persona varchar, content_type varchar, title varchar, content varchar, rationale varchar,
    disclaimer varchar, product_id varchar, cited_facts varchar, metadata varchar, generator varchar,
    model varchar, prompt_version varchar, context_hash varchar, latency_ms double, input_tokens integer,
    output_tokens integer, cost_usd double, generated_at timestamp, guardrail_status varchar,
    guardrail_findings varchar
"""


def add_recommendation(
    con: duckdb.DuckDBPyConnection,
    recommendation_id: str,
    user_id: str,
    *,
    persona: str = "high_utilization",
    content_type: str = "education",
    title: str = "Paying down a card",
    content: str = "Paying more than the minimum lowers interest.",
    rationale: str = "Because your card utilization is 62%, interest adds up.",
    product_id: str | None = None,
    model: str | None = "gpt-4o-mini",
    guardrail_status: str = "pass",
    findings: list[dict] | None = None,
) -> None:
    con.execute(
        "insert into recs.recommendations values "
        "(?, ?, 30, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '{\"priority\": \"high\", \"tags\": []}', 'openai', ?, "
        "'p-1a2b', 'ctx', 120.0, 500, 150, 0.0001, '2025-06-30 08:00:00', ?, ?)",
        [
            recommendation_id, user_id, AS_OF, persona, content_type, title, content, rationale, DISCLAIMER,
            product_id, model, guardrail_status, json.dumps(findings or []),
        ],
    )  # fmt: skip


def make_review_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """op1 is the operator; c1, c2, c4 consent in raw.users, c3 does not. Four items: two of c1 (pass),
    one warn and one block (with a grounding finding) of c2."""
    con = duckdb.connect(str(path))
    con.execute("create schema raw; create schema marts; create schema recs")
    con.execute(
        """
        create table raw.users as
        select * from (values
            ('op1', 'Olive Operator', 'op1@example.com', timestamp '2024-01-01', false, null::timestamp,
             null::timestamp, 'operator', null, null, 'users.json'),
            ('c1', 'Cara One', 'c1@example.com', timestamp '2024-01-01', true, timestamp '2024-01-02',
             null::timestamp, 'customer', '25-34', 'west', 'users.json'),
            ('c2', 'Cy Two', 'c2@example.com', timestamp '2024-01-01', true, timestamp '2024-01-02',
             null::timestamp, 'customer', '35-44', 'east', 'users.json'),
            ('c3', 'Cid Three', 'c3@example.com', timestamp '2024-01-01', false, null::timestamp,
             null::timestamp, 'customer', '25-34', 'east', 'users.json'),
            ('c4', 'Cat Four', 'c4@example.com', timestamp '2024-01-01', true, timestamp '2024-01-02',
             null::timestamp, 'customer', '45-54', 'west', 'users.json')
        ) as users(user_id, full_name, email, created_at, consent_status, consent_granted_at,
                   consent_revoked_at, user_type, age_band, region, source_file)
        """
    )
    con.execute(
        "create table raw.run_context as select date '2025-06-30' as as_of_date, "
        "'spendsense' as amount_convention, 'data/raw' as raw_dir"
    )
    con.execute(
        """
        create table marts.user_features as
        select user_id, window_days, date '2025-06-30' as as_of_date, detected_behaviors, avg_monthly_income
        from (values
            ('c1', 30, 4, 6000.0), ('c1', 180, 4, 6000.0),
            ('c2', 30, 3, 3000.0), ('c2', 180, 2, 3000.0),
            ('c3', 30, 5, 9000.0), ('c3', 180, 5, 9000.0),
            ('c4', 30, 1, null), ('c4', 180, 2, 1000.0)
        ) as features(user_id, window_days, detected_behaviors, avg_monthly_income)
        """
    )
    con.execute(
        """
        create table marts.user_personas as
        select user_id, window_days, date '2025-06-30' as as_of_date, persona, [persona] as matched_personas,
               0.8 as confidence, '{"criteria": []}' as reasoning
        from (values
            ('c1', 30, 'high_utilization'), ('c1', 180, 'high_utilization'),
            ('c2', 30, 'subscription_heavy'), ('c2', 180, 'general_wellness'),
            ('c3', 30, 'savings_builder'), ('c3', 180, 'savings_builder'),
            ('c4', 30, 'general_wellness'), ('c4', 180, 'variable_income')
        ) as personas(user_id, window_days, persona)
        """
    )
    con.execute(f"create table recs.recommendations ({_RECOMMENDATION_COLUMNS})")
    add_recommendation(con, "rec-c1-edu", "c1")
    add_recommendation(
        con, "rec-c1-offer", "c1", content_type="partner_offer", product_id="P-BT",
        title="A balance-transfer card", rationale="Because you pay about $45 a month in interest.",
    )  # fmt: skip
    add_recommendation(
        con, "rec-c2-warn", "c2", persona="subscription_heavy", title=TRICKY_TITLE, content=TRICKY_CONTENT,
        rationale="Because 4 subscriptions cost you $62 a month.", guardrail_status="warn",
        findings=[{"check": "tone", "severity": "notable", "message": "no empowering language"}],
    )  # fmt: skip
    add_recommendation(
        con, "rec-c2-block", "c2", persona="subscription_heavy", title="Cut your 9 subscriptions",
        rationale="Because you spend a lot.", guardrail_status="block",
        findings=[{"check": "grounding_facts", "severity": "critical", "message": "subscriptions: 9 vs 4"}],
    )  # fmt: skip
    con.execute(
        """
        create table recs.llm_calls as
        select * from (values
            ('c1', 30, 'openai', 'gpt-4o-mini', false, 1, 120.0, 1000, 300, 0.00033, 'ok'),
            ('c1', 180, 'openai', 'gpt-4o-mini', true, 0, 0.0, 0, 0, 0.0, 'ok'),
            ('c2', 30, 'openai', 'gpt-4o-mini', false, 2, 480.0, 2000, 600, 0.00066, 'ok'),
            ('c4', 30, 'openai', 'gpt-4o-mini', false, 2, 0.0, 0, 0, 0.0, 'failed')
        ) as calls(user_id, window_days, generator, model, cache_hit, attempts, latency_ms, input_tokens,
                   output_tokens, cost_usd, status)
        """
    )
    con.execute(
        """
        create table recs.generation_failures as
        select 'c4' as user_id, 30 as window_days, date '2025-06-30' as as_of_date, 'openai' as generator,
               'gpt-4o-mini' as model, 'reply was not JSON' as error, 2 as attempts
        """
    )
    return con


@pytest.fixture
def warehouse(tmp_path: Path):
    con = make_review_warehouse(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


@pytest.fixture
def review_dir(tmp_path: Path) -> Path:
    return tmp_path / "review"


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
            "(regenerated content has a new id; see the approval queue)"
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
        "select recommendation_id, title, content, decision, operator_id from review.approved_recommendations "
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
