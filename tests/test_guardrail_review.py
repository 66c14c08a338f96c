"""Guardrails on the operator's side (docs/guardrails.md, "Overrides" and "CSV files"): override text
through the CLI and the CSV import, and spreadsheet-safe approval-queue cells."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spendsense_dagster.cli import main
from spendsense_dagster.lib.review.actions import DecisionError, override
from spendsense_dagster.lib.review.decision_log import read_decisions
from spendsense_dagster.lib.review.queue import (
    DECISION_COLUMNS,
    ITEM_COLUMNS,
    build_approval_queue,
    import_csv_decisions,
    read_decision_rows,
)
from tests.pipeline_runs import query
from tests.review_warehouse import add_recommendation

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SPENDSENSE, *args], env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False
    )


def _override_args(item: str, content: str, title: str = "A calmer plan") -> list[str]:
    return ["review", "override", item, "--title", title, "--content", content, "--reason", "rewrite",
            "--operator", "op1"]  # fmt: skip


@pytest.fixture
def education_item(workspace: Path) -> tuple[str, str, str]:
    """(recommendation id, the customer's full name, email) of an education item in the workspace."""
    warehouse = workspace / "warehouse" / "spendsense.duckdb"
    return query(
        warehouse,
        "select r.recommendation_id, u.full_name, u.email from recs.recommendations r"
        " join raw.users u using (user_id) where r.content_type = 'education' order by 1 limit 1",
    )[0]


def test_overrides_with_pii_or_a_ticker_tip_are_refused_and_nothing_is_logged(
    workspace, education_item, capsys
):
    item, full_name, email = education_item
    first, last = full_name.split()[0], full_name.split()[-1]
    refusals = {
        f"You can plan ahead, {full_name}.": "pii",
        f"You can plan ahead, {last.upper()}, {first}.": "pii",
        f"You can write to {email.replace('@', ' at ').replace('.', ' dot ')}.": "pii",
        "You can buy $TSLA now, guaranteed returns.": "regulated_advice",
        "Consider buying Nvidia before earnings.": "regulated_advice",
        "You can read more <img src=x onerror=alert(1)>": "markup",
        "You can save $29,117 a month.": "grounding",
    }
    # once as an operator types it (its own process), then in-process through the same main()
    typed = _cli(*_override_args(item, next(iter(refusals))))
    assert typed.returncode == 2 and "refused by guardrails" in typed.stderr, typed.stderr
    for content, check in refusals.items():
        assert main(_override_args(item, content)) == 2, content
        stderr = capsys.readouterr().err
        assert "refused by guardrails" in stderr and f"{check}:" in stderr, stderr
        assert full_name.lower() not in stderr.lower() and email not in stderr
    assert main(_override_args(item, "A calm plan", title=f"For {full_name}")) == 2  # the title counts too
    log = workspace / "review" / "decision_log.jsonl"
    assert not log.exists() or log.read_text() == ""


def test_an_override_with_notable_findings_is_recorded_with_them(workspace, education_item, capsys):
    item, _, _ = education_item
    assert main(_override_args(item, "Utilization is the balance divided by the limit.")) == 0

    assert "note:" in capsys.readouterr().out
    [logged] = read_decisions(workspace / "review")
    findings = json.loads(logged.guardrail_findings)
    assert [(f["check"], f["severity"]) for f in findings] == [("tone", "notable")]


def test_a_clean_override_is_recorded_without_findings(warehouse, review_dir):
    outcome = override(warehouse, review_dir, "rec-c1-edu", "Paying down a card",
                       "You can pay a little extra each month.", "tone", "op1")  # fmt: skip
    assert [decision.guardrail_findings for decision in outcome.written] == [None]
    with pytest.raises(DecisionError, match="refused by guardrails: pii"):
        override(warehouse, review_dir, "rec-c1-edu", "Plan", "Cara One, you can plan.", "x", "op1")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_overrides_get_the_same_checks(warehouse, review_dir):
    queue = build_approval_queue(warehouse, review_dir)
    rows = _rows(queue.csv_path)
    for row in rows:
        if row["recommendation_id"] == "rec-c2-block":
            row.update(decision="override", operator_id="op1", reason="rewrite", new_title="Subscriptions",
                       new_content="Cy Two, buy $TSLA: write to c2 at example dot com.")  # fmt: skip
    with open(queue.csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*ITEM_COLUMNS, *DECISION_COLUMNS])
        writer.writeheader()
        writer.writerows(rows)

    imported = import_csv_decisions(warehouse, queue.csv_path, review_dir)

    assert imported.recorded == []
    [error] = imported.errors
    assert "refused by guardrails" in error and "pii:" in error and "regulated_advice:" in error
    assert "Cy Two" not in error and read_decisions(review_dir) == []


def test_formula_cells_are_quoted_in_the_queue_csv_and_restored_on_import(warehouse, review_dir):
    formula_title = '=HYPERLINK("http://evil.example","open")'
    add_recommendation(warehouse, "rec-formula", "=cmd|' /C calc'!A0", title=formula_title,
                       content="-2+3 You can plan.", rationale="@SUM(A1) Because of 4 things.")  # fmt: skip
    queue = build_approval_queue(warehouse, review_dir)

    raw = _rows(queue.csv_path)
    written = next(row for row in raw if row["recommendation_id"] == "rec-formula")
    assert written["user_id"] == "'=cmd|' /C calc'!A0"
    assert written["title"] == "'" + formula_title
    assert written["content"].startswith("'-2+3") and written["rationale"].startswith("'@SUM")
    assert not any(value[:1] in "=+-@" for row in raw for value in row.values() if value)

    written.update(decision="reject", operator_id="op1", reason="=looks odd")
    with open(queue.csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*ITEM_COLUMNS, *DECISION_COLUMNS])
        writer.writeheader()
        writer.writerows(raw)
    [(_, row)] = read_decision_rows(queue.csv_path)
    assert (row["user_id"], row["title"], row["reason"]) == (
        "=cmd|' /C calc'!A0",
        formula_title,
        "=looks odd",
    )

    imported = import_csv_decisions(warehouse, queue.csv_path, review_dir)
    assert [(d.recommendation_id, d.user_id, d.reason) for d in imported.recorded] == [
        ("rec-formula", "=cmd|' /C calc'!A0", "=looks odd")
    ]
