"""recs/recommendations: generated education items, partner offers, guardrails, in user-hash shards.

See docs/recommendations.md, docs/guardrails.md and docs/scaling.md ("Recommendation shards").

One asset computed by a graph of three ops: `plan_shards` fans out one step per shard
(SPENDSENSE_RECOMMENDATION_SHARDS, default 1); each `generate_shard` step reads its users' contexts
and offers, generates, guardrails and writes its own Parquet files, opening the warehouse read-only;
`combine_shards` loads every shard file into the recs tables in one transaction, so only one step
ever writes DuckDB. The asset's checks and metadata come from that last step.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa

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
from spendsense_dagster.lib.recommend.shards import (
    ShardFiles,
    ShardTask,
    read_shards,
    remove_shard_folder,
    users_of_shard,
    write_shard,
)
from spendsense_dagster.lib.review.consent_log import effective_consent

# The prompts and templates are part of what the asset runs: a change to one is a new version.
CODE_VERSION = code_version(PACKAGE / "lib" / "recommend", PACKAGE / "defs" / "recommend.py", PROMPTS_DIR)

RECS_KEY = dg.AssetKey(["recs", "recommendations"])
# The graph's name is the asset key's node name, as a plain asset's was: step keys read
# recs__recommendations.<op>, and `asset_materializations_for_node("recs__recommendations")` still works.
NODE_NAME = "recs__recommendations"
# The step that writes the warehouse and reports the asset (the CLI prints one line for the stage there).
LAST_STEP = f"{NODE_NAME}.combine_shards"
UPSTREAM = {
    "user_features": dg.AssetKey(["marts", "user_features"]),
    "user_personas": dg.AssetKey(["marts", "user_personas"]),
    "recurring_streams": dg.AssetKey(["marts", "recurring_streams"]),
    "customers": dg.AssetKey(["marts", "customers"]),
    "products": dg.AssetKey(["raw", "products"]),
}
CHECK_SPECS = [
    dg.AssetCheckSpec("only_consenting_customers", asset=RECS_KEY, blocking=True),
    dg.AssetCheckSpec("disclaimer_on_every_item", asset=RECS_KEY, blocking=True),
    dg.AssetCheckSpec(
        "generation_failures",
        asset=RECS_KEY,
        description="WARN when the generator failed for a user: that user got the fallback"
        " template text or no education item; the run goes on.",
    ),
]
# graph_multi_asset names each check's graph output after the check; the combining op has the same outputs.
CHECK_OUTPUTS = [spec.get_python_identifier() for spec in CHECK_SPECS]


def _consent_now(con, review_dir: Path) -> dict[str, bool]:
    """Every customer's consent at this moment: raw feed, overridden by the consent log."""
    table = effective_consent(con, review_dir)
    rows = con.execute(f"select user_id, consent_status from {table} where user_type = 'customer'").fetchall()
    return dict(rows)


def _count_table(title: str, counts: Counter) -> dg.MetadataValue:
    lines = [f"| {title} | items |", "| --- | --- |"] + [f"| {k} | {n} |" for k, n in sorted(counts.items())]
    return dg.MetadataValue.md("\n".join(lines))


def _shard_table(shards: list[ShardFiles]) -> dg.MetadataValue:
    lines = ["| shard | users | items | generation s |", "| --- | --- | --- | --- |"] + [
        f"| {s.index} | {s.users} | {s.rows} | {s.generation_seconds:.2f} |"
        for s in sorted(shards, key=lambda s: s.index)
    ]
    return dg.MetadataValue.md("\n".join(lines))


@dg.op(
    ins={name: dg.In(dg.Nothing) for name in UPSTREAM},
    out=dg.DynamicOut(ShardTask),
    description="One step per recommendation shard (SPENDSENSE_RECOMMENDATION_SHARDS).",
)
def plan_shards(context, spendsense: SpendSenseResource):
    settings = spendsense.settings
    # Per run: a re-execution of failed shard steps reuses this output, so it finds the same folder.
    folder = settings.shards_dir / context.run_id
    for index in range(settings.recommendation_shards):
        task = ShardTask(index=index, count=settings.recommendation_shards, folder=str(folder))
        yield dg.DynamicOutput(task, mapping_key=task.mapping_key)


@dg.op(
    description="Contexts, offers, generation and guardrails of one shard's users, into its own files.",
    # A shard only reads the warehouse and replaces its own files atomically: a retry (an evicted pod,
    # a lost node) is safe and redoes that shard alone.
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
)
def generate_shard(spendsense: SpendSenseResource, task: ShardTask) -> ShardFiles:
    settings = spendsense.settings
    generator = make_generator(settings)
    # Read-only: shards may run side by side (other processes, other pods); only the combine step writes.
    with spendsense.connect(read_only=True) as con:
        as_of = run_as_of(con)
        consenting = [user_id for user_id, ok in _consent_now(con, settings.review_dir).items() if ok]
        users = users_of_shard(consenting, task.index, task.count)
        contexts = build_contexts(con, RECOMMENDATION_WINDOW, users)
        offers = select_offers(con, RECOMMENDATION_WINDOW, users)
    # The warehouse is closed while the model works: other readers and writers are not held up.
    started = time.perf_counter()
    results = generator.generate_many(contexts)
    generation_s = time.perf_counter() - started
    with spendsense.connect(read_only=True) as con:
        # Consent is read again at guardrail time: a revoke during generation blocks the user's items.
        inputs = UserInputs(
            pii=user_pii(con, [c.user_id for c in contexts]),
            consent_now=_consent_now(con, settings.review_dir),
            products=products_by_id(con),
        )
    rows = assemble_rows(
        contexts,
        results,
        offers,
        inputs,
        as_of=as_of,
        generated_at=utc_now(),
        workers=settings.guardrail_workers,
    )
    recommendations_path, calls_path = write_shard(Path(task.folder), task.index, rows, call_rows(results))
    return ShardFiles(
        index=task.index,
        recommendations_path=str(recommendations_path),
        calls_path=str(calls_path),
        users=len(contexts),
        rows=len(rows),
        generation_seconds=generation_s,
        generator=generator.name,
        model=generator.model,
    )


