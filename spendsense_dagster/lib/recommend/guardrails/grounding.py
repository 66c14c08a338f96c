"""Grounding (docs/guardrails.md): the numbers an item states about the user must be the user's.

Two checks:

- cited facts: each `{name, value}` must be one of the user's numeric features and equal its value
  within rounding, compared in the feature's unit (formats.py). Only fraction features also accept
  the percent form (68.4 for 0.684): "$29,117" can never pass for $291.17.
- numbers in the text: every money amount ("$291", "$1.2k", "29 dollars"), percentage ("68%",
  "68 percent", "ninety-seven percent") and decimal month count ("2.5 months") in the title,
  rationale or content must equal, within the rounding its own digits imply, a value of the user's
  context (`GroundingValues`): their features in both windows, the derived values templates quote,
  account balances, limits and utilizations, recurring-stream amounts, persona thresholds, and for a
  partner offer the numbers of the product's own catalog text. Generic numbers of education text are
  allowed only inside the phrases of `GENERIC_NUMBER_PHRASES` ("$25 or $50", "under 30%").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from spendsense_dagster.lib.recommend.formats import Unit, as_number, derived_values, unit_of
from spendsense_dagster.lib.recommend.guardrails.text import normalise
from spendsense_dagster.lib.recommend.models import UserContext

# The columns of a catalog product whose text an offer item quotes.
CATALOG_TEXT_FIELDS = ("product_name", "short_description", "benefits", "typical_apy_or_fee", "partner_name")

_NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_MULTIPLIERS = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_MULTIPLIER = r"(?:\s*(?P<mult>thousand|million|billion|k|mm|m|bn|b)\b)?"
_MONEY = (
    re.compile(rf"\$\s*{_NUMBER}{_MULTIPLIER}"),
    re.compile(rf"(?<![\w.$,]){_NUMBER}{_MULTIPLIER}\s*(?:dollars?|bucks|usd)\b"),
    re.compile(rf"\busd\s*{_NUMBER}{_MULTIPLIER}"),
)
_PERCENT = re.compile(rf"(?<![\w.$,]){_NUMBER}\s*(?:%|percent\b|per\s*cent\b|pct\b|percentage points?\b)")
_MONTHS = re.compile(r"(?<![\w.$,])(?P<num>\d+\.\d+)\s*months?\b")

_SMALL = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    word: 10 * (i + 2)
    for i, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORD = "|".join(sorted([*_SMALL, *_TENS, *_SCALES], key=len, reverse=True))
_WORD_QUANTITY = re.compile(
    rf"(?<![\w-])(?P<words>(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*)\s+"
    r"(?P<unit>dollars?|bucks|percent|per\s*cent)\b"
)

# Generic numbers of education text, allowed only inside these phrases (each with an example).
GENERIC_NUMBER_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\b(?:50|30|20)\s*%\s+(?:for|to|on)\s+(?:needs|wants|savings|saving|debt)", "30% for wants"),
    (r"\b50/30/20\b", "the 50/30/20 framework"),
    (r"\b(?:under|below|less than|no more than|at most|the)\s+(?:10|30|50)\s*%", "under 30%"),
    (r"\b(?:10|30|50)\s*%\s+(?:and|or)\s+(?:10|30|50)\s*%\s+marks?", "the 30% and 50% marks"),
    (r"\$(?:5|10|20|25|50|100)\s+or\s+\$(?:10|20|25|50|100|200)\b", "$25 or $50 above the minimum"),
    (r"\b(?:even|just|only|as little as|start with|starting with|such as|like)\s+\$(?:1|5|10|20|25|50|100)\b",
     "even $25"),
    (r"\b(?:1|2|3|5|10|15|20|one|two|three|five|ten)\s*(?:%|percent)\s+of\s+(?:your|each|every)\s+"
     r"(?:pay|paycheck|income|deposit|raise|take-home pay)", "1% of your pay"),
    (r"\b(?:for example|e\.g\.|such as|say)\s*,?\s+(?:1|2|3|5|10|15|20)\s*%", "for example 10%"),
    (r"\b(?:25|50|75)\s*%(?:\s*,\s*(?:25|50|75)\s*%)*,?\s+(?:and|or)\s+(?:50|75|100)\s*%\s+of\s+(?:a|your|the)\s+goal",
     "25%, 50% and 75% of a goal"),
    (r"\bhalf a percent\b", "half a percent a year"),
    (r"\b0\s*%\s+(?:intro(?:ductory)?\s+)?(?:apr|interest|period|balance transfer)", "a 0% intro APR"),
)  # fmt: skip
_GENERIC = tuple(re.compile(pattern) for pattern, _ in GENERIC_NUMBER_PHRASES)

# (a string the text must hold, kind, pattern): a pattern runs only when its cue is in the text.
_QUANTITY_PATTERNS = (
    ("$", "money", _MONEY[0]),
    ("dollar", "money", _MONEY[1]),
    ("buck", "money", _MONEY[1]),
    ("usd", "money", _MONEY[1]),
    ("usd", "money", _MONEY[2]),
    ("%", "percent", _PERCENT),
    ("per", "percent", _PERCENT),
    ("pct", "percent", _PERCENT),
    ("month", "months", _MONTHS),
)
_GENERIC_REACH = 60  # generic phrases are short: look this far around a quantity

Kind = str  # "money", "percent" or "months"
_KIND_OF_UNIT: dict[Unit, Kind] = {"money": "money", "fraction": "percent", "months": "months"}


@dataclass(frozen=True)
class Quantity:
    kind: Kind
    value: float
    tolerance: float  # half a unit of the last digit written
    text: str


@dataclass(frozen=True)
class GroundingValues:
    """Numbers the item may state, by kind (percentages in percent, not fractions)."""

    by_kind: Mapping[Kind, frozenset[float]] = field(default_factory=dict)

    def matches(self, quantity: Quantity) -> bool:
        return any(
            abs(abs(quantity.value) - abs(value)) <= max(quantity.tolerance, 0.005 * abs(value)) + 1e-9
            for value in self.by_kind.get(quantity.kind, ())
        )

    def merged(self, other: GroundingValues) -> GroundingValues:
        kinds = set(self.by_kind) | set(other.by_kind)
        return GroundingValues(
            {
                kind: self.by_kind.get(kind, frozenset()) | other.by_kind.get(kind, frozenset())
                for kind in kinds
            }
        )


def _word_number(words: str) -> float | None:
    total = current = 0
    for word in re.split(r"[\s-]+", words.replace(" and ", " ")):
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return float(total + current)


def _quantity(kind: Kind, match: re.Match[str]) -> Quantity:
    number = match.group("num")
    multiplier = _MULTIPLIERS.get((match.groupdict().get("mult") or "").lower(), 1.0)
    decimals = len(number.split(".")[1]) if "." in number else 0
    value = float(number.replace(",", "")) * multiplier
    return Quantity(kind, value, 0.5 * 10**-decimals * multiplier, match.group(0).strip())


def _is_generic(normalised: str, start: int, end: int) -> bool:
    """Whether a quantity lies inside one of the generic phrases (looked for around it only)."""
    left = max(0, start - _GENERIC_REACH)
    window = normalised[left : end + _GENERIC_REACH]
    return any(
        g.start() + left <= start and end <= g.end() + left
        for pattern in _GENERIC
        for g in pattern.finditer(window)
    )


def quantities(normalised: str) -> list[Quantity]:
    """Money amounts, percentages and decimal month counts, outside the generic phrases."""
    patterns = dict.fromkeys(
        (kind, pattern) for cue, kind, pattern in _QUANTITY_PATTERNS if cue in normalised
    )
    found = [
        (_quantity(kind, match), match.span())
        for kind, pattern in patterns
        for match in pattern.finditer(normalised)
    ]
    if any(unit in normalised for unit in ("dollar", "buck", "percent", "per cent")):
        for match in _WORD_QUANTITY.finditer(normalised):
            value = _word_number(match.group("words"))
            if value is not None:
                kind = "money" if match.group("unit").startswith(("dollar", "buck")) else "percent"
                found.append((Quantity(kind, value, 0.5, match.group(0)), match.span()))
    return [quantity for quantity, (start, end) in found if not _is_generic(normalised, start, end)]


def _feature_values(features: Mapping[str, Any]) -> Iterable[tuple[Kind, float]]:
    for name, value in features.items():
        number = as_number(value)
        kind = _KIND_OF_UNIT.get(unit_of(name))
        if number is not None and kind is not None:
            yield kind, number * 100 if kind == "percent" else number


def grounding_values(
    features: Mapping[str, Any],
    *,
    more_features: Iterable[Mapping[str, Any]] = (),
    thresholds: Iterable[Mapping[str, Any]] = (),
    money: Iterable[float | None] = (),
    fractions: Iterable[float | None] = (),
    texts: Iterable[str] = (),
) -> GroundingValues:
    """The values an item may quote: feature rows (and their derived values), feature-named thresholds,
    plain money amounts and fractions, and every quantity written in `texts` (catalog text of an offer)."""
    pairs: list[tuple[Kind, float]] = []
    for row in (features, *more_features):
        pairs.extend(_feature_values(row))
        pairs.extend(("money", value) for value in derived_values(row).values())
    for row in thresholds:
        pairs.extend(_feature_values(row))
    pairs.extend(("money", value) for value in money if value is not None)
    pairs.extend(("percent", value * 100) for value in fractions if value is not None)
    pairs.extend((q.kind, q.value) for text in texts for q in quantities(normalise(text)))
    by_kind: dict[Kind, set[float]] = {}
    for kind, value in pairs:
        if math.isfinite(value):
            by_kind.setdefault(kind, set()).add(value)
    return GroundingValues({kind: frozenset(values) for kind, values in by_kind.items()})


def catalog_texts(product: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The catalog text an offer item may quote numbers from."""
    if not product:
        return ()
    texts = []
    for column in CATALOG_TEXT_FIELDS:
        value = product.get(column)
        texts.extend(str(v) for v in value) if isinstance(value, list | tuple) else texts.append(
            str(value or "")
        )
    return tuple(texts)


