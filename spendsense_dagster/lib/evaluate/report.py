"""The evaluation report: evaluation_report.json beside the exports, and the markdown asset metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.core.windows import WINDOWS
from spendsense_dagster.lib.evaluate.exports import ExportedFile
from spendsense_dagster.lib.evaluate.metrics import METRIC_COLUMNS, append_metrics, compute_metrics


def write_evaluation_report(path: Path, metrics: dict, exports: Sequence[ExportedFile] = ()) -> Path:
    """evaluation_report.json: the metrics, the fairness breakdowns and the exported files (presigned
    URLs included); written to a temp file and renamed so a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {**metrics, "exports": [asdict(exported) for exported in exports]}
    return write_atomically(path, (json.dumps(report, indent=2, default=str) + "\n").encode())


def evaluate_run(
    con: duckdb.DuckDBPyConnection, run_id: str, review_dir: Path, report_path: Path, **options
) -> dict:
    """compute_metrics + append_metrics + write_evaluation_report (without exports; rewrite the report
    with `write_evaluation_report` once the exports, which include the metrics table, are done)."""
    metrics = compute_metrics(con, run_id, review_dir, **options)
    append_metrics(con, metrics)
    write_evaluation_report(report_path, metrics)
    return metrics


def _format(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


_RATIOS = (*(f"coverage_{window}d" for window in WINDOWS), "explainability", "auditability")


def metrics_markdown(metrics: dict) -> str:
    """A short markdown summary for asset metadata."""
    lines = ["| metric | value |", "| --- | --- |"]
    for name in METRIC_COLUMNS:
        if name in ("persona_distribution", "computed_at"):
            continue
        value = metrics.get(name)
        shown = f"{value:.1%}" if name in _RATIOS and value is not None else _format(value)
        lines.append(f"| {name} | {shown} |")
    for window, counts in metrics.get("persona_distribution", {}).items():
        mix = ", ".join(f"{persona} {users}" for persona, users in counts.items() if users)
        lines.append(f"| personas {window}d | {mix or 'none'} |")
    flagged = [
        f"{dimension}={group['group']}: {'; '.join(group['flags'])}"
        for dimension, groups in metrics.get("fairness", {}).get("groups", {}).items()
        for group in groups
        if group["flags"]
    ]
    text = "\n".join(lines)
    if flagged:
        text += "\n\nFairness flags (monitoring only):\n" + "\n".join(f"- {flag}" for flag in flagged)
    if metrics.get("notes"):
        text += "\n\nNotes:\n" + "\n".join(f"- {note}" for note in metrics["notes"])
    return text
