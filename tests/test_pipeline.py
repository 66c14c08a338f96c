"""The whole graph materialized in-process on hand-made data: features, personas, items, review, exports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from spendsense_dagster.lib.recommend.models import DISCLAIMER
from spendsense_dagster.lib.review import actions as review_actions
from spendsense_dagster.lib.review.consent_log import revoke_consent
from tests.pipeline_runs import HANDMADE_AS_OF, query, run_groups, run_pipeline

FEATURE_TABLES = ("marts.user_features", "marts.user_personas")


def _warehouse(root: Path) -> Path:
    return root / "warehouse" / "spendsense.duckdb"


def _table(root: Path, table: str, where: str = "true") -> list[tuple]:
    return query(_warehouse(root), f"select * from {table} where {where} order by all")


def _operator(root: Path) -> str:
    return query(_warehouse(root), "select min(user_id) from raw.users where user_type = 'operator'")[0][0]


def test_two_feature_and_persona_rows_per_customer_none_for_operators(basic_workspace: Path):
    warehouse = _warehouse(basic_workspace)
    customers = {u for (u,) in query(warehouse, "select user_id from raw.users where user_type = 'customer'")}
    operators = {u for (u,) in query(warehouse, "select user_id from raw.users where user_type = 'operator'")}
    assert customers and operators
    for table in FEATURE_TABLES:
        rows = query(
            warehouse, f"select user_id, list(window_days order by window_days) from {table} group by 1"
        )
        assert {user_id: windows for user_id, windows in rows} == {u: [30, 180] for u in customers}


def test_items_only_for_consenting_customers_with_disclaimer_and_grounded_rationale(basic_workspace: Path):
    warehouse = _warehouse(basic_workspace)
    consenting = {
        u
        for (u,) in query(
            warehouse, "select user_id from raw.users where user_type = 'customer' and consent_status"
        )
    }
    per_user = dict(query(warehouse, "select user_id, count(*) from recs.recommendations group by 1"))
    assert set(per_user) == consenting
    assert all(3 <= n <= 5 for n in per_user.values()), per_user
    items = query(
        warehouse,
        "select generator, content_type, disclaimer, rationale, guardrail_status, guardrail_findings"
        " from recs.recommendations",
    )
    assert {generator for generator, content_type, *_ in items if content_type == "education"} == {"template"}
    for _, _, disclaimer, rationale, status, findings in items:
        assert DISCLAIMER in disclaimer
        assert re.search(r"\d", rationale)
        assert status in ("pass", "warn", "block")
        assert isinstance(json.loads(findings), list)


def test_rebuilding_the_warehouse_gives_the_same_results_and_keeps_decisions(workspace: Path):
    before = {table: _table(workspace, table) for table in FEATURE_TABLES}
    ids_before = _table(workspace, "recs.recommendations")
    approve_id, reject_id, override_id = [
        row[0]
        for row in query(
            _warehouse(workspace),
            "select recommendation_id from recs.recommendations where guardrail_status != 'block'"
            " order by recommendation_id limit 3",
        )
    ]
    operator = _operator(workspace)
    with duckdb.connect(str(_warehouse(workspace)), read_only=True) as con:
        review_actions.approve(con, workspace / "review", [approve_id], operator)
        review_actions.reject(con, workspace / "review", reject_id, "not relevant", operator)
        review_actions.override(
            con,
            workspace / "review",
            override_id,
            "Clearer title",
            "Rewritten text you can use.",
            "tone",
            operator,
        )
    run_groups("review", "evaluate")
    approved = dict(
        query(_warehouse(workspace), "select recommendation_id, title from review.approved_recommendations")
    )
    assert set(approved) == {approve_id, override_id}
    assert approved[override_id] == "Clearer title"

    shutil.rmtree(workspace / "warehouse")
    run_pipeline()
    assert {table: _table(workspace, table) for table in FEATURE_TABLES} == before
    ids_after = _table(workspace, "recs.recommendations")
    assert [row[0] for row in ids_after] == [row[0] for row in ids_before]
    approved_after = dict(
        query(_warehouse(workspace), "select recommendation_id, title from review.approved_recommendations")
    )
    assert approved_after == approved
    pending = {
        r for (r,) in query(_warehouse(workspace), "select recommendation_id from review.approval_queue")
    }
    assert not pending & {approve_id, reject_id, override_id}


def test_revoked_consent_withdraws_approved_items_from_table_and_export(workspace: Path):
    warehouse = _warehouse(workspace)
    (user_id,) = query(warehouse, "select min(user_id) from recs.recommendations")[0]
    ids = [
        r
        for (r,) in query(
            warehouse,
            "select recommendation_id from recs.recommendations"
            " where user_id = ? and guardrail_status != 'block'",
            [user_id],
        )
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        review_actions.approve(con, workspace / "review", ids, _operator(workspace))
    run_groups("review", "evaluate")
    export = workspace / "exports" / f"as_of={HANDMADE_AS_OF}" / "approved_recommendations.parquet"
    assert user_id in pq.read_table(export).column("user_id").to_pylist()

    with duckdb.connect(str(warehouse), read_only=True) as con:
        revoke_consent(con, workspace / "review", user_id)
    run_groups("review", "evaluate")
    assert not query(warehouse, "select * from review.approved_recommendations where user_id = ?", [user_id])
    assert user_id not in pq.read_table(export).column("user_id").to_pylist()
    report = json.loads(
        (workspace / "exports" / f"as_of={HANDMADE_AS_OF}" / "evaluation_report.json").read_text()
    )
    exported = {f["name"]: f["rows"] for f in report["exports"]}
    assert (
        exported["approved_recommendations"]
        == query(warehouse, "select count(*) from review.approved_recommendations")[0][0]
    )
