"""Guardrails (docs/guardrails.md): pure checks every item passes through before an operator sees it.

`check_item` returns a status and findings. Severity decides the status:

- `critical` -> `block`: the item cannot be approved unless an operator overrides it with a reason
- `notable`  -> `warn`: approvable, but the operator should look
- `info`     -> no effect (e.g. the disclaimer was missing and has been appended)

Nothing here reads the warehouse or the network: the caller passes the user's facts, PII and
current consent, and (for partner offers) the result of the eligibility re-check.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from spendsense_dagster.lib.recommend.models import DISCLAIMER

MAX_TITLE_CHARS = 120
MAX_CONTENT_CHARS = 4000

# Shaming or judging language: critical. Matched case-insensitively as whole words, after curly
# apostrophes are straightened.
SHAMING_PHRASES = (
    "you're overspending",
    "you are overspending",
    "overspender",
    "bad habit",
    "bad habits",
    "irresponsible",
    "wasteful",
    "wasting your money",
    "you need to",
    "you should stop",
    "you must stop",
    "poor financial decision",
    "poor financial decisions",
    "poor decision",
    "reckless",
    "careless",
    "foolish",
    "bad with money",
    "terrible with money",
    "out of control",
    "you can't afford",
    "you cannot afford",
)

# Empowering language: its absence is notable (docs/guardrails.md lists the first six).
EMPOWERING_PHRASES = (
    "you can",
    "let's",
    "consider",
    "explore",
    "many people",
    "opportunity",
    "you could",
    "let us",
    "considering",
    "exploring",
    "opportunities",
)

# Directives that make education into regulated investment, tax or legal advice: critical.
REGULATED_ADVICE_PHRASES = (
    "guaranteed return",
    "guaranteed returns",
    "guaranteed profit",
    "guaranteed profits",
    "risk-free return",
    "risk-free returns",
    "you should invest in",
    "you should buy",
    "you should sell",
    "buy shares of",
    "buy stock in",
    "sell your shares",
    "you should claim",
    "file your taxes as",
    "claim it as a deduction",
    "legally you must",
    "you are legally required",
    "you should sue",
)

# Well-known tickers, matched only as whole upper-case words so that ordinary capitalised words and
# finance acronyms (APR, APY, FDIC, ETF, IRA, HSA) never trip the check.
WELL_KNOWN_TICKERS = (
    "AAPL", "TSLA", "MSFT", "AMZN", "GOOGL", "GOOG", "NVDA", "META", "NFLX", "AMD", "INTC", "BRK.A",
    "BRK.B", "JPM", "GME", "AMC", "PLTR", "COIN", "SPY", "QQQ", "VOO", "VTI", "VTSAX", "VFIAX", "ARKK",
    "BTC", "ETH", "DOGE",
)  # fmt: skip

# Named securities and coins, case-insensitive: "Tesla stock" is advice territory, "Amazon" alone is
# a merchant.
SECURITY_NAME_PATTERNS = (
    r"(?:apple|tesla|amazon|nvidia|microsoft|google|alphabet|meta|netflix|gamestop)\s+(?:stock|shares)",
    r"bitcoin",
    r"ethereum",
    r"dogecoin",
)

EXCHANGES = ("NYSE", "NASDAQ", "AMEX", "NYSEARCA", "LSE", "TSX")

Severity = Literal["critical", "notable", "info"]
Status = Literal["pass", "warn", "block"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_DIGIT = re.compile(r"\d")
_TICKER_PATTERNS = (
    re.compile(r"\$[A-Z]{1,5}(?:\.[A-Z])?\b"),
    re.compile(r"\b(?i:" + "|".join(EXCHANGES) + r")\s*:\s*[A-Z]{1,5}(?:\.[A-Z])?\b"),
    re.compile(r"(?<![\w$.])(?:" + "|".join(re.escape(t) for t in WELL_KNOWN_TICKERS) + r")(?![\w.])"),
)
_SECURITY_NAMES = re.compile(r"\b(?:" + "|".join(SECURITY_NAME_PATTERNS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class PII:
    """What must never appear in an item: the user's name, email and full account ids."""

    full_name: str | None = None
    email: str | None = None
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardrailResult:
    status: Status
    findings: list[dict[str, str]]  # {check, severity, message}
    content: str  # the item's content, with the disclaimer appended when the item had none
    disclaimer: str  # the disclaimer to store with the item: always contains DISCLAIMER


