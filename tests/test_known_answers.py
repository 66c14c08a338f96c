"""Features and personas of tests/datasets/handmade_basic against answers worked out by hand (its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline_runs import query


def _feature(workspace: Path, user_id: str, window: int, name: str):
    warehouse = workspace / "warehouse" / "spendsense.duckdb"
    rows = query(
        warehouse,
        f"select {name} from marts.user_features where user_id = ? and window_days = ?",
        [user_id, window],
    )
    assert len(rows) == 1
    return rows[0][0]


@pytest.mark.parametrize(
    ("user_id", "window", "name", "expected"),
    [
        ("u1", 30, "total_spend", 280.51),
        ("u1", 180, "total_spend", 652.16),
        ("u1", 30, "avg_monthly_income", 5000.0),
        ("u1", 180, "avg_monthly_income", 32500 / 6),
        ("u1", 180, "median_pay_gap_days", 14),
        ("u1", 30, "recurring_merchants", 1),
        ("u1", 30, "monthly_recurring_spend", 15.49),
        ("u1", 30, "subscription_spend_share", 15.49 / 280.51),
        ("u1", 30, "net_savings_inflow", 300.0),
        ("u1", 30, "savings_growth_rate", 300 / 11700),
        ("u1", 180, "savings_growth_rate", 1800 / 10200),
        ("u1", 30, "max_utilization", 0.25),
        ("u1", 30, "estimated_monthly_interest", 1250 * 22.99 / 100 / 12),
        ("u2", 30, "total_spend", 145.69),
        ("u2", 180, "total_spend", 200.64),
        ("u2", 30, "max_utilization", 0.9),
        ("u3", 30, "total_spend", 139.45),
        ("u4", 30, "total_spend", 1520.45),
        ("u4", 30, "savings_growth_rate", 200 / 7800),
        ("u5", 30, "total_spend", 995.60),
        ("u5", 180, "total_spend", 4795.60),
        ("u5", 180, "median_pay_gap_days", 52.5),
        ("u5", 180, "cash_flow_buffer_months", 350 / (4795.60 / 6)),
    ],
)
def test_numeric_features(basic_workspace: Path, user_id: str, window: int, name: str, expected: float):
    assert _feature(basic_workspace, user_id, window, name) == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize(
    ("user_id", "window", "name", "expected"),
    [
        ("u1", 180, "pay_frequency", "biweekly"),
        ("u1", 30, "interest_charges_present", True),
        ("u1", 30, "minimum_payment_only_flag", False),
        ("u1", 30, "investment_account_detected", True),
        ("u2", 30, "minimum_payment_only_flag", True),
        ("u2", 30, "any_overdue", True),
        ("u2", 30, "overdraft_or_late_fee_present", True),
        ("u2", 30, "utilization_80_flag", True),
        ("u2", 180, "pay_frequency", "monthly"),
    ],
)
def test_flags_and_cadences(basic_workspace: Path, user_id: str, window: int, name: str, expected):
    assert _feature(basic_workspace, user_id, window, name) == expected


def test_personas(basic_workspace: Path):
    warehouse = basic_workspace / "warehouse" / "spendsense.duckdb"
    personas = {
        (user_id, window): (persona, matched)
        for user_id, window, persona, matched in query(
            warehouse, "select user_id, window_days, persona, matched_personas from marts.user_personas"
        )
    }
    assert personas[("u1", 30)] == ("high_utilization", ["high_utilization", "savings_builder"])
    assert personas[("u2", 30)][0] == "high_utilization"
    assert personas[("u4", 30)][0] == "savings_builder"
    assert personas[("u5", 180)][0] == "variable_income"
    assert personas[("u5", 30)][0] != "variable_income"  # one deposit in the 90-day look-back: no pay gap
