"""`spendsense review`, `consent` and `explain` as an operator types them, on a materialized workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.pipeline_runs import query, run_groups

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SPENDSENSE, *args], env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False
    )


def _warehouse(root: Path) -> Path:
    return root / "warehouse" / "spendsense.duckdb"


def _item(root: Path, where: str) -> str:
    return query(_warehouse(root), f"select min(recommendation_id) from recs.recommendations where {where}")[
        0
    ][0]


@pytest.mark.parametrize("content_type", ["education", "partner_offer"])
def test_explain_prints_the_decision_trace(workspace: Path, content_type: str):
    rec_id = _item(workspace, f"content_type = '{content_type}'")
    result = _cli("explain", rec_id)
    assert result.returncode == 0, result.stderr
    trace = json.loads(result.stdout)
    assert trace["item"]["content_type"] == content_type
    assert trace["features_used"] and all(
        fact["value"] == pytest.approx(fact["feature_value_now"], abs=0.01) for fact in trace["features_used"]
    )
    assert trace["persona"]["reasoning"] is not None
    assert trace["generation"]["prompt_version"] and trace["generation"]["model"]
    assert isinstance(trace["guardrails"]["findings"], list)


def test_invalid_decisions_are_refused_and_nothing_is_written(workspace: Path):
    log = workspace / "review" / "decision_log.jsonl"
    item = _item(workspace, "guardrail_status != 'block'")
    customer = query(
        _warehouse(workspace), "select min(user_id) from raw.users where user_type = 'customer'"
    )[0][0]
    refusals = [
        (["review", "approve", "no-such-id", "--operator", "op1"], "unknown recommendation id"),
        (["review", "approve", item, "--operator", customer], "not an operator"),
        (["review", "approve", item, "--operator", "nobody"], "nobody"),
        (["review", "reject", item, "--operator", "op1"], "reason"),
        (["review", "override", item, "--reason", "tone", "--operator", "op1"], "new"),
        (["consent", "revoke", "op1"], "not a customer"),
    ]
    for args, message in refusals:
        result = _cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert not log.exists() or log.read_text() == ""


def test_a_blocked_item_needs_an_override(workspace: Path):
    warehouse = _warehouse(workspace)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update recs.recommendations set guardrail_status = 'block' where recommendation_id = (select"
            " min(recommendation_id) from recs.recommendations)"
        )
    blocked = _item(workspace, "guardrail_status = 'block'")
    refused = _cli("review", "approve", blocked, "--operator", "op1")
    assert refused.returncode == 2 and "block" in refused.stderr
    accepted = _cli(
        "review",
        "override",
        blocked,
        "--title",
        "Safer title",
        "--content",
        "Safer text you can use.",
        "--reason",
        "rewrote the flagged sentence",
        "--operator",
        "op1",
    )
    assert accepted.returncode == 0, accepted.stderr
    logged = [
        json.loads(line) for line in (workspace / "review" / "decision_log.jsonl").read_text().splitlines()
    ]
    assert [(d["action"], d["recommendation_id"], d["new_title"]) for d in logged] == [
        ("override", blocked, "Safer title")
    ]
    assert logged[0]["previous_title"]


def test_a_torn_log_never_stops_the_cli_or_the_publish_job(workspace: Path):
    log = workspace / "review" / "decision_log.jsonl"
    first, second = [
        row[0]
        for row in query(
            _warehouse(workspace),
            "select recommendation_id from recs.recommendations where guardrail_status != 'block'"
            " order by recommendation_id limit 2",
        )
    ]
    assert _cli("review", "approve", first, "--operator", "op1").returncode == 0
    with log.open("ab") as handle:  # a crash mid-write: a torn last line, no final newline
        handle.write(b'{"decision_id": "torn", "operator_id": "op1", "act')

    found = _cli("review", "verify-log")
    assert found.returncode == 1
    assert "line 2: not a JSON object" in found.stdout and "no final newline" in found.stdout

    approved = _cli("review", "approve", second, "--operator", "op1")
    assert approved.returncode == 0, approved.stderr
    assert "decision_log.jsonl:2: not a JSON object" in approved.stderr  # the warning names file and line
    lines = log.read_text().split("\n")
    assert [json.loads(line)["recommendation_id"] for line in lines if line.strip()] == [first, second]

    run_groups("review", "evaluate")  # the publish job reads the same log
    published = {
        r
        for (r,) in query(
            _warehouse(workspace), "select recommendation_id from review.approved_recommendations"
        )
    }
    assert published == {first, second}

    after = _cli("review", "verify-log")
    assert after.returncode == 1  # the set-aside line waits for an operator
    assert "1 bad line(s) set aside earlier" in after.stdout and "line 2: not a JSON object" in after.stdout
    assert "2 valid decision(s)" in after.stdout
