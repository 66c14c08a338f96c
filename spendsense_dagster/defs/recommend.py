"""recs/recommendations: generated education items, partner offers, guardrails.

See docs/recommendations.md and docs/guardrails.md.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import dagster as dg

from spendsense_dagster.defs.metadata import OWNERS, PACKAGE, TAGS, code_version, markdown_preview
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.settings import PROMPTS_DIR
from spendsense_dagster.lib.core.stats import p95
from spendsense_dagster.lib.core.warehouse import run_as_of
from spendsense_dagster.lib.core.windows import RECOMMENDATION_WINDOW
from spendsense_dagster.lib.recommend.assemble import (
    UserInputs,
    assemble_rows,
    call_rows,
    utc_now,
    write_recommendations,
)
from spendsense_dagster.lib.recommend.context import build_contexts, user_pii
from spendsense_dagster.lib.recommend.generation.factory import make_generator
from spendsense_dagster.lib.recommend.models import DISCLAIMER
from spendsense_dagster.lib.recommend.offers import products_by_id, select_offers
from spendsense_dagster.lib.review.consent_log import effective_consent

# The prompts and templates are part of what the asset runs: a change to one is a new version.
CODE_VERSION = code_version(PACKAGE / "lib" / "recommend", PACKAGE / "defs" / "recommend.py", PROMPTS_DIR)

RECS_KEY = dg.AssetKey(["recs", "recommendations"])


def _consent_now(con, review_dir: Path) -> dict[str, bool]:
    """Every customer's consent at this moment: raw feed, overridden by the consent log."""
    table = effective_consent(con, review_dir)
    rows = con.execute(f"select user_id, consent_status from {table} where user_type = 'customer'").fetchall()
    return dict(rows)


def _count_table(title: str, counts: Counter) -> dg.MetadataValue:
    lines = [f"| {title} | items |", "| --- | --- |"] + [f"| {k} | {n} |" for k, n in sorted(counts.items())]
    return dg.MetadataValue.md("\n".join(lines))


@dg.asset(
    key=RECS_KEY,
    group_name="recommend",
    owners=OWNERS,
    tags=TAGS,
    code_version=CODE_VERSION,
    kinds={"python", "openai", "duckdb"},
    pool="duckdb",
    deps=[
        dg.AssetKey(["marts", "user_features"]),
        dg.AssetKey(["marts", "user_personas"]),
        dg.AssetKey(["marts", "recurring_streams"]),
        dg.AssetKey(["marts", "customers"]),
        dg.AssetKey(["raw", "products"]),
    ],
    description="3–5 checked items per consented customer: generated education plus catalog offers.",
    check_specs=[
        dg.AssetCheckSpec("only_consenting_customers", asset=RECS_KEY, blocking=True),
        dg.AssetCheckSpec("disclaimer_on_every_item", asset=RECS_KEY, blocking=True),
        dg.AssetCheckSpec(
            "generation_failures",
            asset=RECS_KEY,
            description="WARN when the generator failed for a user: that user got the fallback"
            " template text or no education item; the run goes on.",
        ),
    ],
)
def recommendations(spendsense: SpendSenseResource):
    settings = spendsense.settings
    generator = make_generator(settings)
    with spendsense.connect() as con:
        as_of = run_as_of(con)
        consented = [user_id for user_id, ok in _consent_now(con, settings.review_dir).items() if ok]
        contexts = build_contexts(con, RECOMMENDATION_WINDOW, consented)
        offers = select_offers(con, RECOMMENDATION_WINDOW, consented)
    # The warehouse is closed while the model works: other readers and writers are not held up.
    started = time.perf_counter()
    results = generator.generate_many(contexts)
    generation_s = time.perf_counter() - started
    with spendsense.connect() as con:
        # Consent is read again at guardrail time: a revoke during generation blocks the user's items.
        inputs = UserInputs(
            pii=user_pii(con),
            consent_now=_consent_now(con, settings.review_dir),
            products=products_by_id(con),
        )
        rows = assemble_rows(contexts, results, offers, inputs, as_of=as_of, generated_at=utc_now())
        calls = call_rows(results)
        write_recommendations(con, rows, calls)
        not_consenting = con.execute(
            f"""
            select count(*) from recs.recommendations r
            left join {effective_consent(con, settings.review_dir)} c using (user_id)
            where c.user_type is distinct from 'customer' or not coalesce(c.consent_status, false)
            """
        ).fetchall()[0][0]
        without_disclaimer = con.execute(
            "select count(*) from recs.recommendations where disclaimer is null or content is null"
            " or position(? in disclaimer) = 0",
            [DISCLAIMER],
        ).fetchall()[0][0]
        preview = markdown_preview(
            con,
            "select recommendation_id, user_id, persona, content_type, guardrail_status"
            " from recs.recommendations order by user_id, recommendation_id",
        )

    failed = [r for r in results if r.failed]
    latencies = [r.latency_ms for r in results if not r.cache_hit and not r.failed]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "users": len(contexts),
            "generator": generator.name,
            "model": generator.model,
            "by_persona": _count_table("persona", Counter(r["persona"] for r in rows)),
            "by_guardrail_status": _count_table(
                "guardrail status", Counter(r["guardrail_status"] for r in rows)
            ),
            "by_content_type": _count_table("content type", Counter(r["content_type"] for r in rows)),
            "llm_calls": sum(r.attempts for r in results if not r.cache_hit),
            "cache_hits": sum(r.cache_hit for r in results),
            "generation_failures": len(failed),
            "failures": dg.MetadataValue.json({r.user_id: r.error for r in failed[:20]}),
            "input_tokens": sum(r.input_tokens for r in results),
            "output_tokens": sum(r.output_tokens for r in results),
            "cost_usd": round(sum(r.cost_usd for r in results), 6),
            "p95_latency_ms": round(p95(latencies) or 0.0, 1),
            "generation_seconds": round(generation_s, 2),
            "preview": preview,
        }
    )
    yield dg.AssetCheckResult(
        check_name="generation_failures",
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"generation failed for {len(failed)} of {len(results)} user(s); first: {failed[0].error}"
            if failed
            else None
        ),
        metadata={"failures": len(failed), "generations": len(results)},
    )
    yield dg.AssetCheckResult(
        check_name="only_consenting_customers",
        passed=not_consenting == 0,
        metadata={"violations": not_consenting},
    )
    yield dg.AssetCheckResult(
        check_name="disclaimer_on_every_item",
        passed=without_disclaimer == 0,
        metadata={"violations": without_disclaimer},
    )


recommend_assets = [recommendations]