def status_for(findings: Sequence[Mapping[str, str]]) -> Status:
    """critical -> block, notable -> warn, otherwise pass (info findings never change the status)."""
    severities = {finding["severity"] for finding in findings}
    if "critical" in severities:
        return "block"
    if "notable" in severities:
        return "warn"
    return "pass"


def numeric_facts(features: Mapping[str, Any]) -> dict[str, float | None]:
    """The user's citable facts: the window's numeric features (booleans and text are not citable)."""
    return {
        name: (None if value is None else float(value))
        for name, value in features.items()
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    }


def check_item(
    item: Mapping[str, Any],
    *,
    facts: Mapping[str, float | None],
    pii: PII,
    consent_now: bool,
    offer_eligible: bool | None,
    offer_ineligible_reasons: Sequence[str] = (),
) -> GuardrailResult:
    """Run every check of docs/guardrails.md on one item (a GeneratedItem / OfferItem dump or a recs row).

    `facts` are the user's citable feature values (see `numeric_facts`), `offer_eligible` is None for
    education items and the eligibility re-check's answer for partner offers.
    """
    title = _text(item.get("title"))
    content = _text(item.get("content"))
    rationale = _text(item.get("rationale"))
    body = _normalise(f"{title}\n{content}\n{rationale}")

    findings = [
        *_format_findings(item),
        *_consent_findings(consent_now),
        *_tone_findings(body),
        *_regulated_advice_findings(body),
        *_pii_findings(body, pii),
        *_grounding_findings(rationale, item.get("cited_facts"), facts),
        *_offer_findings(offer_eligible, offer_ineligible_reasons),
    ]
    disclaimer_findings, final_content, final_disclaimer = _with_disclaimer(
        content, _text(item.get("disclaimer"))
    )
    findings.extend(disclaimer_findings)
    return GuardrailResult(
        status=status_for(findings), findings=findings, content=final_content, disclaimer=final_disclaimer
    )


