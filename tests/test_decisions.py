"""The decision log (append, lock, read, latest, DuckDB copy) and review_actions validation."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import duckdb
import pytest

from spendsense_dagster.lib.review.actions import DecisionError, approve, bulk_approve, override, reject
from spendsense_dagster.lib.review.decision_log import (
    DECISION_FIELDS,
    append_decisions,
    decision_log_path,
    decision_problem,
    latest_decisions,
    load_decisions,
    new_decision,
    read_decisions,
)
from spendsense_dagster.lib.review.jsonl_log import append_jsonl, read_jsonl, rejected_path, scan_jsonl
from tests.review_warehouse import make_review_warehouse


def _decision(action: str, recommendation_id: str = "rec-1", **extra):
    return new_decision(
        operator_id="op1",
        action=action,
        recommendation_id=recommendation_id,
        user_id="c1",
        source="cli",
        **extra,
    )


def test_log_keeps_every_decision_and_the_latest_one_wins(review_dir):
    append_decisions(review_dir, [_decision("approve"), _decision("approve", "rec-2")])
    append_decisions(review_dir, [_decision("reject", reason="changed my mind")])

    logged = read_decisions(review_dir)
    assert [(d.recommendation_id, d.action) for d in logged] == [
        ("rec-1", "approve"),
        ("rec-2", "approve"),
        ("rec-1", "reject"),
    ]
    assert {rec: d.action for rec, d in latest_decisions(review_dir).items()} == {
        "rec-1": "reject",
        "rec-2": "approve",
    }
    first_line = json.loads(decision_log_path(review_dir).read_text().splitlines()[0])
    assert tuple(first_line) == DECISION_FIELDS and first_line["decided_at"].endswith("Z")


def _append_many(path: str, writer: int, count: int) -> None:
    for index in range(count):
        append_jsonl(Path(path), [{"writer": writer, "index": index, "padding": "x" * 20_000}])


def test_concurrent_writers_never_interleave_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(str(path), writer, 100)) for writer in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=60)
        assert process.exitcode == 0

    scan = scan_jsonl(path)
    assert scan.bad_lines == []  # no torn or interleaved line
    records = scan.records
    assert len(records) == 400
    for writer in range(4):
        assert [r["index"] for r in records if r["writer"] == writer] == list(range(100))


def test_a_torn_last_line_is_set_aside_and_the_next_decision_lands_on_its_own_line(review_dir, caplog):
    append_decisions(review_dir, [_decision("approve"), _decision("approve", "rec-2")])
    log = decision_log_path(review_dir)
    with log.open("ab") as handle:
        handle.write(b'{"decision_id": "torn", "decided_at": "2025-07-01T09:')  # a crash mid-write
    append_decisions(review_dir, [_decision("reject", reason="second look")])

    lines = log.read_text().split("\n")
    assert json.loads(lines[3])["action"] == "reject"  # its own line, after the torn one
    with caplog.at_level("WARNING"):
        decisions = read_decisions(review_dir)
    assert [(d.recommendation_id, d.action) for d in decisions] == [
        ("rec-1", "approve"),
        ("rec-2", "approve"),
        ("rec-1", "reject"),
    ]
    assert f"{log}:3: not a JSON object" in caplog.text and "moved to" in caplog.text
    (moved,) = read_jsonl(rejected_path(log))
    assert (moved["line"], moved["text"]) == (3, '{"decision_id": "torn", "decided_at": "2025-07-01T09:')
    assert log.read_text().split("\n")[2].strip() == ""  # blanked in place: line numbers stay

    caplog.clear()
    assert read_decisions(review_dir) == decisions  # set aside once: no second warning, no second copy
    assert "moved to" not in caplog.text and len(read_jsonl(rejected_path(log))) == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"\xff\xfe not text", "not UTF-8 text"),
        (b'["an", "array"]', "not a JSON object"),
        (b'{"operator_id": "op1", "action": "approve"}', "not a decision: recommendation_id missing"),
        (b'{"operator_id": "op1", "action": "delete", "recommendation_id": "r"}', "unknown action 'delete'"),
        (
            b'{"operator_id": "op1", "action": "approve", "recommendation_id": "r", "decided_at": "soon"}',
            "decided_at 'soon' is not an ISO 8601 timestamp",
        ),
        (
            b'{"operator_id": "op1", "action": "approve", "recommendation_id": 7, "decided_at": "2025"}',
            "recommendation_id not text",
        ),
    ],
)
def test_an_invalid_line_never_hides_the_valid_ones(review_dir, line, problem):
    append_decisions(review_dir, [_decision("approve")])
    with decision_log_path(review_dir).open("ab") as handle:
        handle.write(line + b"\n")
    append_decisions(review_dir, [_decision("approve", "rec-2")])

    before = scan_jsonl(decision_log_path(review_dir), decision_problem)
    assert [(bad.line_number, problem in bad.problem) for bad in before.bad_lines] == [(2, True)]
    assert [d.recommendation_id for d in read_decisions(review_dir)] == ["rec-1", "rec-2"]
    assert scan_jsonl(decision_log_path(review_dir), decision_problem).bad_lines == []


def test_review_decisions_table_from_missing_empty_and_filled_log(tmp_path, review_dir):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert load_decisions(con, review_dir, "review.decisions", temp=False) == 0  # no file yet
    review_dir.mkdir()
    decision_log_path(review_dir).touch()
    assert load_decisions(con, review_dir, "review.decisions", temp=False) == 0  # empty file

    append_decisions(review_dir, [_decision("approve"), _decision("reject", reason="no")])
    assert load_decisions(con, review_dir, "review.decisions", temp=False) == 2
    types = {row[0]: row[1] for row in con.execute("describe review.decisions").fetchall()}
    assert list(types) == [*DECISION_FIELDS, "log_position"]
    assert (types["decided_at"], types["log_position"]) == ("TIMESTAMP", "BIGINT")
    assert con.execute("select action from review.decisions order by log_position").fetchall() == [
        ("approve",),
        ("reject",),
    ]
    con.close()


def test_approve_records_each_item_for_the_operator(warehouse, review_dir):
    outcome = approve(warehouse, review_dir, ["rec-c1-edu", "rec-c1-offer", "rec-c1-edu"], "op1")

    assert [d.recommendation_id for d in outcome.written] == ["rec-c1-edu", "rec-c1-offer"]
    logged = read_decisions(review_dir)
    assert [(d.action, d.operator_id, d.user_id, d.source) for d in logged] == [
        ("approve", "op1", "c1", "cli")
    ] * 2


@pytest.mark.parametrize(
    ("make_call", "message"),
    [
        (lambda con, rd: approve(con, rd, ["nope"], "op1"), "unknown recommendation id 'nope'"),
        (lambda con, rd: approve(con, rd, ["rec-c1-edu"], "c1"), "'c1' is a customer, not an operator"),
        (lambda con, rd: approve(con, rd, ["rec-c1-edu"], "ghost"), "unknown operator 'ghost'"),
        (lambda con, rd: approve(con, rd, [], "op1"), "no recommendation ids given"),
        (lambda con, rd: reject(con, rd, "rec-c1-edu", "  ", "op1"), "reject of rec-c1-edu needs a reason"),
        (lambda con, rd: override(con, rd, "rec-c1-edu", "T", "C", None, "op1"), "needs a reason"),
        (
            lambda con, rd: override(con, rd, "rec-c1-edu", "T", "", "why", "op1"),
            "both a new title and new content",
        ),
        (lambda con, rd: approve(con, rd, ["rec-c2-block"], "op1"), "rec-c2-block is blocked by guardrails"),
        (lambda con, rd: approve(con, rd, ["rec-c1-edu", "nope"], "op1"), "unknown recommendation id 'nope'"),
        (lambda con, rd: bulk_approve(con, rd, "op1"), "either --clean or a list"),
        (lambda con, rd: bulk_approve(con, rd, "op1", clean=True, recommendation_ids=["x"]), "not both"),
    ],
)
def test_refused_decisions_write_nothing(warehouse, review_dir, make_call, message):
    with pytest.raises(DecisionError, match=message):
        make_call(warehouse, review_dir)
    assert not decision_log_path(review_dir).exists()


def test_repeating_a_decision_is_harmless_and_a_change_of_mind_is_kept(warehouse, review_dir):
    approve(warehouse, review_dir, ["rec-c1-edu"], "op1")
    repeat = approve(warehouse, review_dir, ["rec-c1-edu"], "op1")
    assert (repeat.written, len(repeat.unchanged)) == ([], 1)

    reject(warehouse, review_dir, "rec-c1-edu", "tone", "op1")
    approve(warehouse, review_dir, ["rec-c1-edu"], "op1")  # back again: not a repeat of the decision in force

    assert [d.action for d in read_decisions(review_dir)] == ["approve", "reject", "approve"]
    assert latest_decisions(review_dir)["rec-c1-edu"].action == "approve"


def test_override_keeps_the_original_text_and_unblocks_an_item(warehouse, review_dir):
    outcome = override(
        warehouse,
        review_dir,
        "rec-c2-block",
        "Review your 4 subscriptions",
        "You have 4.",
        "count fixed",
        "op1",
    )

    (logged,) = read_decisions(review_dir)
    assert outcome.written == [logged]
    assert (logged.previous_title, logged.new_title, logged.new_content, logged.reason) == (
        "Cut your 9 subscriptions",
        "Review your 4 subscriptions",
        "You have 4.",
        "count fixed",
    )
    assert logged.previous_content == "Paying more than the minimum lowers interest."


def test_bulk_approve_clean_takes_pending_pass_items_only(warehouse, review_dir):
    reject(warehouse, review_dir, "rec-c1-edu", "tone", "op1")

    outcome = bulk_approve(warehouse, review_dir, "op1", clean=True)

    assert [d.recommendation_id for d in outcome.written] == ["rec-c1-offer"]  # warn and block stay pending
    assert bulk_approve(warehouse, review_dir, "op1", clean=True).written == []
    with pytest.raises(DecisionError, match="'c1' is a customer"):
        bulk_approve(warehouse, review_dir, "c1", clean=True)  # nothing pending, operator still checked


def test_decisions_work_on_a_read_only_warehouse(tmp_path, review_dir):
    make_review_warehouse(tmp_path / "w.duckdb").close()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert len(bulk_approve(con, review_dir, "op1", clean=True).written) == 2
