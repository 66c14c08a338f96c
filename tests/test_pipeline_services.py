"""The pipeline against real local services: an OpenAI-compatible server and an S3-compatible server."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.evaluate.exports import ANALYTICS_MARTS
from tests.openai_server import NOT_JSON, ScriptedOpenAIServer, items_for
from tests.pipeline_runs import HANDMADE_AS_OF, environment, query, run_groups
from tests.s3_server import aws_test_env_fixture, s3_endpoint_fixture  # noqa: F401 (pytest fixtures)
from tests.test_pipeline import _warehouse


def _openai_env(server: ScriptedOpenAIServer):
    return environment(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="gpt-4o-mini")


def _people(warehouse: Path) -> list[tuple[str, str, str, bool, str]]:
    return query(warehouse, "select user_id, full_name, email, consent_status, user_type from raw.users")


def test_openai_generator_sends_no_pii_skips_non_consenting_users_and_caches(workspace: Path):
    warehouse = _warehouse(workspace)
    people = _people(warehouse)
    consenting = [p for p in people if p[3] and p[4] == "customer"]
    with ScriptedOpenAIServer() as server, _openai_env(server):
        run_groups("recommend")
        first_run_requests = list(server.requests)
        run_groups("recommend")
        second_run_requests = server.requests[len(first_run_requests) :]
    assert len(first_run_requests) == len(consenting)
    bodies = json.dumps(first_run_requests)
    for user_id, full_name, email, _, _ in people:
        assert full_name not in bodies and email not in bodies and f'"{user_id}"' not in bodies
    assert second_run_requests == []
    generators = query(
        warehouse,
        "select distinct generator, model from recs.recommendations where content_type = 'education'",
    )
    assert generators == [("openai", "gpt-4o-mini")]
    calls = query(warehouse, "select bool_and(cache_hit), sum(cost_usd) from recs.llm_calls")
    assert calls == [(True, 0.0)]  # the second run came from the cache, at no cost


def test_malformed_replies_are_recorded_as_failures_and_the_run_goes_on(workspace: Path):
    warehouse = _warehouse(workspace)
    with ScriptedOpenAIServer(default=NOT_JSON) as server, _openai_env(server):
        run_groups("recommend", "review")
    failures = query(warehouse, "select count(*), min(attempts) from recs.generation_failures")[0]
    consenting = query(
        warehouse, "select count(*) from raw.users where consent_status and user_type = 'customer'"
    )[0][0]
    assert failures == (consenting, 2)  # one retry with the error, then recorded
    education = query(warehouse, "select count(*) from recs.recommendations where content_type = 'education'")
    assert education == [(0,)]


def test_unsafe_model_output_is_blocked_with_the_matching_findings(workspace: Path):
    warehouse = _warehouse(workspace)
    victim_id, _, victim_email, _, _ = next(p for p in _people(warehouse) if p[3] and p[4] == "customer")

    def unsafe_items(request: dict) -> list[dict]:
        honest = items_for(request, count=1)[0]
        invented = {**honest["cited_facts"][0], "value": honest["cited_facts"][0]["value"] + 1234.5}
        return [
            {**honest, "title": "Spending", "content": "You're overspending and it's a bad habit."},
            {**honest, "title": "Markets", "content": "Consider $AAPL for guaranteed returns."},
            {
                **honest,
                "title": "Contact",
                "content": f"We will write to {victim_email} soon. You can relax.",
                "cited_facts": [invented],
            },
        ]

    with ScriptedOpenAIServer(items=unsafe_items) as server, _openai_env(server):
        run_groups("recommend")
    rows = query(
        warehouse,
        "select user_id, title, guardrail_status, guardrail_findings from recs.recommendations"
        " where content_type = 'education'",
    )
    assert rows and all(status == "block" for _, _, status, _ in rows)
    checks = {
        (user_id, title): {f["check"] for f in json.loads(findings) if f["severity"] == "critical"}
        for user_id, title, _, findings in rows
    }
    for (user_id, title), critical in checks.items():
        expected = {"Spending": {"tone"}, "Markets": {"regulated_advice"}, "Contact": {"grounding"}}[title]
        if title == "Contact" and user_id == victim_id:
            expected = expected | {"pii"}
        assert expected <= critical, (user_id, title, critical)
        if title == "Contact" and user_id != victim_id:
            assert "pii" not in critical


def test_exports_to_s3_match_the_tables_and_the_report_has_presigned_urls(
    workspace: Path, s3_endpoint: str, aws_test_env
):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="analytics")
    warehouse = _warehouse(workspace)
    with environment(SPENDSENSE_EXPORT_URI="s3://analytics/spendsense", AWS_ENDPOINT_URL=s3_endpoint):
        run_groups("review", "evaluate")
    prefix = f"spendsense/as_of={HANDMADE_AS_OF}/"
    # per-user files hold consenting customers only (no consent log in this workspace)
    consenting = "user_id in (select user_id from raw.users where consent_status)"
    features = f"select count(*) from marts.user_features where {consenting} and window_days = "
    tables = {
        "user_features_30d": f"{features} 30",
        "user_features_180d": f"{features} 180",
        "user_personas": f"select count(*) from marts.user_personas where {consenting}",
        "persona_history": f"select count(*) from marts.persona_history where {consenting}"
        f" and as_of_date = '{HANDMADE_AS_OF}'",
        **{name: f"select count(*) from marts.{name} where {consenting}" for name in ANALYTICS_MARTS},
        "recommendations": "select count(*) from recs.recommendations",
        "approved_recommendations": "select count(*) from review.approved_recommendations",
        "evaluation_metrics": "select count(*) from eval.evaluation_metrics",
    }
    for name, sql in tables.items():
        body = s3.get_object(Bucket="analytics", Key=f"{prefix}{name}.parquet")["Body"].read()
        assert pq.read_table(io.BytesIO(body)).num_rows == query(warehouse, sql)[0][0], name
    report = json.loads(
        s3.get_object(Bucket="analytics", Key=f"{prefix}evaluation_report.json")["Body"].read()
    )
    urls = {f["name"]: f["presigned_url"] for f in report["exports"]}
    assert set(urls) == set(tables)
    with urllib.request.urlopen(urls["user_personas"], timeout=10) as response:
        assert (
            pq.read_table(io.BytesIO(response.read())).num_rows
            == query(warehouse, tables["user_personas"])[0][0]
        )
    assert "X-Amz-Expires=604800" in urls["user_personas"]


def test_the_report_holds_metrics_computed_from_the_data(basic_workspace: Path):
    report = json.loads((basic_workspace / "warehouse" / "evaluation_report.json").read_text())
    warehouse = _warehouse(basic_workspace)
    covered, consented = query(
        warehouse,
        """
        select count(*) filter (p.persona != 'general_wellness' and f.detected_behaviors >= 3), count(*)
        from raw.users u
        join marts.user_features f on f.user_id = u.user_id and f.window_days = 30
        join marts.user_personas p on p.user_id = u.user_id and p.window_days = 30
        where u.user_type = 'customer' and u.consent_status
        """,
    )[0]
    assert report["coverage_30d"] == pytest.approx(covered / consented)
    items = query(warehouse, "select count(*) from recs.recommendations")[0][0]
    assert report["recommendations"] == items
    for metric in (
        "explainability",
        "auditability",
        "latency_mean_ms",
        "latency_p95_ms",
        "guardrail_pass",
        "approval_pending",
        "llm_calls",
        "cache_hits",
        "cost_usd",
        "persona_distribution",
        "fairness",
    ):
        assert metric in report, metric