@dg.op(
    out={name: dg.Out(dg.Nothing) for name in ["recommendations", *CHECK_OUTPUTS]},
    pool="duckdb",
    description="Every shard's files into recs.recommendations and the call log, in one transaction.",
)
def combine_shards(spendsense: SpendSenseResource, shards: list[ShardFiles]):
    settings = spendsense.settings
    recommendations, calls = read_shards(shards)
    with spendsense.connect() as con:
        write_recommendations(con, recommendations, calls)
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
    # Committed: the shard files have served. (On a failure above they stay, for a re-execution.)
    remove_shard_folder(Path(shards[0].recommendations_path).parent)

    call_log = calls.to_pylist()
    failed = [c for c in call_log if c["status"] == "failed"]
    latencies = [c["latency_ms"] for c in call_log if not c["cache_hit"] and c["status"] != "failed"]
    first = min(shards, key=lambda s: s.index)
    yield dg.MaterializeResult(
        asset_key=RECS_KEY,
        metadata={
            "dagster/row_count": recommendations.num_rows,
            "users": len(call_log),
            "generator": first.generator,
            "model": first.model,
            "by_persona": _count_table("persona", _counts(recommendations, "persona")),
            "by_guardrail_status": _count_table(
                "guardrail status", _counts(recommendations, "guardrail_status")
            ),
            "by_content_type": _count_table("content type", _counts(recommendations, "content_type")),
            "llm_calls": sum(c["attempts"] for c in call_log if not c["cache_hit"]),
            "cache_hits": sum(c["cache_hit"] for c in call_log),
            "generation_failures": len(failed),
            "failures": dg.MetadataValue.json({c["user_id"]: c["error"] for c in failed[:20]}),
            "input_tokens": sum(c["input_tokens"] for c in call_log),
            "output_tokens": sum(c["output_tokens"] for c in call_log),
            "cost_usd": round(sum(c["cost_usd"] for c in call_log), 6),
            "p95_latency_ms": round(p95(latencies) or 0.0, 1),
            # Summed over the shards: the model's working time, whether the shards ran one after
            # another (the in-process executor) or side by side (one pod each).
            "generation_seconds": round(sum(s.generation_seconds for s in shards), 2),
            "slowest_shard_seconds": round(max(s.generation_seconds for s in shards), 2),
            "shards": len(shards),
            "by_shard": _shard_table(shards),
            "preview": preview,
        },
    )
    yield dg.AssetCheckResult(
        asset_key=RECS_KEY,
        check_name="generation_failures",
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"generation failed for {len(failed)} of {len(call_log)} user(s); first: {failed[0]['error']}"
            if failed
            else None
        ),
        metadata={"failures": len(failed), "generations": len(call_log)},
    )
    yield dg.AssetCheckResult(
        asset_key=RECS_KEY,
        check_name="only_consenting_customers",
        passed=not_consenting == 0,
        metadata={"violations": not_consenting},
    )
    yield dg.AssetCheckResult(
        asset_key=RECS_KEY,
        check_name="disclaimer_on_every_item",
        passed=without_disclaimer == 0,
        metadata={"violations": without_disclaimer},
    )


def _counts(table: pa.Table, column: str) -> Counter:
    return Counter(table.column(column).to_pylist())


@dg.graph_multi_asset(
    name=NODE_NAME,
    outs={
        "recommendations": dg.AssetOut(
            key=RECS_KEY,
            owners=OWNERS,
            tags=TAGS,
            code_version=CODE_VERSION,
            kinds={"python", "openai", "duckdb"},
            description="3–5 checked items per consented customer: generated education plus catalog"
            " offers, generated in user-hash shards (docs/scaling.md).",
        )
    },
    ins={name: dg.AssetIn(key=key) for name, key in UPSTREAM.items()},
    check_specs=CHECK_SPECS,
    group_name="recommend",
)
def recommendations(user_features, user_personas, recurring_streams, customers, products):
    tasks = plan_shards(
        user_features=user_features,
        user_personas=user_personas,
        recurring_streams=recurring_streams,
        customers=customers,
        products=products,
    )
    outputs = combine_shards(tasks.map(generate_shard).collect())
    return dict(zip(["recommendations", *CHECK_OUTPUTS], outputs, strict=True))


recommend_assets = [recommendations]
