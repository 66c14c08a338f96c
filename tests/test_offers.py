"""Partner offers: set-based scoring and hard eligibility on hand-made marts, the catalog, and the
agreement between the SQL filter and the Python re-check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spendsense_dagster.lib.core.settings import CATALOG_PATH
from spendsense_dagster.lib.recommend.context import build_contexts, user_pii
from spendsense_dagster.lib.recommend.guardrails import check_item, context_grounding, numeric_facts
from spendsense_dagster.lib.recommend.models import DISCLAIMER
from spendsense_dagster.lib.recommend.offers import (
    OFFER_SIGNALS,
    is_offer_eligible,
    offer_candidates,
    products_by_id,
    select_offers,
)
from tests.test_context import customer, feature_row, insert, make_warehouse, persona_row

CATALOG = json.loads(CATALOG_PATH.read_text())
PRODUCT_FIELDS = [
    "product_id", "product_name", "product_type", "category", "persona_targets", "min_income",
    "max_credit_utilization", "requires_no_existing_savings", "requires_no_existing_investment",
    "short_description", "benefits", "typical_apy_or_fee", "partner_name", "partner_link", "disclosure",
    "priority", "active",
]  # fmt: skip
PERSONAS = {"wealth_builder", "high_utilization", "savings_builder", "variable_income",
            "subscription_heavy", "general_wellness"}  # fmt: skip


def product(product_id: str, product_type: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "product_id": product_id, "product_name": f"Product {product_id}", "product_type": product_type,
        "category": "test", "persona_targets": [], "min_income": None, "max_credit_utilization": None,
        "requires_no_existing_savings": False, "requires_no_existing_investment": False,
        "short_description": "A test product.", "benefits": ["One benefit"], "typical_apy_or_fee": "Free",
        "partner_name": "Test Partner", "partner_link": "https://partner.example/p",
        "disclosure": f"Disclosure of {product_id}.", "priority": 1, "active": True,
    }  # fmt: skip
    return {**row, **overrides}


TEST_PRODUCTS = [
    product("bt", "balance_transfer_card", persona_targets=["high_utilization"], min_income=2000,
            max_credit_utilization=0.9),
    product("starter_savings", "high_yield_savings", requires_no_existing_savings=True, priority=2),
    product("first_invest", "robo_advisor", requires_no_existing_investment=True, priority=3),
    product("retired", "budgeting_app", persona_targets=["high_utilization", "general_wellness"],
            active=False),
]  # fmt: skip


def warehouse_with(tmp_path: Path, users: dict[str, dict[str, Any]], products: list[dict[str, Any]]):
    """A consenting customer per entry: {user_id: {"features": {...}, "accounts": ["type/subtype", ...]}}."""
    con = make_warehouse(tmp_path / "warehouse.duckdb")
    insert(con, "raw.products", products)
    insert(con, "marts.customers", [customer(user_id, True) for user_id in users])
    for user_id, spec in users.items():
        insert(con, "raw.users", [{"user_id": user_id, "full_name": f"Name {user_id}",
                                   "email": f"{user_id}@example.com", "consent_status": True,
                                   "user_type": "customer"}])  # fmt: skip
        insert(con, "raw.accounts", [
            {"account_id": f"{user_id}-acct-{i:04d}", "user_id": user_id, "type": account_type,
             "subtype": subtype, "balance_current": 1000.0}
            for i, (account_type, _, subtype) in enumerate(
                kind.partition("/") for kind in spec.get("accounts", ["checking"])
            )
        ])  # fmt: skip
        for window in (30, 180):
            insert(con, "marts.user_features", [feature_row(user_id, window, **spec.get("features", {}))])
            insert(con, "marts.user_personas", [persona_row(user_id, spec.get("persona", "general_wellness"),
                                                            window)])  # fmt: skip
    return con


def offered(con, **kwargs) -> dict[str, list[str]]:
    by_user: dict[str, list[str]] = {}
    for offer in select_offers(con, **kwargs):
        by_user.setdefault(offer.user_id, []).append(offer.product_id)
    return by_user


def test_balance_transfer_needs_real_card_debt(tmp_path):
    con = warehouse_with(tmp_path, {
        "u_60": {"features": {"max_utilization": 0.6}, "persona": "high_utilization"},
        "u_20": {"features": {"max_utilization": 0.2}, "persona": "high_utilization"},
    }, TEST_PRODUCTS)  # fmt: skip

    result = offered(con)

    assert "bt" in result["u_60"]
    assert "bt" not in result["u_20"]


def test_income_and_utilisation_bounds_are_hard_filters(tmp_path):
    con = warehouse_with(tmp_path, {
        "u_ok": {"features": {"max_utilization": 0.6, "avg_monthly_income": 2000.0}},
        "u_low_income": {"features": {"max_utilization": 0.6, "avg_monthly_income": 1999.0}},
        "u_maxed": {"features": {"max_utilization": 0.95}},
        "u_no_income": {"features": {"max_utilization": 0.6, "avg_monthly_income": None}},
    }, TEST_PRODUCTS)  # fmt: skip

    result = offered(con)

    assert "bt" in result["u_ok"]
    for user_id in ("u_low_income", "u_maxed", "u_no_income"):
        assert "bt" not in result[user_id], user_id


def test_requires_no_existing_savings_or_investment(tmp_path):
    con = warehouse_with(tmp_path, {
        "u_saver": {"accounts": ["checking", "savings"], "features": {"investment_account_detected": True}},
        "u_money_market": {"accounts": ["checking", "Money_Market"]},
        "u_plaid_style": {"accounts": ["depository/checking", "depository/high yield savings"]},
        "u_newcomer": {"accounts": ["checking", "credit card/credit card"]},
    }, TEST_PRODUCTS)  # fmt: skip

    eligible = {(c["user_id"], c["product_id"]) for c in offer_candidates(con) if c["is_eligible"]}

    assert ("u_saver", "starter_savings") not in eligible
    assert ("u_money_market", "starter_savings") not in eligible
    assert ("u_plaid_style", "starter_savings") not in eligible
    assert ("u_newcomer", "starter_savings") in eligible
    assert ("u_saver", "first_invest") not in eligible
    assert ("u_newcomer", "first_invest") in eligible


def test_inactive_products_are_never_candidates(tmp_path):
    con = warehouse_with(tmp_path, {"u_1": {"persona": "high_utilization"}}, TEST_PRODUCTS)

    assert "retired" not in {c["product_id"] for c in offer_candidates(con)}


def test_relevance_signal_and_persona_rank_offers(tmp_path):
    con = warehouse_with(tmp_path, {
        # A high-utilisation persona: the balance transfer card has both the signal and the persona.
        "u_debt": {"features": {"max_utilization": 0.7}, "persona": "high_utilization",
                   "accounts": ["checking", "savings"]},
        # Nothing relevant is eligible except zero-score products: exactly one offer, by priority.
        "u_plain": {"features": {"investment_account_detected": False}, "accounts": ["checking"]},
    }, TEST_PRODUCTS)  # fmt: skip

    offers = {(o.user_id, o.product_id): o for o in select_offers(con)}

    assert offers[("u_debt", "bt")].relevance_score == 5
    assert [key for key in offers if key[0] == "u_plain"] == [("u_plain", "starter_savings")]
    assert offers[("u_plain", "starter_savings")].relevance_score == 0


def test_offer_items_carry_disclosure_and_cite_exact_values(tmp_path):
    con = warehouse_with(tmp_path, {
        "u_60": {"features": {"max_utilization": 0.6123, "estimated_monthly_interest": 48.2},
                 "persona": "high_utilization"},
    }, TEST_PRODUCTS)  # fmt: skip

    (offer, *_rest) = select_offers(con)

    assert offer.product_id == "bt"
    assert offer.disclaimer == f"Disclosure of bt. {DISCLAIMER}"
    assert offer.rationale == (
        "Because your highest card utilization is 61% and card interest is estimated at $48.20 a month, "
        "Product bt may be worth a look."
    )
    assert [(f.name, f.value) for f in offer.cited_facts] == [
        ("max_utilization", 0.6123),
        ("estimated_monthly_interest", 48.2),
    ]
    assert "https://partner.example/p" in offer.content
    assert offer.metadata.priority == "high"
    assert offer.metadata.tags == ["partner_offer", "balance_transfer_card", "test"]


def test_operators_and_non_consenting_users_get_no_offers(tmp_path):
    con = warehouse_with(tmp_path, {"u_yes": {}, "u_revoked": {}}, TEST_PRODUCTS)
    insert(con, "marts.customers", [customer("op_1", True, user_type="operator")])

    assert set(offered(con, user_ids=["u_yes", "op_1"])) == {"u_yes"}
    assert select_offers(con, user_ids=[]) == []


def load_catalog_users(tmp_path: Path):
    """The real catalog against a spread of users covering every persona and rule boundary."""
    users = {
        "u_debt": {"features": {"max_utilization": 0.72, "interest_charges_present": True,
                                "estimated_monthly_interest": 61.3, "minimum_payment_only_flag": True},
                   "persona": "high_utilization"},
        "u_maxed": {"features": {"max_utilization": 0.97, "any_overdue": True},
                    "persona": "high_utilization"},
        "u_saver": {"features": {"net_savings_inflow": 350.0, "emergency_fund_months": 1.4,
                                 "total_savings_balance": 4200.0},
                    "persona": "savings_builder", "accounts": ["checking", "savings"]},
        "u_gig": {"features": {"median_pay_gap_days": 52.0, "income_variability": 0.41,
                               "cash_flow_buffer_months": 0.4, "avg_monthly_income": 1700.0,
                               "pay_frequency": "irregular"}, "persona": "variable_income"},
        "u_subs": {"features": {"recurring_merchants": 7, "monthly_recurring_spend": 142.5},
                   "persona": "subscription_heavy"},
        "u_wealth": {"features": {"avg_monthly_income": 12500.0, "max_utilization": 0.05,
                                  "investment_account_detected": True, "total_savings_balance": 40000.0,
                                  "emergency_fund_months": 9.0},
                     "persona": "wealth_builder", "accounts": ["checking", "savings", "brokerage"]},
        "u_plain": {"features": {"emergency_fund_months": None}},
        "u_no_card": {"features": {"max_utilization": None, "avg_utilization": None, "credit_card_count": 0}},
        "u_no_pay": {"features": {"avg_monthly_income": None, "payroll_detected": False}},
    }  # fmt: skip
    return warehouse_with(tmp_path, users, CATALOG), users


def test_sql_filter_and_python_recheck_agree_on_every_pair(tmp_path):
    con, _users = load_catalog_users(tmp_path)
    products = products_by_id(con)  # as stored in raw.products: doubles, lists, inactive ones too
    contexts = {context.user_id: context for context in build_contexts(con)}

    candidates = offer_candidates(con)

    assert len(candidates) == len(contexts) * sum(p["active"] for p in CATALOG)
    assert any(c["is_eligible"] for c in candidates) and not all(c["is_eligible"] for c in candidates)
    for candidate in candidates:
        context = contexts[candidate["user_id"]]
        eligible, reasons = is_offer_eligible(
            products[candidate["product_id"]], context.features, context.accounts
        )
        assert eligible == candidate["is_eligible"], (candidate, reasons)


def test_catalog_offers_one_or_two_per_user_and_pass_the_guardrails(tmp_path):
    con, users = load_catalog_users(tmp_path)
    contexts = {context.user_id: context for context in build_contexts(con)}
    pii = user_pii(con)

    offers = select_offers(con)

    assert select_offers(con) == offers  # deterministic
    per_user = offered(con)
    assert set(per_user) == set(users)
    assert all(1 <= len(products) <= 2 for products in per_user.values())
    assert "bt_clearpath_18" in per_user["u_debt"]
    assert not any(p.startswith("bt_") for p in per_user["u_maxed"])  # above every card's max utilisation
    assert "budget_evenflow" in per_user["u_gig"]
    assert "subs_trimwise" in per_user["u_subs"]
    assert "robo_steadyoak" in per_user["u_wealth"]
    for offer in offers:
        context = contexts[offer.user_id]
        result = check_item(
            offer.model_dump(),
            facts=numeric_facts(context.features),
            pii=pii[offer.user_id],
            consent_now=True,
            offer_eligible=True,
            grounding=context_grounding(
                context, next(p for p in CATALOG if p["product_id"] == offer.product_id)
            ),
        )
        assert result.status == "pass", (offer.product_id, result.findings)
        assert offer.disclaimer.startswith(next(p["disclosure"] for p in CATALOG if p["product_id"] ==
                                                offer.product_id))  # fmt: skip


def test_is_offer_eligible_explains_each_failed_rule():
    bt = product("bt", "balance_transfer_card", min_income=3000, max_credit_utilization=0.9, active=False)

    eligible, reasons = is_offer_eligible(bt, {"avg_monthly_income": 2500, "max_utilization": 0.2}, [])

    assert not eligible
    assert [reason.split(":")[0] for reason in reasons] == [
        "min_income",
        "balance_transfer_min_utilization",
        "product is not active",
    ]
    ok, no_reasons = is_offer_eligible({**bt, "active": True}, {"avg_monthly_income": 3000,
                                                              "max_utilization": 0.3}, [])  # fmt: skip
    assert ok and no_reasons == []


def test_catalog_has_the_spec_fields_and_a_signal_for_every_type():
    assert 20 <= len(CATALOG) <= 25
    assert all(list(p) == PRODUCT_FIELDS for p in CATALOG)
    assert len({p["product_id"] for p in CATALOG}) == len(CATALOG)
    assert any(not p["active"] for p in CATALOG)
    assert {p["product_type"] for p in CATALOG} == set(OFFER_SIGNALS)
    assert all(set(p["persona_targets"]) <= PERSONAS and p["persona_targets"] for p in CATALOG)
    assert all(p["disclosure"] and p["partner_link"].startswith("https://") for p in CATALOG)
