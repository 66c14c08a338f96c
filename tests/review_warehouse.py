"""A small hand-made warehouse for the review, consent and evaluation tests (contract-shaped tables).

Its fixtures (`warehouse`, `review_dir`) are registered for every test module by tests/conftest.py.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

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
    # What the override guardrails read: customers, accounts, streams, products (docs/guardrails.md).
    con.execute("create table marts.customers as select user_id, user_type, consent_status from raw.users")
    con.execute(
        """
        create table raw.accounts as
        select * from (values
            ('c1', 'acc-40001234', 'credit card', 'credit card', 3100.0, 5000.0),
            ('c2', 'acc-40005678', 'checking', 'checking', 820.0, null)
        ) as accounts(user_id, account_id, type, subtype, balance_current, balance_limit)
        """
    )
    con.execute(
        """
        create table marts.recurring_streams (
            user_id varchar, window_days integer, is_active_in_window boolean, merchant_name varchar,
            merchant_key varchar, cadence varchar, median_amount double, monthly_cost double, last_date date,
            next_expected_date date
        )
        """
    )
    con.execute(
        "create table raw.products as select 'P-BT' as product_id, 'Fresh Start Card' as product_name, "
        "'0% intro APR for 18 months, then 21.49% APR' as typical_apy_or_fee"
    )
    con.execute(
        """
        create table marts.user_features as
        select user_id, window_days, date '2025-06-30' as as_of_date, detected_behaviors, avg_monthly_income,
               max_utilization, estimated_monthly_interest, monthly_recurring_spend
        from (values
            ('c1', 30, 4, 6000.0, 0.62, 45.0, null), ('c1', 180, 4, 6000.0, 0.62, 45.0, null),
            ('c2', 30, 3, 3000.0, null, null, 62.0), ('c2', 180, 2, 3000.0, null, null, 62.0),
            ('c3', 30, 5, 9000.0, null, null, null), ('c3', 180, 5, 9000.0, null, null, null),
            ('c4', 30, 1, null, null, null, null), ('c4', 180, 2, 1000.0, null, null, null)
        ) as features(user_id, window_days, detected_behaviors, avg_monthly_income, max_utilization,
                      estimated_monthly_interest, monthly_recurring_spend)
        """
    )
    con.execute(
        """
        create table marts.user_personas as
        select user_id, window_days, date '2025-06-30' as as_of_date, persona, [persona] as matched_personas,
               0.8 as confidence, '[]' as reasoning
        from (values
            ('c1', 30, 'high_utilization'), ('c1', 180, 'high_utilization'),
            ('c2', 30, 'subscription_heavy'), ('c2', 180, 'general_wellness'),
            ('c3', 30, 'savings_builder'), ('c3', 180, 'savings_builder'),
            ('c4', 30, 'general_wellness'), ('c4', 180, 'variable_income')
        ) as personas(user_id, window_days, persona)
        """
    )
    con.execute(
        "create table marts.persona_history as"
        " select as_of_date, user_id, window_days, persona, confidence, matched_personas, reasoning,"
        " '[]' as criteria from marts.user_personas"
    )
    # The spending analytics marts (docs/statements.md); c3 (no consent) must never reach an export.
    con.execute(
        """
        create table marts.monthly_category_spend as
        select * from (values
            ('c1', date '2025-06-01', 'food_and_drink', 120.5, 4),
            ('c3', date '2025-06-01', 'travel', 80.0, 1)
        ) as spend(user_id, month, category, spend, transaction_count);
        create table marts.top_merchants as
        select * from (values
            ('c1', 30, 1, 'blue bottle', 'SQ *BLUE BOTTLE #1', 20.0, 4),
            ('c3', 30, 1, 'delta', 'DELTA', 80.0, 1)
        ) as merchants(user_id, window_days, rank, merchant, merchant_name, spend, visits);
        create table marts.savings_rate as
        select * from (values
            ('c1', date '2025-06-01', 6000.0, 120.5, 5879.5, 0.9799),
            ('c3', date '2025-06-01', 0.0, 80.0, -80.0, null)
        ) as rates(user_id, month, income, spend, net_savings, savings_rate);
        create table marts.spending_trend as
        select * from (values
            ('c1', date '2025-06-01', 120.5, null, null, null),
            ('c3', date '2025-06-01', 80.0, null, null, null)
        ) as trend(user_id, month, spend, change_vs_previous_month, previous_3_month_average,
                   change_vs_3_month_average)
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
