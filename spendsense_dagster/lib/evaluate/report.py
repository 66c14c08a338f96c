"""The evaluation metrics as markdown for asset metadata (the report file itself: publish.py)."""

from __future__ import annotations

from spendsense_dagster.lib.core.personas import PERSONAS
from spendsense_dagster.lib.core.windows import WINDOWS
from spendsense_dagster.lib.evaluate.metrics import METRIC_COLUMNS


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
    flow = metrics.get("persona_flow") or {}
    if flow.get("dates"):
        earlier, later = flow["dates"]
        lines.append(
            f"| persona flow {flow['window_days']}d | {flow['changed_persona']} of {flow['customers']}"
            f" customers changed persona between {earlier} and {later} |"
        )
    flagged = fairness_flags(metrics.get("fairness", {}))
    text = "\n".join(lines)
    if flagged:
        text += "\n\nFairness flags (monitoring only):\n" + "\n".join(f"- {flag}" for flag in flagged)
    if metrics.get("notes"):
        text += "\n\nNotes:\n" + "\n".join(f"- {note}" for note in metrics["notes"])
    return text


def fairness_flags(fairness: dict) -> list[str]:
    """'dimension=group: flag; flag' for every flagged group."""
    return [
        f"{dimension}={group['group']}: {'; '.join(group['flags'])}"
        for dimension, groups in fairness.get("groups", {}).items()
        for group in groups
        if group["flags"]
    ]


def persona_mix_markdown(fairness: dict) -> str:
    """The persona share of every fairness group, beside the whole: informational, never a flag
    (the personas differ by income by design: wealth_builder needs a high income)."""
    lines = ["| group | " + " | ".join(PERSONAS) + " |", "|" + " --- |" * (len(PERSONAS) + 1)]
    rows = [("all", fairness.get("overall") or {})] + [
        (f"{dimension}={group['group']}", group)
        for dimension, groups in fairness.get("groups", {}).items()
        for group in groups
    ]
    for label, group in rows:
        mix = group.get("persona_mix") or {}
        shares = [f"{mix[p]:.0%}" if mix.get(p) is not None else "n/a" for p in PERSONAS]
        lines.append(f"| {label} | " + " | ".join(shares) + " |")
    return "\n".join(lines)
