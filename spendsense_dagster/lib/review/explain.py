"""The decision trace of one recommendation (docs/review.md auditability): why it exists and who decided."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb

from spendsense_dagster.lib.core.warehouse import one_row
from spendsense_dagster.lib.review.decision_log import read_decisions


class UnknownRecommendation(LookupError):
    pass


def decision_trace(
    con: duckdb.DuckDBPyConnection, review_dir: Path, recommendation_id: str
) -> dict[str, Any]:
    """The item, the features it used, the persona reasoning, generation provenance, guardrails, decisions."""
    item = one_row(con, "select * from recs.recommendations where recommendation_id = ?", [recommendation_id])
    if item is None:
        raise UnknownRecommendation(
            f"unknown recommendation id {recommendation_id!r}: not in recs.recommendations"
        )
    key = [item["user_id"], item["window_days"]]
    features = one_row(con, "select * from marts.user_features where user_id = ? and window_days = ?", key)
    persona = one_row(
        con,
        "select persona, matched_personas, confidence, reasoning from marts.user_personas"
        " where user_id = ? and window_days = ?",
        key,
    )
    cited = json.loads(item["cited_facts"] or "[]")
    return {
        "recommendation_id": recommendation_id,
        "item": {
            k: item[k]
            for k in (
                "user_id",
                "window_days",
                "as_of_date",
                "content_type",
                "title",
                "rationale",
                "product_id",
                "disclaimer",
            )
        },
        "features_used": [
            {**fact, "feature_value_now": (features or {}).get(fact["name"])} for fact in cited
        ],
        "features_snapshot": features,
        "persona": {**(persona or {}), "reasoning": json.loads((persona or {}).get("reasoning") or "null")},
        "generation": {
            k: item[k]
            for k in (
                "generator",
                "model",
                "prompt_version",
                "context_hash",
                "latency_ms",
                "input_tokens",
                "output_tokens",
                "cost_usd",
                "generated_at",
            )
        },
        "guardrails": {
            "status": item["guardrail_status"],
            "findings": json.loads(item["guardrail_findings"]),
        },
        "decisions": [
            asdict(d) for d in read_decisions(review_dir) if d.recommendation_id == recommendation_id
        ],
    }


def format_trace(trace: dict[str, Any]) -> str:
    return json.dumps(trace, indent=2, default=str)
