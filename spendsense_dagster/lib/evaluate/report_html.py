"""evaluation_report.html: the evaluation report as a page with charts, beside evaluation_report.json.

One self-contained file: the charts are SVG images made by matplotlib (report_charts.py) inlined as
data: URIs, the style is inline, there is no script, and a Content-Security-Policy forbids every fetch,
so it opens from disk with no network. Every value from the data is escaped.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.core.personas import PERSONAS
from spendsense_dagster.lib.core.windows import RECOMMENDATION_WINDOW, WINDOWS
from spendsense_dagster.lib.evaluate import report_charts as charts
from spendsense_dagster.lib.evaluate.persona_flow import PERSONA_HISTORY_TABLE, PersonaFlow, persona_flow

REPORT_HTML_NAME = "evaluation_report.html"
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class ReportData:
    """What the charts need beyond the metrics dict: read from the warehouse."""

    user_latencies_ms: list[float]
    status_counts: dict[str, int]
    findings: list[tuple[str, str, int]]  # (check, severity, findings)
    persona_flow: PersonaFlow


def report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    latencies = con.execute(
        "select sum(latency_ms)::double from recs.llm_calls group by user_id order by 1"
    ).fetchall()
    statuses = dict(
        con.execute("select guardrail_status, count(*) from recs.recommendations group by all").fetchall()
    )
    findings = con.execute(
        """
        with findings as (
            select unnest(cast(guardrail_findings as json[])) as finding
            from recs.recommendations
            where json_valid(guardrail_findings)
        ),

        final as (
            select
                coalesce(finding ->> 'check', 'unnamed') as check_name,
                coalesce(finding ->> 'severity', 'unknown') as severity,
                count(*) as findings
            from findings
            group by all
        )

        select * from final order by all
        """
    ).fetchall()
    return ReportData(
        user_latencies_ms=[row[0] for row in latencies if row[0] is not None],
        status_counts={status: statuses.get(status, 0) for status in ("pass", "warn", "block")},
        findings=[(check, severity, int(n)) for check, severity, n in findings],
        persona_flow=persona_flow(con, RECOMMENDATION_WINDOW),
    )


def _fairness_gaps(fairness: dict) -> dict[str, list[tuple[str, dict[str, float | None]]]]:
    """Each group's distance from all customers, in the units metrics._fairness_flags compares."""
    overall = fairness.get("overall") or {}

    def points(value, whole):
        return None if value is None or whole is None else (value - whole) * 100

    gaps = {}
    for dimension, groups in (fairness.get("groups") or {}).items():
        rows = []
        for group in groups:
            per_user, whole_per_user = (
                group.get("recommendations_per_user"),
                overall.get("recommendations_per_user"),
            )
            rows.append(
                (
                    f"{group['group']} (n={group['customers']})",
                    {
                        "partner-offer access (pts)": points(
                            group.get("partner_offer_access"), overall.get("partner_offer_access")
                        ),
                        "recommendations per user (%)": (
                            points(per_user / whole_per_user, 1.0)
                            if per_user is not None and whole_per_user
                            else None
                        ),
                        "guardrail block rate (pts)": points(
                            group.get("guardrail_block_rate"), overall.get("guardrail_block_rate")
                        ),
                    },
                )
            )
        gaps[dimension] = rows
    return gaps


