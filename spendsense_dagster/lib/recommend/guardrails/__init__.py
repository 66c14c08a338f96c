"""Guardrails (docs/guardrails.md): pure checks every item passes through before an operator sees it.

One normalisation (`text`) feeds the checks: tone, regulated advice (`advice`, with the securities
list in data/guardrails/), PII, grounding of numbers, markup. `check` runs them on an item or an
override. Importing from this package gives the public names below.
"""

from spendsense_dagster.lib.recommend.guardrails.check import (
    MAX_CONTENT_CHARS,
    MAX_TITLE_CHARS,
    GuardrailResult,
    check_item,
    check_override,
    numeric_facts,
    status_for,
)
from spendsense_dagster.lib.recommend.guardrails.grounding import (
    GroundingValues,
    catalog_grounding,
    context_grounding,
    fact_matches,
    grounding_values,
)
from spendsense_dagster.lib.recommend.guardrails.pii import PII

__all__ = [
    "MAX_CONTENT_CHARS",
    "MAX_TITLE_CHARS",
    "PII",
    "GroundingValues",
    "GuardrailResult",
    "catalog_grounding",
    "check_item",
    "check_override",
    "context_grounding",
    "fact_matches",
    "grounding_values",
    "numeric_facts",
    "status_for",
]