@lru_cache(maxsize=256)
def _catalog_values(texts: tuple[str, ...]) -> GroundingValues:
    return grounding_values({}, texts=texts)


def catalog_grounding(product: Mapping[str, Any] | None) -> GroundingValues:
    """The numbers of a product's catalog text (none without a product)."""
    return _catalog_values(catalog_texts(product))


def context_grounding(context: UserContext, product: Mapping[str, Any] | None = None) -> GroundingValues:
    """Everything the generator knew about the user (and, for an offer, the product's catalog text).
    The income summary repeats window features, so it adds nothing; persona criteria add thresholds."""
    values = grounding_values(
        context.features,
        more_features=[context.features_context_window],
        thresholds=[{c["feature"]: c.get("threshold")} for c in context.persona_reasoning if "feature" in c],
        money=[v for account in context.accounts for v in (account.balance_current, account.balance_limit)]
        + [v for stream in context.recurring_streams for v in (stream.median_amount, stream.monthly_cost)],
        fractions=[account.utilization for account in context.accounts],
    )
    return values.merged(catalog_grounding(product)) if product else values


def ungrounded(normalised: str, values: GroundingValues) -> list[str]:
    """The quantities of a text that match none of the values, as written."""
    return [quantity.text for quantity in quantities(normalised) if not values.matches(quantity)]


def fact_matches(claimed: float, actual: float, unit: Unit) -> bool:
    """Equal within rounding (|a - b| <= max(0.01, 0.5 % of |b|)); a fraction may be cited in percent."""
    tolerance = max(0.01, 0.005 * abs(actual))
    candidates = (claimed, claimed / 100) if unit == "fraction" else (claimed,)
    return any(abs(candidate - actual) <= tolerance for candidate in candidates)