def _image(svg: str, alt: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt)}">'


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def render_report_html(metrics: dict, data: ReportData) -> str:
    distribution = metrics.get("persona_distribution") or {}
    fairness = metrics.get("fairness") or {}
    threshold = float(fairness.get("threshold_points") or 10.0)
    ratios = {
        **{f"coverage {window}-day": metrics.get(f"coverage_{window}d") for window in WINDOWS},
        "explainability": metrics.get("explainability"),
        "auditability": metrics.get("auditability"),
    }
    flagged = [
        [dimension, group["group"], group["customers"], "; ".join(group["flags"])]
        for dimension, groups in (fairness.get("groups") or {}).items()
        for group in groups
        if group.get("flags")
    ]
    flow = data.persona_flow
    if flow.dates is None:
        flow_body = (
            f'<p class="empty" id="persona-flow-empty">Persona flow needs two as-of dates in'
            f" {PERSONA_HISTORY_TABLE} ({flow.window_days}-day window); the history has fewer so far.</p>"
        )
    else:
        moved = sum(n for before, after, n in flow.flows if before != after)
        flow_body = (
            _image(charts.persona_flow_chart(flow.flows, PERSONAS, flow.dates), "persona flow")
            + f"<p>{moved} of {sum(n for *_, n in flow.flows)} customers changed persona between"
            f" {html.escape(flow.dates[0])} and {html.escape(flow.dates[1])}"
            f" ({flow.window_days}-day window).</p>"
            + _table(["from", "to", "customers"], [list(row) for row in flow.flows])
        )
    sections = [
        _section(
            "personas",
            "Persona distribution per window",
            _image(
                charts.persona_distribution_chart(distribution, PERSONAS), "customers per persona and window"
            )
            + _table(
                ["persona", *(f"{window}-day" for window in distribution)],
                [[p, *(distribution[w].get(p, 0) for w in distribution)] for p in PERSONAS],
            ),
        ),
        _section(
            "coverage",
            "Coverage and explainability",
            _image(charts.ratio_chart(ratios), "coverage, explainability and auditability")
            + _table(["metric", "value"], [[name, _percent(value)] for name, value in ratios.items()]),
        ),
        _section(
            "guardrails",
            "Guardrail outcomes by category",
            _image(charts.guardrail_chart(data.status_counts, data.findings), "guardrail outcomes")
            + _table(["check", "severity", "findings"], [list(row) for row in data.findings]),
        ),
        _section(
            "fairness",
            "Fairness parity by group",
            _image(charts.fairness_chart(_fairness_gaps(fairness), threshold), "fairness gaps by group")
            + f"<p>Shaded: within ±{threshold:g} points of all customers"
            f" (recommendations per user: ±{threshold:g} %)."
            " Monitoring only: no group field feeds a rule or a prompt.</p>"
            + (
                _table(["dimension", "group", "customers", "flags"], flagged)
                if flagged
                else "<p>No group outside the band.</p>"
            ),
        ),
        _section(
            "latency",
            "Latency distribution",
            _image(
                charts.latency_chart(
                    data.user_latencies_ms, metrics.get("latency_mean_ms"), metrics.get("latency_p95_ms")
                ),
                "generation time per user",
            )
            + f"<p>{len(data.user_latencies_ms)} users; mean {_ms(metrics.get('latency_mean_ms'))},"
            f" p95 {_ms(metrics.get('latency_p95_ms'))}.</p>",
        ),
        _section("persona-flow", "Persona flow between the last two as-of dates", flow_body),
    ]
    headline = _table(
        ["run", "as of", "customers", "consenting", "recommendations", "approved", "pending", "LLM cost"],
        [
            [
                metrics.get("run_id"),
                metrics.get("as_of_date"),
                metrics.get("customers"),
                metrics.get("consented_customers"),
                metrics.get("recommendations"),
                (metrics.get("approval_approved") or 0) + (metrics.get("approval_overridden") or 0),
                metrics.get("approval_pending"),
                f"${metrics.get('cost_usd') or 0:.4f}",
            ]
        ],
    )
    notes = "".join(f"<li>{html.escape(str(note))}</li>" for note in metrics.get("notes") or [])
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>SpendSense evaluation report, as of {html.escape(str(metrics.get("as_of_date")))}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>SpendSense evaluation report</h1>
{headline}
{f"<ul class='notes'>{notes}</ul>" if notes else ""}
{"".join(sections)}
<p class="foot">Definitions: docs/review.md, "Evaluation metrics".
The same numbers are in evaluation_report.json.</p>
</body>
</html>
"""


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f2933; max-width: 980px; margin: 1.5rem auto;
  padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #cbd2d9; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #cbd2d9; padding: .2rem .5rem; text-align: left; }
th { background: #f0f4f8; }
.empty { background: #fff7e6; padding: .5rem; border-radius: .3rem; }
.notes { color: #713f12; } .foot { color: #616e7c; font-size: .85rem; margin-top: 2rem; }
"""


def write_report_html(con: duckdb.DuckDBPyConnection, metrics: dict, path: Path) -> Path:
    """Render the report for `metrics` with the warehouse's extra data; written atomically."""
    return write_atomically(path, render_report_html(metrics, report_data(con)).encode("utf-8"))
