"""Guardrails (docs/guardrails.md): one failing and one passing example per rule, and the status mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spendsense_dagster.lib.recommend.guardrails import (
    MAX_CONTENT_CHARS,
    MAX_TITLE_CHARS,
    PII,
    check_item,
    fact_matches,
    numeric_facts,
    status_for,
)
from spendsense_dagster.lib.recommend.models import DISCLAIMER

FACTS = {"max_utilization": 0.6843, "estimated_monthly_interest": 51.15, "emergency_fund_months": None}
USER_PII = PII(full_name="Ada Lovelace", email="Ada.Lovelace@Example.com", account_ids=("cc-9921-7788",))


def item(**overrides: Any) -> dict[str, Any]:
    """An item that passes every check."""
    base = {
        "title": "How card utilization shapes your credit",
        "content": (
            "Your highest card is at 68% of its limit. You can consider paying it down first, "
            "or explore paying twice a month so a lower balance is reported.\n\n"
            "- Pick one card to focus on\n- Set up autopay for at least the minimum"
        ),
        "rationale": "Because your highest card utilization is 68% and interest costs about $51 a month.",
        "cited_facts": [
            {"name": "max_utilization", "value": 0.6843},
            {"name": "estimated_monthly_interest", "value": 51.15},
        ],
        "metadata": {"priority": "high", "tags": ["credit"]},
        "disclaimer": DISCLAIMER,
    }
    return {**base, **overrides}


def check(candidate: dict[str, Any], *, consent_now: bool = True, offer_eligible: bool | None = None, **kw):
    return check_item(
        candidate, facts=FACTS, pii=USER_PII, consent_now=consent_now, offer_eligible=offer_eligible, **kw
    )


def checks_of(result, severity: str) -> list[str]:
    return [finding["check"] for finding in result.findings if finding["severity"] == severity]


def test_a_clean_item_passes_with_no_findings():
    result = check(item())

    assert result.status == "pass"
    assert result.findings == []
    assert result.content == item()["content"]
    assert result.disclaimer == DISCLAIMER


def test_status_mapping():
    assert status_for([]) == "pass"
    assert status_for([{"severity": "info"}]) == "pass"
    assert status_for([{"severity": "info"}, {"severity": "notable"}]) == "warn"
    assert status_for([{"severity": "notable"}, {"severity": "critical"}]) == "block"


# consent


def test_revoked_consent_blocks():
    result = check(item(), consent_now=False)

    assert result.status == "block"
    assert checks_of(result, "critical") == ["consent"]


# disclaimer


def test_missing_disclaimer_is_appended_with_an_info_finding():
    result = check(item(disclaimer=None))

    assert result.status == "pass"
    assert [(f["check"], f["severity"]) for f in result.findings] == [("disclaimer", "info")]
    assert result.content.endswith(f"_{DISCLAIMER}_")
    assert result.disclaimer == DISCLAIMER


def test_disclaimer_in_content_or_after_a_disclosure_counts_as_present():
    in_content = check(item(disclaimer=None, content=item()["content"] + "\n\n" + DISCLAIMER.upper()))
    offer = check(item(disclaimer="Terms apply."), offer_eligible=True)

    assert in_content.findings == [] and in_content.disclaimer == DISCLAIMER
    assert [f["check"] for f in offer.findings] == ["disclaimer"]
    assert offer.disclaimer == f"Terms apply. {DISCLAIMER}"


# tone


@pytest.mark.parametrize(
    "phrase",
    ["You’re overspending on dining", "you're OVERSPENDING", "a bad habit", "irresponsible",
     "wasteful", "You need to cut back", "you should stop ordering", "a poor financial decision", "reckless"],
)  # fmt: skip
def test_shaming_language_is_critical(phrase):
    result = check(item(content=f"{phrase}. You can consider a budget."))

    assert result.status == "block"
    assert checks_of(result, "critical") == ["tone"]


def test_shaming_words_inside_other_words_are_not_flagged():
    result = check(
        item(content="Being responsible with cards is a skill you can build, and non-wasteful ...")
    )

    assert checks_of(result, "critical") == []


def test_no_empowering_language_is_notable():
    flat = item(
        title="Card utilization",
        content="Utilization is the balance divided by the limit.",
        rationale="Because your highest card utilization is 68%.",
    )

    result = check(flat)

    assert result.status == "warn"
    assert checks_of(result, "notable") == ["tone"]
    assert check(flat | {"content": "Many people pay twice a month."}).status == "pass"


# regulated advice


@pytest.mark.parametrize(
    "text",
    ["Put spare cash in $AAPL.", "Shares of NASDAQ: TSLA rose.", "An index like VOO tracks the market.",
     "Tesla stock is popular.", "Bitcoin is one option.", "This fund has guaranteed returns.",
     "It offers a guaranteed return.", "You should invest in index funds.", "Buy shares of a tech company.",
     "You should claim the deduction.", "File your taxes as head of household.",
     "Legally you must report it."],
)  # fmt: skip
def test_regulated_advice_is_critical(text):
    result = check(item(content=f"You can explore this. {text}"))

    assert result.status == "block"
    assert checks_of(result, "critical") == ["regulated_advice"]


def test_ordinary_capitals_and_finance_acronyms_are_not_tickers():
    text = (
        "You can explore an APR, an APY, FDIC insurance, an IRA or HSA, a 401(k). Your Amazon and Netflix "
        "charges are recurring. Meta-analysis aside, Spy and All are words too. Consider it."
    )

    result = check(item(content=text))

    assert checks_of(result, "critical") == []


# PII


@pytest.mark.parametrize(
    ("field", "text"),
    [("title", "Ada  Lovelace, here is your plan"), ("content", "Write to ada.lovelace@example.com"),
     ("rationale", "Because card CC-9921-7788 is at 68%."), ("content", "Hi ADA LOVELACE")],
)  # fmt: skip
def test_pii_in_any_text_field_is_critical(field, text):
    result = check(item(**{field: text + " You can consider it."}))

    assert result.status == "block"
    assert "pii" in checks_of(result, "critical")
    assert all("lovelace" not in f["message"].lower() and "9921" not in f["message"] for f in result.findings)


def test_masked_account_and_first_name_alone_are_not_pii():
    result = check(item(content="You can consider paying the card ending 7788 first, Ada."))
    blank_pii = check_item(
        item(), facts=FACTS, pii=PII(full_name=" ", email=" "), consent_now=True, offer_eligible=None
    )

    assert checks_of(result, "critical") == []
    assert blank_pii.status == "pass"


def test_a_date_is_not_an_account_number_but_the_account_digits_still_are():
    """Read as one run of digits, "2025-07-03" holds "0250", a stretch of account acc_025008's digits."""
    owner = PII(full_name="Ada Lovelace", email="ada@example.com", account_ids=("acc_025008",))
    dated = item(content=item()["content"] + " Your next expected charge is around 2025-07-03.")
    leaked = item(content=item()["content"] + " Your account 0250 08 is charged next.")

    assert check_item(dated, facts=FACTS, pii=owner, consent_now=True, offer_eligible=None).status == "pass"
    leaked_result = check_item(leaked, facts=FACTS, pii=owner, consent_now=True, offer_eligible=None)
    assert "pii" in checks_of(leaked_result, "critical")


