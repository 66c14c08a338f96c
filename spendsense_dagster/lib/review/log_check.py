"""`spendsense review verify-log`: what is wrong with the decision and consent logs (docs/review.md).

It changes nothing: bad lines still in a log are reported with their line numbers, and so are the
lines earlier reads moved to a `.rejected` sidecar, until an operator has dealt with them (and
removed the sidecar).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spendsense_dagster.lib.review.consent_log import consent_log_path, consent_problem
from spendsense_dagster.lib.review.decision_log import decision_log_path, decision_problem
from spendsense_dagster.lib.review.jsonl_log import BadLine, rejected_path, scan_jsonl


@dataclass(frozen=True)
class LogCheck:
    path: Path
    entry_name: str  # what a valid line holds, for the report
    valid: int
    bad_lines: list[BadLine]
    ends_with_newline: bool
    set_aside: list[dict]  # the sidecar's entries: line, problem, text, set_aside_at

    @property
    def ok(self) -> bool:
        return not self.bad_lines and self.ends_with_newline and not self.set_aside


def check_logs(review_dir: Path) -> list[LogCheck]:
    checks = []
    for path, validate, entry_name in (
        (decision_log_path(review_dir), decision_problem, "decision"),
        (consent_log_path(review_dir), consent_problem, "consent change"),
    ):
        scan = scan_jsonl(path, validate)
        sidecar = scan_jsonl(rejected_path(path))
        set_aside = sidecar.records + [{"line": None, "problem": bad.problem} for bad in sidecar.bad_lines]
        checks.append(
            LogCheck(path, entry_name, len(scan.records), scan.bad_lines, scan.ends_with_newline, set_aside)
        )
    return checks


def format_log_checks(checks: list[LogCheck]) -> str:
    lines = []
    for check in checks:
        found = (
            "missing (no entries yet)"
            if not check.path.exists()
            else f"{check.valid} valid {check.entry_name}(s)"
        )
        lines.append(f"{check.path}: {found}{'; ok' if check.ok else ''}")
        for bad in check.bad_lines:
            lines.append(f"  line {bad.line_number}: {bad.problem}: {bad.text[:120]}")
        if not check.ends_with_newline:
            lines.append("  no final newline: the last write may be torn (the next append starts a new line)")
        if check.set_aside:
            lines.append(
                f"  {len(check.set_aside)} bad line(s) set aside earlier in {rejected_path(check.path)}"
                " (inspect them, then remove that file):"
            )
            for entry in check.set_aside:
                lines.append(
                    f"    line {entry.get('line')}: {entry.get('problem')} ({entry.get('set_aside_at')})"
                )
    return "\n".join(lines)
