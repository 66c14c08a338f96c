"""The guardrails' building blocks as pure functions (docs/guardrails.md): normalisation, every advice
rule's documented examples, PII shapes, number grounding, markup, the feed sanitiser, CSV cells."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from spendsense_dagster.lib.core.csv_cells import escape_cell, escape_cell_sql, unescape_cell
from spendsense_dagster.lib.recommend.guardrails import PII, check_item, grounding_values
from spendsense_dagster.lib.recommend.guardrails.advice import advice_matches, advice_rules, securities
from spendsense_dagster.lib.recommend.guardrails.grounding import (
    GENERIC_NUMBER_PHRASES,
    catalog_grounding,
    quantities,
)
from spendsense_dagster.lib.recommend.guardrails.markup import inert_text, markup_problems, plain_text
from spendsense_dagster.lib.recommend.guardrails.pii import luhn_valid, pii_messages
from spendsense_dagster.lib.recommend.guardrails.text import TextForms, normalise
from spendsense_dagster.lib.recommend.guardrails.tone import SHAMING_PHRASES, shaming_phrases

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "guardrails.md").read_text()
USER = PII(full_name="Ada King Lovelace", email="ada.lovelace@example.com", account_ids=("acct-4000123456",))
FACTS = {"max_utilization": 0.6843, "estimated_monthly_interest": 291.17, "avg_monthly_spend": 1243.5}


def _check(content: str, **kw):
    item = {
        "title": "A short plan",
        "content": f"You can explore this. {content}",
        "rationale": "Because your highest card is at 68% of its limit.",
        "cited_facts": [{"name": "max_utilization", "value": 0.6843}],
        "metadata": {"priority": "low", "tags": []},
    }
    return check_item(item, facts=FACTS, pii=USER, consent_now=True, offer_eligible=None, **kw)


def _critical(result) -> set[str]:
    return {finding["check"] for finding in result.findings if finding["severity"] == "critical"}


# normalisation


@pytest.mark.parametrize(
    "disguised",
    ["wa\u200bsteful", "irre\u00adsponsible", "w\u0430steful", "ｗａｓｔｅｆｕｌ", "w a s t e f u l",
     "w.a.s.t.e.f.u.l", "WASTEFUL", "r\u0435\u0441\u043aless", "f\u03bf\u03bflish", "ca\u0301reless",
     "w4st3ful", "wa$teful", "irre\u2060sponsible", "waste\u200dful",
     "out\u00a0of\u00a0control", "you\u2019re overspending", "irresponsibly",
     "\u1d21\u1d00\ua731\u1d1b\u1d07\ua730\u1d1c\u029f", "wastefuI", "W4STEFUL",
     "\U0001d430\U0001d41a\U0001d42c\U0001d42d\U0001d41e\U0001d41f\U0001d42e\U0001d425"],
)  # fmt: skip
def test_disguised_shaming_words_are_found(disguised):
    assert shaming_phrases(TextForms(f"That was {disguised}.")) != []
    assert "tone" in _critical(_check(f"That was {disguised}."))


@pytest.mark.parametrize(
    "fine",
    ["Being responsible with cards is a skill", "a non-wasteful routine", "you'll care less about it",
     "it is within your control", "a waste bin", "good habits"],
)  # fmt: skip
def test_ordinary_words_are_not_shaming(fine):
    assert shaming_phrases(TextForms(fine)) == []


def test_normalise_is_idempotent_and_keeps_numbers():
    text = "Ｔhe ５０% Ｒate\u200b costs $１,２００ (ｗ a s t e)"
    once = normalise(text)
    assert normalise(once) == once
    assert "50%" in once and "$1,200" in once
    assert normalise("ΙRRESPONSIBLE", casefold=False) == "IRRESPONSIBLE"  # Greek capital iota, case kept


def test_every_shaming_phrase_matches_itself():
    for phrase in SHAMING_PHRASES:
        assert shaming_phrases(TextForms(phrase)), phrase


# regulated advice: every rule's own examples (the docs list them too)


RULE_EXAMPLES = [(rule.label, example, True) for rule in advice_rules() for example in rule.must_match] + [
    (rule.label, example, False) for rule in advice_rules() for example in rule.must_not_match
]


@pytest.mark.parametrize(("label", "example", "should_match"), RULE_EXAMPLES)
def test_advice_rule_examples(label, example, should_match):
    rule = next(rule for rule in advice_rules() if rule.label == label)
    if should_match:
        assert rule.find(TextForms(example)), (label, example)
    else:
        assert advice_matches(TextForms(example)) == {}, (label, example)


def test_docs_list_every_advice_rule_with_its_examples():
    for rule in advice_rules():
        assert f"`{rule.label}`" in DOCS, rule.label
        for example in (*rule.must_match, *rule.must_not_match):
            assert example in DOCS, (rule.label, example)


@pytest.mark.parametrize(
    "text",
    ["$ MSFT is cheap", "load up on AMD now", "Consider NYSE: KO", "Invest in Microsoft",
     "go long on Netflix.",
     "Meta shares look good", "put all your savings into bitcoin", "I'd recommend buying Costco stock",
     "amzn", "Ｎ Ｖ Ｄ Ａ", "ethereum", "buy PLTR", "a stake in Coca-Cola.", "shares of JPMorgan Chase"],
)  # fmt: skip
def test_other_tickers_and_companies_are_advice(text):
    assert "regulated_advice" in _critical(_check(text))


@pytest.mark.parametrize(
    "text",
    ["Your Target and Walmart runs", "Uber Eats and DoorDash orders", "An Apple Music plan",
     "Compare your Costco membership", "an emergency fund", "index funds spread risk", "your APR",
     "FDIC insurance", "a Roth IRA or 401(k)", "the stock market goes up and down over time",
     "many people hold on to old subscriptions", "Amazon Prime renews in June",
     "a CD or a money market account"],
)  # fmt: skip
def test_merchants_and_finance_words_are_not_advice(text):
    assert "regulated_advice" not in _critical(_check(text))


def test_the_securities_list_is_a_few_hundred_listings_with_a_source():
    listed = securities()
    symbols = {security.symbol for security in listed}
    assert len(listed) >= 300
    assert {"AAPL", "TSLA", "NVDA", "BRK.B", "VOO", "BTC", "RIVN"} <= symbols
    assert {"ALL", "T", "COST", "UBER"} <= {s.symbol for s in listed if s.symbol_needs_context}


# PII


@pytest.mark.parametrize(
    "text",
    ["Ada Lovelace", "Lovelace, Ada", "ADA KING LOVELACE", "Ada K. Lovelace", "Lovelace Ada King",
     "A d a L o v e l a c e", "Ada Love\u200blace", "Dear Ada,", "Ms. Lovelace", "ada.lovelace@example.com",
     "ada dot lovelace at example dot com", "ada [dot] lovelace [at] example [dot] com",
     "ada.lovelace @ example.com", "call (555) 867-5309",
     "+44 20 7946 0958", "SSN 123-45-6789", "4111 1111 1111 1111", "4111-1111-1111-1111",
     "account 4000123456", "account 4000 1234 56", "acct-4000123456", "digits 400012"],
)  # fmt: skip
def test_pii_shapes_are_critical_and_never_repeated(text):
    messages = pii_messages(normalise(text), USER)
    assert messages, text
    result = _check(text)
    assert "pii" in _critical(result)
    assert not any(part in str(result.findings).lower() for part in ("lovelace", "4000", "867", "6789"))


@pytest.mark.parametrize(
    "text",
    ["the card ending 3456", "Ada", "Lovelace", "in 2025", "support@partner.example", "$1,234 a month",
     "19.99%-28.99%", "12 months", "SSN 000-99-8888", "4111 1111 1111 1112", "on 2025-06-30",
     "a look at example data"],
)  # fmt: skip
def test_near_pii_is_not_flagged(text):
    assert pii_messages(normalise(text), USER) == [], text


def test_luhn():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


# numbers


@pytest.mark.parametrize(
    ("text", "ok"),
    [("$291", True), ("$291.17", True), ("$29,117", False), ("$2.91", False), ("68%", True),
     ("68.4%", True), ("97%", False), ("0.68%", False), ("$1,244", True), ("$1.2k", True), ("$3.1k", False),
     ("ninety-seven percent", False), ("sixty-eight percent", True), ("USD 291", True), ("291 dollars", True),
     ("3.5 months", False), ("under 30%", True), ("$25 or $50 above the minimum", True),
     ("1% of your pay", True), ("$50 or $100", True), ("about $3,000", False)],
)  # fmt: skip
def test_numbers_in_text_must_be_the_users(text, ok):
    result = _check(f"The number is {text}.")
    assert ("grounding" not in _critical(result)) is ok, (text, result.findings)


def test_every_generic_phrase_example_passes_and_only_inside_its_phrase():
    for _, example in GENERIC_NUMBER_PHRASES:
        assert quantities(normalise(example)) == [], example
    assert quantities(normalise("Your utilization is 30%.")) != []


def test_catalog_numbers_ground_only_their_offer():
    product = {"product_name": "Card", "typical_apy_or_fee": "19.99% APR; $5 fee", "benefits": ["3% back"]}
    offer_values = grounding_values(FACTS).merged(catalog_grounding(product))
    assert "grounding" not in _critical(_check("It charges 19.99% APR and a $5 fee.", grounding=offer_values))
    assert "grounding" in _critical(_check("It charges 19.99% APR and a $5 fee."))


def test_cited_facts_compare_in_the_features_unit():
    item = {
        "title": "Interest",
        "content": "You can explore a payoff plan.",
        "rationale": "Because interest costs you each month (1 card).",
        "cited_facts": [{"name": "estimated_monthly_interest", "value": 29117}],
        "metadata": {"priority": "low", "tags": []},
    }
    result = check_item(item, facts=FACTS, pii=USER, consent_now=True, offer_eligible=None)
    assert "grounding" in _critical(result)


# markup


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>", "<b>bold</b>",
     "<!-- x -->", "&lt;script&gt;", "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))",
     "[x](java\tscript:alert(1))", "[x](java&#x09;script:alert(1))", "[x](javascript&colon;alert(1))",
     "[x](http://evil.example)", "![i](http://evil.example/a.png)", "[x](//evil.example)", "[x](/relative)",
     "[x](data:text/html;base64,AAAA)", "[r]: http://evil.example", "<http://evil.example>",
     "visit http://evil.example", "visit www.evil.example", "vbscript:msgbox", '" onmouseover="alert(1)',
     "%3Cscript%3Ealert(1)%3C/script%3E", "&#60;iframe src=x&#62;", "<IMG SRC=JaVaScRiPt:alert(1)>",
     "[x](<javascript:alert(1)>)", "[x]( javascript:alert(1))", "<javascript:alert(1)>", "<style>x</style>"],
)  # fmt: skip
def test_markup_is_critical(text):
    assert markup_problems(text), text
    assert "markup" in _critical(_check(text))


@pytest.mark.parametrize(
    "text",
    ["[Partner](https://partner.example/offer)", "<https://partner.example>", "2 < 3 and 5 > 4",
     "Your data: spending by category", "Note: review it", "see https://partner.example/x", "a <3 heart"],
)  # fmt: skip
def test_safe_text_is_not_markup(text):
    assert markup_problems(text) == [], text


@pytest.mark.parametrize(
    ("merchant", "plain"),
    [("<script>alert(1)</script>", "alert(1)"), ('"><img src=x onerror=alert(1)>', '"'),
     ("[win](javascript:alert(1))", "win(javascriptalert(1))"), ("&lt;b&gt;Hulu&lt;/b&gt;", "Hulu"),
     ("NETFLIX\u200b.COM\x00\n", "NETFLIX.COM"), ("TRADER JOE'S #552", "TRADER JOE'S #552"),
     ("<scr<b>ipt>x", "x")],
)  # fmt: skip
def test_feed_text_is_made_plain(merchant, plain):
    cleaned = plain_text(merchant)
    assert cleaned == plain
    assert markup_problems(cleaned) == [] and "<" not in cleaned


def test_inert_text_cannot_render():
    stored = inert_text("<img src=x onerror=alert(1)> [x](javascript:alert(1)) http://e.example")
    assert "<" not in stored and "](" not in stored and "javascript:" not in stored and "http:" not in stored


# CSV cells (OWASP CSV injection)


VALUES = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y", "plain", "'quoted",
          "", "a=b", "it's"]  # fmt: skip


@pytest.mark.parametrize("value", VALUES)
def test_csv_cells_round_trip_and_never_start_a_formula(value):
    written = escape_cell(value)
    assert not (written[:1] in "=+-@\t\r" and written)
    assert unescape_cell(written) == value


def test_the_sql_escape_agrees_with_python():
    con = duckdb.connect()
    rows = con.execute(
        f"select v, {escape_cell_sql('v')} from unnest(?::varchar[]) as t(v)", [VALUES]
    ).fetchall()
    assert {value: written for value, written in rows} == {value: escape_cell(value) for value in VALUES}
    assert re.match(r"^'=", escape_cell("=1"))
