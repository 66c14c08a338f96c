"""From generated items and partner offers to checked `recs.recommendations` rows.

See docs/recommendations.md and docs/guardrails.md.

Each shard step of the stage reads the warehouse, closes it while the model works, then calls
`assemble_rows` and writes its shard file; the combining step calls `write_recommendations` once
(docs/scaling.md). Every item is guardrail-checked here, with consent re-read at this moment.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa

from spendsense_dagster.lib.core.warehouse import create_table_from_arrow
from spendsense_dagster.lib.recommend.guardrails import (
    PII,
    catalog_grounding,
    check_item,
    context_grounding,
    numeric_facts,
)
from spendsense_dagster.lib.recommend.guardrails.markup import inert_text
from spendsense_dagster.lib.recommend.models import GenerationResult, UserContext
from spendsense_dagster.lib.recommend.offers import OfferItem, is_offer_eligible

# Partner offers come from catalog rules, not from a language model: labelled as such.
OFFER_GENERATOR = "catalog"
OFFER_MODEL = "catalog-rules-v1"
MAX_EDUCATION_ITEMS = 3
# Below this many users the guardrails run in the step's own process: a worker process needs about a
# second to start and import the checks, and 500 users' items take a few seconds to check.
MIN_USERS_FOR_WORKERS = 500

RECOMMENDATION_SCHEMA = pa.schema(
    [
        ("recommendation_id", pa.string()),
        ("user_id", pa.string()),
        ("window_days", pa.int32()),
        ("as_of_date", pa.date32()),
        ("persona", pa.string()),
        ("content_type", pa.string()),
        ("title", pa.string()),
        ("content", pa.string()),
        ("rationale", pa.string()),
        ("disclaimer", pa.string()),
        ("product_id", pa.string()),
        ("cited_facts", pa.string()),
        ("metadata", pa.string()),
        ("generator", pa.string()),
        ("model", pa.string()),
        ("prompt_version", pa.string()),
        ("context_hash", pa.string()),
        ("latency_ms", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("generated_at", pa.timestamp("us", tz="UTC")),
        ("guardrail_status", pa.string()),
        ("guardrail_findings", pa.string()),
    ]
)
CALL_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("window_days", pa.int32()),
        ("generator", pa.string()),
        ("model", pa.string()),
        ("cache_hit", pa.bool_()),
        ("attempts", pa.int64()),
        ("latency_ms", pa.float64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
    ]
)


def recommendation_id(
    user_id: str, window_days: int, as_of: date, content_type: str, title: str, content: str
) -> str:
    """Stable id of exactly this content: regenerated text is a new item, pending review again."""
    key = json.dumps([user_id, window_days, as_of.isoformat(), content_type, title, content])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class UserInputs:
    """What the guardrails need about one user, read from the warehouse at check time."""

    pii: Mapping[str, PII]
    consent_now: Mapping[str, bool]
    products: Mapping[str, dict]


def _stored_text(item: Mapping, checked) -> tuple[str, str, str]:
    """Title, content and rationale as stored. Text with live markup is blocked, and kept escaped so
    that no queue page, spreadsheet or export reader can render it (docs/guardrails.md, "Markup")."""
    texts = (item["title"], checked.content, item["rationale"])
    if any(finding["check"] == "markup" for finding in checked.findings):
        return tuple(inert_text(text) for text in texts)
    return texts


def _row(
    item: Mapping, *, context: UserContext, as_of: date, content_type: str, provenance: Mapping, checked
) -> dict:
    title, content, rationale = _stored_text(item, checked)
    rec_id = recommendation_id(context.user_id, context.window_days, as_of, content_type, title, content)
    return {
        "recommendation_id": rec_id,
        "user_id": context.user_id,
        "window_days": context.window_days,
        "as_of_date": as_of,
        "persona": context.persona,
        "content_type": content_type,
        "title": title,
        "content": content,
        "rationale": rationale,
        "disclaimer": checked.disclaimer,
        "product_id": item.get("product_id"),
        "cited_facts": json.dumps(item["cited_facts"], sort_keys=True),
        "metadata": json.dumps(item["metadata"], sort_keys=True),
        **provenance,
        "guardrail_status": checked.status,
        "guardrail_findings": json.dumps(checked.findings),
    }


def assemble_rows(
    contexts: Sequence[UserContext],
    results: Sequence[GenerationResult],
    offers: Sequence[OfferItem],
    inputs: UserInputs,
    *,
    as_of: date,
    generated_at: datetime,
    workers: int = 1,
) -> list[dict]:
    """2–3 education items and 1–2 offers per user, each with its guardrail status and findings.

    The checks are pure Python and take milliseconds per item, so with `workers` > 1 and enough users
    they run in that many processes, each on a contiguous slice of the users. The rows are the same,
    in the same order, as in one process.
    """
    if workers > 1 and len(contexts) >= MIN_USERS_FOR_WORKERS:
        return _assemble_in_workers(
            _user_slices(contexts, results, offers, inputs, workers), as_of=as_of, generated_at=generated_at
        )
    offers_by_user = _offers_by_user(offers)
    rows = []
    for context, result in zip(contexts, results, strict=True):
        if result.failed:
            continue  # recorded in recs.generation_failures; the run goes on
        facts = numeric_facts(context.features)
        pii = inputs.pii.get(context.user_id, PII())
        consent_now = inputs.consent_now.get(context.user_id, False)
        # Tokens, latency and cost belong to the one call that wrote all of this user's items.
        generated = {
            "generator": result.generator,
            "model": result.model,
            "prompt_version": result.prompt_version,
            "context_hash": result.context_hash,
            "latency_ms": result.latency_ms,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "cost_usd": result.cost_usd,
            "generated_at": generated_at,
        }
        grounding = context_grounding(context)
        for item in result.items[:MAX_EDUCATION_ITEMS]:
            dumped = item.model_dump()
            checked = check_item(
                dumped,
                facts=facts,
                pii=pii,
                consent_now=consent_now,
                offer_eligible=None,
                grounding=grounding,
            )
            rows.append(
                _row(
                    dumped,
                    context=context,
                    as_of=as_of,
                    content_type="education",
                    provenance=generated,
                    checked=checked,
                )
            )
        offered = {
            **generated,
            "generator": OFFER_GENERATOR,
            "model": OFFER_MODEL,
            "latency_ms": 0.0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
        }
        for offer in offers_by_user.get(context.user_id, []):
            product = inputs.products[offer.product_id]
            eligible, reasons = is_offer_eligible(product, context.features, context.accounts)
            dumped = offer.model_dump()
            checked = check_item(
                dumped,
                facts=facts,
                pii=pii,
                consent_now=consent_now,
                offer_eligible=eligible,
                offer_ineligible_reasons=reasons,
                grounding=grounding.merged(catalog_grounding(product)),
            )
            rows.append(
                _row(
                    dumped,
                    context=context,
                    as_of=as_of,
                    content_type="partner_offer",
                    provenance=offered,
                    checked=checked,
                )
            )
    return rows


def _user_slices(
    contexts: Sequence[UserContext],
    results: Sequence[GenerationResult],
    offers: Sequence[OfferItem],
    inputs: UserInputs,
    count: int,
) -> list[tuple]:
    """(contexts, results, offers, inputs) of `count` contiguous slices of the users, in order."""
    size = -(-len(contexts) // count)  # ceiling: every user in exactly one slice
    offers_by_user = _offers_by_user(offers)
    slices = []
    for start in range(0, len(contexts), size):
        users = [context.user_id for context in contexts[start : start + size]]
        pii = {u: inputs.pii[u] for u in users if u in inputs.pii}
        consent_now = {u: inputs.consent_now[u] for u in users if u in inputs.consent_now}
        slices.append(
            (
                contexts[start : start + size],
                results[start : start + size],
                [offer for user_id in users for offer in offers_by_user.get(user_id, [])],
                UserInputs(pii=pii, consent_now=consent_now, products=inputs.products),
            )
        )
    return slices


def _assemble_in_workers(slices: list[tuple], *, as_of: date, generated_at: datetime) -> list[dict]:
    """assemble_rows of each slice in its own process; the rows in slice order."""
    # spawn, not fork: the step's process has threads (DuckDB's, Dagster's) that a fork would copy
    # mid-work. A spawned worker imports this module and the main module (which, as multiprocessing
    # requires, must guard its own entry point with `if __name__ == "__main__"`; the CLIs do).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(slices), mp_context=context) as pool:
        futures = [
            pool.submit(assemble_rows, *part, as_of=as_of, generated_at=generated_at) for part in slices
        ]
        return [row for future in futures for row in future.result()]


def _offers_by_user(offers: Sequence[OfferItem]) -> dict[str, list[OfferItem]]:
    by_user: dict[str, list[OfferItem]] = {}
    for offer in offers:
        by_user.setdefault(offer.user_id, []).append(offer)
    return by_user


def call_rows(results: Sequence[GenerationResult]) -> list[dict]:
    """One row per user generation: cost, tokens, latency, cache hit, outcome."""
    return [
        {
            "user_id": r.user_id,
            "window_days": r.window_days,
            "generator": r.generator,
            "model": r.model,
            "cache_hit": r.cache_hit,
            "attempts": r.attempts,
            "latency_ms": r.latency_ms,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": r.cost_usd,
            "status": "failed" if r.failed else "ok",
            "error": r.error,
        }
        for r in results
    ]


def write_recommendations(
    con: duckdb.DuckDBPyConnection, recommendations: pa.Table, llm_calls: pa.Table
) -> None:
    """Replace recs.recommendations, recs.llm_calls and recs.generation_failures in one transaction.

    The tables have RECOMMENDATION_SCHEMA and CALL_SCHEMA (the shard files' own schemas)."""
    con.execute("create schema if not exists recs")
    con.execute("begin transaction")
    try:
        create_table_from_arrow(con, "recs.recommendations", recommendations)
        create_table_from_arrow(con, "recs.llm_calls", llm_calls)
        con.execute(
            """
            create or replace table recs.generation_failures as
            select user_id, window_days, generator, model, error, attempts
            from recs.llm_calls
            where status = 'failed'
            """
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def utc_now() -> datetime:
    return datetime.now(UTC)
