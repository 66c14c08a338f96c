"""Operator decisions: validation and recording, the one path shared by the CLI and the CSV import.

A decision names one recommendation_id, and ids hash the content, so a decision applies to exactly
the text reviewed; regenerated content is a new, pending item (docs/review.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from spendsense_dagster.lib.recommend.override_check import OverrideText, override_findings
from spendsense_dagster.lib.review.decision_log import (
    ACTIONS,
    DECISIONS_TEMP_TABLE,
    Decision,
    append_decisions,
    load_decisions,
    new_decision,
    read_decisions,
)

PENDING_TABLE = "pending_recommendations"
# What validation and the log need of the reviewed item (the override guardrails: user, window,
# product and rationale).
_ITEM_FIELDS = (
    "recommendation_id",
    "user_id",
    "window_days",
    "product_id",
    "title",
    "content",
    "rationale",
    "guardrail_status",
)


class DecisionError(ValueError):
    """A refused decision; the message says why. Nothing was written."""


@dataclass(frozen=True)
class DecisionRequest:
    """What an operator asked for, before validation."""

    action: str
    recommendation_id: str
    operator_id: str | None
    reason: str | None = None
    new_title: str | None = None
    new_content: str | None = None


@dataclass
class DecisionOutcome:
    written: list[Decision] = field(default_factory=list)
    unchanged: list[Decision] = field(default_factory=list)  # repeats of a logged decision, not re-written


def _clean(text: str | None) -> str | None:
    """Blank means absent: a spreadsheet cell holding spaces is not a reason."""
    if text is None:
        return None
    return text.strip() or None


def _normalised(request: DecisionRequest) -> DecisionRequest:
    return DecisionRequest(
        action=(_clean(request.action) or "").lower(),
        recommendation_id=_clean(request.recommendation_id) or "",
        operator_id=_clean(request.operator_id),
        reason=_clean(request.reason),
        new_title=_clean(request.new_title),
        new_content=_clean(request.new_content),
    )


def _operator_problem(operator_id: str | None, user_types: dict[str, str]) -> str | None:
    if not operator_id:
        return "operator id missing"
    if operator_id not in user_types:
        return f"unknown operator {operator_id!r}: not a user in raw.users"
    if user_types[operator_id] != "operator":
        return f"{operator_id!r} is a {user_types[operator_id]}, not an operator: only operators decide"
    return None


def check_operator(con: duckdb.DuckDBPyConnection, operator_id: str | None) -> None:
    """Refuse (DecisionError) unless `operator_id` is a raw.users user of type operator."""
    user_types = dict(
        con.execute("select user_id, user_type from raw.users where user_id = ?", [operator_id]).fetchall()
    )
    if problem := _operator_problem(operator_id, user_types):
        raise DecisionError(f"nothing recorded: {problem}")


def _request_problems(request: DecisionRequest, item: dict | None, user_types: dict[str, str]) -> list[str]:
    rec_id, action = request.recommendation_id, request.action
    operator_problem = _operator_problem(request.operator_id, user_types)
    problems = [operator_problem] if operator_problem else []
    if action not in ACTIONS:
        return problems + [
            f"unknown decision {action!r} for {rec_id!r}: expected approve, reject or override"
        ]
    if item is None:
        problems.append(
            f"unknown recommendation id {rec_id!r}: not in recs.recommendations "
            "(stale: regenerated content, e.g. of a run as of another date, has a new id; "
            "see the approval queue)"
        )
    if action in ("reject", "override") and not request.reason:
        problems.append(f"{action} of {rec_id} needs a reason")
    if action == "override" and not (request.new_title and request.new_content):
        problems.append(f"override of {rec_id} needs both a new title and new content")
    if action != "override" and (request.new_title or request.new_content):
        problems.append(f"{action} of {rec_id} carries a new title/content: only override changes the text")
    if action == "approve" and item is not None and item["guardrail_status"] == "block":
        problems.append(
            f"{rec_id} is blocked by guardrails: approve refused;"
            " override it with a reason and corrected text"
        )
    return problems


def check_requests(
    con: duckdb.DuckDBPyConnection, requests: Sequence[DecisionRequest], source: str
) -> list[tuple[Decision | None, list[str]]]:
    """Per request, in order: the decision to log, or the problems that refuse it.

    Two set-based lookups (the items, the operators) serve the whole batch.
    """
    requests = [_normalised(request) for request in requests]
    items = {
        row[0]: dict(zip(_ITEM_FIELDS, row, strict=True))
        for row in con.execute(
            f"select {', '.join(_ITEM_FIELDS)} from recs.recommendations "
            "where recommendation_id in (select unnest(?::varchar[]))",
            [sorted({request.recommendation_id for request in requests})],
        ).fetchall()
    }
    user_types = dict(
        con.execute(
            "select user_id, user_type from raw.users where user_id in (select unnest(?::varchar[]))",
            [sorted({request.operator_id for request in requests if request.operator_id})],
        ).fetchall()
    )
    problems_of = [
        _request_problems(request, items.get(request.recommendation_id), user_types) for request in requests
    ]
    findings_of = _override_guardrails(con, requests, items, problems_of)
    checked = []
    for request, problems, findings in zip(requests, problems_of, findings_of, strict=True):
        item = items.get(request.recommendation_id)
        critical = [f for f in findings if f["severity"] == "critical"]
        if critical:
            problems = [
                f"override of {request.recommendation_id} refused by guardrails: "
                + "; ".join(f"{f['check']}: {f['message']}" for f in critical)
            ]
        if problems:
            checked.append((None, problems))
            continue
        is_override = request.action == "override"
        checked.append(
            (
                new_decision(
                    operator_id=request.operator_id,
                    action=request.action,
                    recommendation_id=request.recommendation_id,
                    user_id=item["user_id"],
                    source=source,
                    reason=request.reason,
                    # the original is kept in the log so an override can be audited and undone
                    previous_title=item["title"] if is_override else None,
                    previous_content=item["content"] if is_override else None,
                    new_title=request.new_title,
                    new_content=request.new_content,
                    guardrail_findings=json.dumps(findings) if findings else None,
                ),
                [],
            )
        )
    return checked


def _override_guardrails(
    con: duckdb.DuckDBPyConnection,
    requests: Sequence[DecisionRequest],
    items: dict[str, dict],
    problems_of: Sequence[list[str]],
) -> list[list[dict]]:
    """Per request, the guardrail findings of an otherwise valid override's text (docs/guardrails.md):
    critical ones refuse it, the others are logged with the decision. Other requests get none."""
    checked = [
        index
        for index, (request, problems) in enumerate(zip(requests, problems_of, strict=True))
        if request.action == "override" and not problems
    ]
    overrides = [
        OverrideText(
            user_id=items[requests[index].recommendation_id]["user_id"],
            window_days=items[requests[index].recommendation_id]["window_days"],
            product_id=items[requests[index].recommendation_id]["product_id"],
            rationale=items[requests[index].recommendation_id]["rationale"] or "",
            new_title=requests[index].new_title or "",
            new_content=requests[index].new_content or "",
        )
        for index in checked
    ]
    findings: list[list[dict]] = [[] for _ in requests]
    for index, item_findings in zip(checked, override_findings(con, overrides), strict=True):
        findings[index] = item_findings
    return findings


def write_new_decisions(
    review_dir: Path, decisions: Iterable[Decision], *, skip_any_repeat: bool
) -> DecisionOutcome:
    """Append the decisions that change something.

    A decision repeating the one in force for its item is skipped (same effective state). With
    `skip_any_repeat` (the CSV import) a repeat of any earlier logged decision is skipped, so importing
    an old file again never revives a decision an operator has since replaced. (Two processes racing
    may both write the same repeat; the effective state is the same either way.)
    """
    prior: dict[str, list[Decision]] = defaultdict(list)

    def remember(decision: Decision) -> None:
        if not skip_any_repeat:
            prior[decision.recommendation_id].clear()
        prior[decision.recommendation_id].append(decision)

    for logged in read_decisions(review_dir):
        remember(logged)
    outcome = DecisionOutcome()
    for decision in decisions:
        if any(decision.repeats(previous) for previous in prior[decision.recommendation_id]):
            outcome.unchanged.append(decision)
            continue
        outcome.written.append(decision)
        remember(decision)
    append_decisions(review_dir, outcome.written)
    return outcome


def record_requests(
    con: duckdb.DuckDBPyConnection, review_dir: Path, requests: Sequence[DecisionRequest], source: str = "cli"
) -> DecisionOutcome:
    """All or nothing: every request is validated first; one problem refuses the whole call."""
    if not requests:
        raise DecisionError("no recommendation ids given")
    checked = check_requests(con, requests, source)
    problems = [problem for _, item_problems in checked for problem in item_problems]
    if problems:
        raise DecisionError("nothing recorded: " + "; ".join(dict.fromkeys(problems)))
    return write_new_decisions(review_dir, [decision for decision, _ in checked], skip_any_repeat=False)


def approve(
    con: duckdb.DuckDBPyConnection,
    review_dir: Path,
    recommendation_ids: Sequence[str],
    operator_id: str,
    source: str = "cli",
) -> DecisionOutcome:
    requests = [
        DecisionRequest("approve", rec_id, operator_id) for rec_id in dict.fromkeys(recommendation_ids)
    ]
    return record_requests(con, review_dir, requests, source)


def reject(
    con: duckdb.DuckDBPyConnection,
    review_dir: Path,
    recommendation_id: str,
    reason: str | None,
    operator_id: str,
    source: str = "cli",
) -> DecisionOutcome:
    return record_requests(
        con, review_dir, [DecisionRequest("reject", recommendation_id, operator_id, reason=reason)], source
    )


def override(
    con: duckdb.DuckDBPyConnection,
    review_dir: Path,
    recommendation_id: str,
    title: str | None,
    content: str | None,
    reason: str | None,
    operator_id: str,
    source: str = "cli",
) -> DecisionOutcome:
    request = DecisionRequest(
        "override", recommendation_id, operator_id, reason, new_title=title, new_content=content
    )
    return record_requests(con, review_dir, [request], source)


def create_pending_table(con: duckdb.DuckDBPyConnection, review_dir: Path) -> str:
    """Temp table `pending_recommendations`: recs.recommendations without any logged decision."""
    load_decisions(con, review_dir)
    con.execute(
        f"""
        create or replace temp table {PENDING_TABLE} as
        with recommendations as (
            select * from recs.recommendations
        ),

        decisions as (
            select * from {DECISIONS_TEMP_TABLE}
        ),

        final as (
            select recommendations.*
            from recommendations
            anti join decisions on decisions.recommendation_id = recommendations.recommendation_id
        )

        select * from final
        """
    )
    return PENDING_TABLE


def bulk_approve(
    con: duckdb.DuckDBPyConnection,
    review_dir: Path,
    operator_id: str,
    *,
    clean: bool = False,
    recommendation_ids: Sequence[str] = (),
    source: str = "cli",
) -> DecisionOutcome:
    """Approve a list of ids, or with clean=True every pending item whose guardrail status is pass."""
    if clean == bool(recommendation_ids):
        raise DecisionError(
            "bulk-approve takes either --clean or a list of recommendation ids, not both or neither"
        )
    if clean:
        create_pending_table(con, review_dir)
        rows = con.execute(
            f"select recommendation_id from {PENDING_TABLE}"
            " where guardrail_status = 'pass' order by recommendation_id"
        ).fetchall()
        recommendation_ids = [row[0] for row in rows]
        if not recommendation_ids:
            check_operator(con, operator_id)
            return DecisionOutcome()
    return approve(con, review_dir, recommendation_ids, operator_id, source)