def _finding(check: str, severity: Severity, message: str) -> dict[str, str]:
    return {"check": check, "severity": severity, "message": message}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _normalise(text: str) -> str:
    """Straight apostrophes and single spaces, so phrase lists need one spelling each."""
    return " ".join(text.translate(_APOSTROPHES).split())


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """Whole words only, a hyphen counting as part of a word: "non-wasteful" is not "wasteful"."""
    alternatives = "|".join(re.escape(phrase) for phrase in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


_SHAMING = _phrase_pattern(SHAMING_PHRASES)
_EMPOWERING = _phrase_pattern(EMPOWERING_PHRASES)
_REGULATED = _phrase_pattern(REGULATED_ADVICE_PHRASES)


def _found(pattern: re.Pattern[str], text: str) -> list[str]:
    return sorted({match.group(0).lower() for match in pattern.finditer(text)})


def _quoted(matches: Sequence[str]) -> str:
    return ", ".join(repr(match) for match in matches)


def _format_findings(item: Mapping[str, Any]) -> list[dict[str, str]]:
    findings = [
        _finding("format", "critical", f"{key} is missing or empty")
        for key in ("title", "content", "rationale")
        if not _text(item.get(key)).strip()
    ]
    if len(_text(item.get("title"))) > MAX_TITLE_CHARS:
        findings.append(_finding("format", "critical", f"title is longer than {MAX_TITLE_CHARS} characters"))
    if len(_text(item.get("content"))) > MAX_CONTENT_CHARS:
        findings.append(
            _finding("format", "critical", f"content is longer than {MAX_CONTENT_CHARS} characters")
        )
    return findings


def _consent_findings(consent_now: bool) -> list[dict[str, str]]:
    if consent_now:
        return []
    return [_finding("consent", "critical", "the user no longer consents: the item must not be shown")]


def _tone_findings(body: str) -> list[dict[str, str]]:
    findings = []
    if shaming := _found(_SHAMING, body):
        findings.append(_finding("tone", "critical", f"shaming or judging language: {_quoted(shaming)}"))
    if body.strip() and not _EMPOWERING.search(body):
        findings.append(
            _finding("tone", "notable", "no empowering language (e.g. 'you can', 'consider', 'explore')")
        )
    return findings


def _regulated_advice_findings(body: str) -> list[dict[str, str]]:
    securities = sorted(
        {match.group(0) for pattern in _TICKER_PATTERNS for match in pattern.finditer(body)}
        | {match.group(0).lower() for match in _SECURITY_NAMES.finditer(body)}
    )
    directives = _found(_REGULATED, body)
    findings = []
    if securities:
        findings.append(
            _finding("regulated_advice", "critical", f"names specific securities: {_quoted(securities)}")
        )
    if directives:
        findings.append(
            _finding(
                "regulated_advice", "critical", f"investment, tax or legal directive: {_quoted(directives)}"
            )
        )
    return findings


def _pii_findings(body: str, pii: PII) -> list[dict[str, str]]:
    """Messages never repeat the leaked value: findings are stored and exported."""
    lowered = body.lower()
    findings = []
    name = _normalise(pii.full_name or "")
    if name and _phrase_pattern([name]).search(body):
        findings.append(_finding("pii", "critical", "the user's full name appears in the text"))
    email = (pii.email or "").strip().lower()
    if email and email in lowered:
        findings.append(_finding("pii", "critical", "the user's email address appears in the text"))
    # The last 4 characters are the permitted mask; only longer ids can leak.
    leaked = [acct for acct in pii.account_ids if len(acct) > 4 and acct.lower() in lowered]
    if leaked:
        findings.append(
            _finding("pii", "critical", f"{len(leaked)} full account number(s) appear in the text")
        )
    return findings


def _grounding_findings(
    rationale: str, cited_facts: Any, facts: Mapping[str, float | None]
) -> list[dict[str, str]]:
    findings = []
    if rationale.strip() and not _DIGIT.search(rationale):
        findings.append(_finding("grounding", "notable", "the rationale cites none of the user's numbers"))
    if isinstance(cited_facts, str):  # a recs row stores them as JSON text
        try:
            cited_facts = json.loads(cited_facts)
        except json.JSONDecodeError:
            cited_facts = None
    if not isinstance(cited_facts, list):
        return [*findings, _finding("format", "critical", "cited_facts is not a list of {name, value}")]
    if not cited_facts:
        findings.append(_finding("grounding", "notable", "the item cites no facts about the user"))
    for fact in cited_facts:
        findings.extend(_cited_fact_findings(fact, facts))
    return findings


def _cited_fact_findings(fact: Any, facts: Mapping[str, float | None]) -> list[dict[str, str]]:
    name = fact.get("name") if isinstance(fact, Mapping) else None
    value = fact.get("value") if isinstance(fact, Mapping) else None
    if not isinstance(name, str) or not _is_number(value):
        return [_finding("format", "critical", f"malformed cited fact: {fact!r}")]
    if name not in facts:
        return [
            _finding("grounding", "critical", f"invented number: {name!r} is not one of the user's features")
        ]
    actual = facts[name]
    if actual is None:
        return [_finding("grounding", "critical", f"invented number: the user has no value for {name!r}")]
    if not fact_matches(float(value), actual):
        return [
            _finding(
                "grounding",
                "critical",
                f"invented number: {name} cited as {value}, the user's value is {actual:g}",
            )
        ]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fact_matches(claimed: float, actual: float) -> bool:
    """Equal within rounding: |a - b| <= max(0.01, 0.5 % of |b|), also when a is b in percent (42, 0.42)."""
    tolerance = max(0.01, 0.005 * abs(actual))
    return any(abs(candidate - actual) <= tolerance for candidate in (claimed, claimed / 100))


def _offer_findings(offer_eligible: bool | None, reasons: Sequence[str]) -> list[dict[str, str]]:
    if offer_eligible is None or offer_eligible:
        return []
    detail = f": {'; '.join(reasons)}" if reasons else ""
    return [_finding("offer_eligibility", "critical", f"the user is not eligible for this offer{detail}")]


def _has_disclaimer(text: str) -> bool:
    return _normalise(DISCLAIMER).lower() in _normalise(text).lower()


def _with_disclaimer(content: str, disclaimer: str) -> tuple[list[dict[str, str]], str, str]:
    """The mandatory disclaimer: always in the stored disclaimer; appended to content if the item had none."""
    final_disclaimer = disclaimer if _has_disclaimer(disclaimer) else f"{disclaimer} {DISCLAIMER}".strip()
    if _has_disclaimer(content) or _has_disclaimer(disclaimer):
        return [], content, final_disclaimer
    finding = _finding("disclaimer", "info", "the mandatory disclaimer was missing and has been appended")
    return [finding], f"{content.rstrip()}\n\n_{DISCLAIMER}_", final_disclaimer
