"""The guardrails on an operator's override (docs/guardrails.md, "Overrides"), with what they need read
from the warehouse: the user's PII, their context (the numbers the text may quote) and, for a partner
offer, the product's catalog text. The review actions call it for the CLI and the CSV import alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from spendsense_dagster.lib.recommend.context import build_contexts, user_pii
from spendsense_dagster.lib.recommend.guardrails import (
    PII,
    GroundingValues,
    catalog_grounding,
    check_override,
    context_grounding,
)


@dataclass(frozen=True)
class OverrideText:
    """One override to check: the reviewed item's keys and rationale, and the operator's new text."""

    user_id: str
    window_days: int
    product_id: str | None
    rationale: str
    new_title: str
    new_content: str


def _products(con: duckdb.DuckDBPyConnection, product_ids: set[str]) -> dict[str, dict]:
    if not product_ids:
        return {}
    cursor = con.execute(
        "select * from raw.products where product_id in (select unnest(?::varchar[]))", [sorted(product_ids)]
    )
    columns = [description[0] for description in cursor.description]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def override_findings(con: duckdb.DuckDBPyConnection, overrides: Sequence[OverrideText]) -> list[list[dict]]:
    """The findings of each override, in order. A few set-based reads serve the whole batch."""
    if not overrides:
        return []
    user_ids = sorted({override.user_id for override in overrides})
    pii = user_pii(con, user_ids)
    contexts = {
        (context.user_id, window_days): context
        for window_days in sorted({override.window_days for override in overrides})
        for context in build_contexts(con, window_days, consented_user_ids=user_ids)
    }
    products = _products(con, {override.product_id for override in overrides if override.product_id})

    def grounding(override: OverrideText) -> GroundingValues:
        context = contexts.get((override.user_id, override.window_days))
        product: Mapping | None = products.get(override.product_id) if override.product_id else None
        if context is None:  # no context any more (the data changed): no number about the user
            return catalog_grounding(product)
        return context_grounding(context, product)

    return [
        check_override(
            override.new_title,
            override.new_content,
            override.rationale,
            pii=pii.get(override.user_id, PII()),
            grounding=grounding(override),
        )
        for override in overrides
    ]
