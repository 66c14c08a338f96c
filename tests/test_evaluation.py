"""Evaluation metrics computed from a hand-made warehouse whose expected values are worked out below."""

from __future__ import annotations

import json

import pytest

from spendsense_dagster.lib.evaluate.exports import ANALYTICS_MARTS, open_store
from spendsense_dagster.lib.evaluate.metrics import METRIC_COLUMNS, compute_metrics, replace_metrics_row
from spendsense_dagster.lib.evaluate.publish import publish_evaluation, publish_per_user_exports
from spendsense_dagster.lib.evaluate.report import metrics_markdown
from spendsense_dagster.lib.review.actions import approve, override, reject
from spendsense_dagster.lib.review.decision_log import append_decisions, new_decision
from spendsense_dagster.lib.review.queue import build_approved_recommendations


def _group(metrics: dict, dimension: str, name: str) -> dict:
    return next(group for group in metrics["fairness"]["groups"][dimension] if group["group"] == name)


def test_metrics_of_the_hand_made_warehouse(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu"], "op1")
    reject(warehouse, review_dir, "rec-c1-offer", "not now", "op1")
    override(
        warehouse, review_dir, "rec-c2-block", "Review your 4 subscriptions", "You have 4.", "fixed", "op1"
    )

    metrics = compute_metrics(warehouse, "run-1", review_dir)

    # consenting customers c1, c2, c4; c1 and c2 have a target persona and >= 3 behaviours in 30 d,
    # only c1 in 180 d (c2 is general_wellness there, c4 has 2 behaviours)
    assert (metrics["customers"], metrics["consented_customers"]) == (4, 3)
    assert metrics["coverage_30d"] == pytest.approx(2 / 3)
    assert metrics["coverage_180d"] == pytest.approx(1 / 3)
    # rec-c2-block has a grounding finding and no number in its rationale
    assert (metrics["recommendations"], metrics["explainability"]) == (4, 0.75)
    assert (metrics["guardrail_pass"], metrics["guardrail_warn"], metrics["guardrail_block"]) == (2, 1, 1)
    approvals = ("approval_pending", "approval_approved", "approval_rejected", "approval_overridden")
    assert [metrics[key] for key in approvals] == [1, 1, 1, 1]
    assert metrics["auditability"] == 1.0
    # per-user latency: c1 120 + 0 (cache hit), c2 480, c4 0 (failed)
    assert metrics["latency_mean_ms"] == pytest.approx(200.0)
    assert metrics["latency_p95_ms"] == pytest.approx(120 + 0.9 * 360)
    assert (metrics["generations"], metrics["llm_calls"], metrics["cache_hits"]) == (4, 3, 1)
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (3000, 900)
    assert metrics["cost_usd"] == pytest.approx(0.00099)
    assert metrics["generation_failures"] == 1
    assert metrics["persona_distribution"]["30"] == {
        "wealth_builder": 0,
        "high_utilization": 1,
        "savings_builder": 1,
        "variable_income": 0,
        "subscription_heavy": 1,
        "general_wellness": 1,
    }
    assert metrics["persona_distribution"]["180"]["variable_income"] == 1
    assert metrics["notes"] == []


def test_fairness_breakdowns_flag_groups_far_from_the_whole(warehouse, review_dir):
    metrics = compute_metrics(warehouse, "run-1", review_dir)
    fairness = metrics["fairness"]

    overall = fairness["overall"]
    assert overall["persona_mix"]["high_utilization"] == 0.25
    assert overall["recommendations_per_user"] == pytest.approx(4 / 3)  # c1 2, c2 2, c4 0
    assert overall["partner_offer_access"] == pytest.approx(1 / 3)
    # income quintiles by 180-day income: c4 1000, c2 3000, c1 6000, c3 9000
    assert [g["group"] for g in fairness["groups"]["income_quintile"]] == ["Q1", "Q2", "Q3", "Q4"]
    assert _group(metrics, "income_quintile", "Q3")["persona_mix"]["high_utilization"] == 1.0
    young = _group(metrics, "age_band", "25-34")  # c1 (consents) and c3 (does not)
    assert (young["customers"], young["consenting_customers"]) == (2, 1)
    # parity where it is meaningful: offers, block rate (c2's blocked item: 1 of 4) and items per user;
    # the persona mix (high_utilization 50 % here, 25 % overall) is reported, never flagged
    assert young["persona_mix"]["high_utilization"] == 0.5
    assert sorted(young["flags"]) == [
        "guardrail block rate -25.0 pts",
        "partner-offer access +66.7 pts",
        "recommendations per user +50.0 %",
    ]
    # every group with a consenting customer is far from the whole in this tiny warehouse; Q4 has none
    assert metrics["fairness_flags"] == 8 and metrics["fairness_within_threshold"] is False

    warehouse.execute("update raw.users set region = 'north'")
    same_region = compute_metrics(warehouse, "run-2", review_dir)
    assert _group(same_region, "region", "north")["flags"] == []  # the group is the whole


def test_auditability_counts_missing_traces(warehouse, review_dir):
    warehouse.execute("update recs.recommendations set model = null where recommendation_id = 'rec-c1-edu'")
    approve(warehouse, review_dir, ["rec-c2-warn"], "op1")  # a proper decision keeps the trace
    forged = new_decision(
        operator_id="ghost", action="approve", recommendation_id="rec-c1-offer", user_id="c1", source="cli"
    )
    append_decisions(review_dir, [forged])  # written around the validation: not a raw.users operator

    assert compute_metrics(warehouse, "run-1", review_dir)["auditability"] == 0.5


def test_empty_tables_give_nulls_and_notes_not_errors(warehouse, review_dir):
    for table in ("recs.recommendations", "recs.llm_calls", "recs.generation_failures"):
        warehouse.execute(f"delete from {table}")
    warehouse.execute("update raw.users set consent_status = false")

    metrics = compute_metrics(warehouse, "run-empty", review_dir)

    assert [
        metrics[key] for key in ("coverage_30d", "explainability", "auditability", "latency_mean_ms")
    ] == [None] * 4
    assert (metrics["recommendations"], metrics["llm_calls"], metrics["cost_usd"]) == (0, 0, 0.0)
    assert len(metrics["notes"]) == 3
    assert metrics["fairness"]["overall"]["recommendations_per_user"] is None
    replace_metrics_row(warehouse, metrics)  # nulls fit the table
    assert "| explainability | n/a |" in metrics_markdown(metrics)


def test_runs_append_history_and_the_report_holds_breakdowns_and_exports(warehouse, review_dir, tmp_path):
    report = tmp_path / "evaluation_report.json"
    store = open_store(str(tmp_path / "exports"))

    def publish(run_id: str) -> dict:
        build_approved_recommendations(warehouse, review_dir)
        publish_per_user_exports(warehouse, store, "2025-06-30", review_dir)
        return publish_evaluation(
            warehouse, store, compute_metrics(warehouse, run_id, review_dir), review_dir, report
        )

    publish("run-1")
    warehouse.execute("delete from recs.recommendations where recommendation_id = 'rec-c2-block'")
    publish("run-2")
    written = publish("run-2")  # a re-run replaces its own row

    rows = warehouse.execute(
        "select run_id, as_of_date::varchar, recommendations, explainability"
        " from eval.evaluation_metrics order by run_id"
    ).fetchall()
    assert rows == [("run-1", "2025-06-30", 4, 0.75), ("run-2", "2025-06-30", 3, 1.0)]
    columns = [row[0] for row in warehouse.execute("describe eval.evaluation_metrics").fetchall()]
    assert columns == list(METRIC_COLUMNS)

    assert json.loads(report.read_text()) == json.loads(json.dumps(written, default=str))
    published = tmp_path / "exports" / "as_of=2025-06-30"
    assert json.loads((published / "evaluation_report.json").read_text()) == json.loads(report.read_text())
    assert written["run_id"] == "run-2" and written["fairness"]["groups"]["region"]
    exported = {f["name"]: f["rows"] for f in written["exports"]}
    assert exported == {
        "user_features_30d": 3,  # c1, c2, c4 consent; c3 does not
        "user_features_180d": 3,
        "user_personas": 6,
        "persona_history": 6,  # the as-of date's rows of the same consenting customers
        **{name: 1 for name in ANALYTICS_MARTS},  # the hand-made warehouse's one consenting row each
        "recommendations": 3,
        "approved_recommendations": 0,
        "evaluation_metrics": 2,
    }
    manifest = json.loads((published / "_manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == list(exported)
    assert written["purge"] == {
        "partitions": 1, "files_checked": 0, "files_rewritten": 0, "rows_removed": 0, "users_removed": 0
    }  # fmt: skip
    summary = metrics_markdown(written)
    assert "| coverage_30d | 66.7% |" in summary and "Fairness flags" in summary