# grounding


def test_rationale_without_a_number_is_notable():
    result = check(item(rationale="Because your cards carry a balance."))

    assert result.status == "warn"
    assert checks_of(result, "notable") == ["grounding"]


def test_no_cited_facts_is_notable():
    result = check(item(cited_facts=[]))

    assert result.status == "warn"
    assert checks_of(result, "notable") == ["grounding"]


@pytest.mark.parametrize(
    "fact",
    [{"name": "max_utilization", "value": 0.75}, {"name": "max_utilization", "value": 75},
     {"name": "credit_score", "value": 700}, {"name": "emergency_fund_months", "value": 3}],
)  # fmt: skip
def test_invented_numbers_are_critical(fact):
    result = check(item(cited_facts=[fact]))

    assert result.status == "block"
    assert checks_of(result, "critical") == ["grounding"]
    assert "invented number" in result.findings[0]["message"]


@pytest.mark.parametrize(
    ("claimed", "actual", "unit", "ok"),
    [(0.6843, 0.6843, "fraction", True), (0.68, 0.6843, "fraction", True), (68, 0.6843, "fraction", True),
     (68.4, 0.6843, "fraction", True), (0.6, 0.6843, "fraction", False), (60, 0.6843, "fraction", False),
     (51, 51.15, "money", True), (1240, 1243.5, "money", True), (1200, 1243.5, "money", False),
     (0, 0.004, "fraction", True),
     # the percent form is for fractions only: $29,117 is not $291.17, 250 months are not 2.5
     (29117, 291.17, "money", False), (250, 2.5, "months", False), (291.17, 291.17, "money", True)],
)  # fmt: skip
def test_fact_matching_within_rounding_in_the_features_unit(claimed, actual, unit, ok):
    assert fact_matches(claimed, actual, unit) is ok


def test_cited_facts_stored_as_json_text_are_checked_too():
    stored = item(cited_facts=json.dumps([{"name": "max_utilization", "value": 0.9}]))

    assert check(stored).status == "block"
    assert check(item(cited_facts=json.dumps(item()["cited_facts"]))).status == "pass"


def test_numeric_facts_keep_numbers_and_nulls_only():
    features = {"max_utilization": 0.5, "recurring_merchants": 3, "any_overdue": True,
                "pay_frequency": "biweekly", "savings_growth_rate": None}  # fmt: skip

    assert numeric_facts(features) == {"max_utilization": 0.5, "recurring_merchants": 3.0,
                                       "savings_growth_rate": None}  # fmt: skip


# partner-offer eligibility


def test_ineligible_offer_blocks_and_says_why():
    result = check(item(), offer_eligible=False, offer_ineligible_reasons=["min_income: 1,800 < 2,500"])

    assert result.status == "block"
    assert checks_of(result, "critical") == ["offer_eligibility"]
    assert "min_income" in result.findings[0]["message"]
    assert check(item(), offer_eligible=True).status == "pass"


# malformed items


@pytest.mark.parametrize(
    "overrides",
    [{"title": ""}, {"title": None}, {"content": "   "}, {"rationale": None},
     {"title": "x" * (MAX_TITLE_CHARS + 1)},
     {"content": "You can. " + "x" * MAX_CONTENT_CHARS}, {"cited_facts": [{"name": "max_utilization"}]},
     {"cited_facts": {"max_utilization": 0.6843}}, {"cited_facts": "[{not json"}],
)  # fmt: skip
def test_malformed_items_block(overrides):
    result = check(item(**overrides))

    assert result.status == "block"
    assert "format" in checks_of(result, "critical")


def test_limits_are_inclusive():
    result = check(item(title="x" * MAX_TITLE_CHARS, content="You can. " + "x" * (MAX_CONTENT_CHARS - 9)))

    assert "format" not in checks_of(result, "critical")
