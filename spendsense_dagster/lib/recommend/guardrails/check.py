"""Every check of docs/guardrails.md on one item (`check_item`) or on an operator's override
(`check_override`).

Severity decides the status:

- `critical` -> `block`: the item cannot be approved unless an operator overrides it with a reason
- `notable`  -> `warn`: approvable, but the operator should look
- `info`     -> no effect (e.g. the disclaimer was missing and has been appended)

Nothing here reads the warehouse or the network: the caller passes the user's facts, context values,
PII and current consent, and (for partner offers) the result of the eligibility re-check.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from spendsense_dagster.lib.recommend.formats import unit_of
from spendsense_dagster.lib.recommend.guardrails.advice import advice_matches
from spendsense_dagster.lib.recommend.guardrails.grounding import (
    GroundingValues,
    fact_matches,
    grounding_values,
    ungrounded,
)
from spendsense_dagster.lib.recommend.guardrails.markup import markup_problems
from spendsense_dagster.lib.recommend.guardrails.pii import PII, pii_messages
from spendsense_dagster.lib.recommend.guardrails.text import TextForms, normalise
from spendsense_dagster.lib.recommend.guardrails.tone import has_empowering_phrase, shaming_phrases
from spendsense_dagster.lib.recommend.models import DISCLAIMER

MAX_TITLE_CHARS = 120
MAX_CONTENT_CHARS = 4000
TEXT_FIELDS = ("title", "content", "rationale")

Severity = Literal["critical", "notable", "info"]
Status = Literal["pass", "warn", "block"]

_DIGIT = re.compile(r"\d")
_ADVICE_LABELS = {
    "security": "names specific securities",
    "return_promise": "promises returns",
    "investment_directive": "investment directive",
    "tax_directive": "tax directive",
    "legal_directive": "legal directive",
}


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
    grounding: GroundingValues | None = None,
) -> GuardrailResult:
    """Run every check on one item (a GeneratedItem / OfferItem dump or a recs row).

    `facts` are the user's citable feature values (see `numeric_facts`); `grounding` the values the
    text may quote (`context_grounding`; default: the facts alone); `offer_eligible` is None for
    education items and the eligibility re-check's answer for partner offers.
    """
    texts = {field: _text(item.get(field)) for field in TEXT_FIELDS}
    findings = [
        *_format_findings(texts),
        *_consent_findings(consent_now),
        *text_findings(texts, pii=pii, grounding=grounding or grounding_values(facts)),
        *_cited_fact_findings(item.get("cited_facts"), facts),
        *_offer_findings(offer_eligible, offer_ineligible_reasons),
    ]
    disclaimer_findings, final_content, final_disclaimer = _with_disclaimer(
        texts["content"], _text(item.get("disclaimer"))
    )
    findings.extend(disclaimer_findings)
    return GuardrailResult(
        status=status_for(findings), findings=findings, content=final_content, disclaimer=final_disclaimer
    )


def check_override(
    title: str, content: str, rationale: str, *, pii: PII, grounding: GroundingValues
) -> list[dict[str, str]]:
    """The findings of the text an override would publish: the new title and content with the item's
    rationale. Consent and eligibility are the publish step's business; no disclaimer check (the item's
    own is stored beside it)."""
    texts = {"title": title, "content": content, "rationale": rationale}
    return [*_format_findings(texts), *text_findings(texts, pii=pii, grounding=grounding)]


def text_findings(texts: Mapping[str, str], *, pii: PII, grounding: GroundingValues) -> list[dict[str, str]]:
    """Tone, regulated advice, PII, markup and stated numbers of the title, content and rationale."""
    fields = {name: TextForms(text) for name, text in texts.items()}
    forms = TextForms.joined(list(fields.values()))
    return [
        *_tone_findings(forms),
        *_regulated_advice_findings(forms),
        *(_finding("pii", "critical", message) for message in pii_messages(forms.normalised, pii)),
        *_markup_findings(texts),
        *_number_findings(fields, grounding),
    ]


def _finding(check: str, severity: Severity, message: str) -> dict[str, str]:
    return {"check": check, "severity": severity, "message": message}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _quoted(matches: Sequence[str]) -> str:
    return ", ".join(repr(match) for match in matches)


def _format_findings(texts: Mapping[str, str]) -> list[dict[str, str]]:
    findings = [
        _finding("format", "critical", f"{key} is missing or empty")
        for key, text in texts.items()
        if not text.strip()
    ]
    if len(texts["title"]) > MAX_TITLE_CHARS:
        findings.append(_finding("format", "critical", f"title is longer than {MAX_TITLE_CHARS} characters"))
    if len(texts["content"]) > MAX_CONTENT_CHARS:
        findings.append(
            _finding("format", "critical", f"content is longer than {MAX_CONTENT_CHARS} characters")
        )
    return findings


def _consent_findings(consent_now: bool) -> list[dict[str, str]]:
    if consent_now:
        return []
    return [_finding("consent", "critical", "the user no longer consents: the item must not be shown")]


def _tone_findings(forms: TextForms) -> list[dict[str, str]]:
    findings = []
    if shaming := shaming_phrases(forms):
        findings.append(_finding("tone", "critical", f"shaming or judging language: {_quoted(shaming)}"))
    if forms.normalised and not has_empowering_phrase(forms.normalised):
        findings.append(
            _finding("tone", "notable", "no empowering language (e.g. 'you can', 'consider', 'explore')")
        )
    return findings


def _regulated_advice_findings(forms: TextForms) -> list[dict[str, str]]:
    return [
        _finding("regulated_advice", "critical", f"{_ADVICE_LABELS[kind]}: {_quoted(phrases)}")
        for kind, phrases in advice_matches(forms).items()
    ]


def _markup_findings(texts: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        _finding("markup", "critical", f"{field}: {problem}")
        for field, text in texts.items()
        for problem in markup_problems(text)
    ]


def _number_findings(fields: Mapping[str, TextForms], grounding: GroundingValues) -> list[dict[str, str]]:
    findings = []
    for field, forms in fields.items():
        if invented := ungrounded(forms.normalised, grounding):
            findings.append(
                _finding(
                    "grounding",
                    "critical",
                    f"{field} states numbers that are not the user's: {_quoted(invented)}",
                )
            )
    rationale = fields["rationale"].text
    if rationale.strip() and not _DIGIT.search(rationale):
        findings.append(_finding("grounding", "notable", "the rationale cites none of the user's numbers"))
    return findings


def _cited_fact_findings(cited_facts: Any, facts: Mapping[str, float | None]) -> list[dict[str, str]]:
    if isinstance(cited_facts, str):  # a recs row stores them as JSON text
        try:
            cited_facts = json.loads(cited_facts)
        except json.JSONDecodeError:
            cited_facts = None
    if not isinstance(cited_facts, list):
        return [_finding("format", "critical", "cited_facts is not a list of {name, value}")]
    if not cited_facts:
        return [_finding("grounding", "notable", "the item cites no facts about the user")]
    return [finding for fact in cited_facts for finding in _cited_fact_finding(fact, facts)]


def _cited_fact_finding(fact: Any, facts: Mapping[str, float | None]) -> list[dict[str, str]]:
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
    if not fact_matches(float(value), actual, unit_of(name)):
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


def _offer_findings(offer_eligible: bool | None, reasons: Sequence[str]) -> list[dict[str, str]]:
    if offer_eligible is None or offer_eligible:
        return []
    detail = f": {'; '.join(reasons)}" if reasons else ""
    return [_finding("offer_eligibility", "critical", f"the user is not eligible for this offer{detail}")]


def _has_disclaimer(text: str) -> bool:
    return normalise(DISCLAIMER) in normalise(text)


def _with_disclaimer(content: str, disclaimer: str) -> tuple[list[dict[str, str]], str, str]:
    """The mandatory disclaimer: always in the stored disclaimer; appended to content if the item had none."""
    final_disclaimer = disclaimer if _has_disclaimer(disclaimer) else f"{disclaimer} {DISCLAIMER}".strip()
    if _has_disclaimer(content) or _has_disclaimer(disclaimer):
        return [], content, final_disclaimer
    finding = _finding("disclaimer", "info", "the mandatory disclaimer was missing and has been appended")
    return [finding], f"{content.rstrip()}\n\n_{DISCLAIMER}_", final_disclaimer
