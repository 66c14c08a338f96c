"""evaluation_report.html from the hand-made warehouse: every chart drawn, numbers shown, data escaped."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ElementTree

from spendsense_dagster.lib.evaluate.metrics import compute_metrics
from spendsense_dagster.lib.evaluate.report import metrics_markdown
from spendsense_dagster.lib.evaluate.report_html import render_report_html, report_data, write_report_html

SECTIONS = ("personas", "coverage", "guardrails", "fairness", "latency", "persona-flow")


def _charts(page: str) -> dict[str, str]:
    """Section id -> the SVG text of its chart."""
    charts = {}
    for section, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S):
        image = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', body)
        if image:
            charts[section] = base64.b64decode(image.group(1)).decode("utf-8")
    return charts


def test_the_report_draws_every_chart_offline_with_the_numbers_beside_them(warehouse, review_dir, tmp_path):
    metrics = compute_metrics(warehouse, "run-1", review_dir)
    path = write_report_html(warehouse, metrics, tmp_path / "evaluation_report.html")
    page = path.read_text()

    assert re.findall(r'<section id="([^"]+)">', page) == list(SECTIONS)
    charts = _charts(page)
    assert set(charts) == set(SECTIONS) - {"persona-flow"}
    for svg in charts.values():
        ElementTree.fromstring(svg)  # well-formed SVG
    # nothing to fetch: no script, no external address, and a policy forbidding any fetch
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "default-src 'none'" in page
    # the numbers behind the charts (tests/review_warehouse.py)
    assert "<td>subscription_heavy</td><td>1</td><td>0</td>" in page
    assert "<td>coverage 30-day</td><td>66.7%</td>" in page
    assert "<td>grounding_facts</td><td>critical</td><td>1</td>" in page
    assert "<td>tone</td><td>notable</td><td>1</td>" in page
    assert "3 users; mean 200 ms, p95 444 ms." in page
    assert "within ±10" in charts["fairness"]  # the band is drawn and labelled
    assert "needs two as-of dates" in page


def test_the_persona_flow_between_the_last_two_dates_of_the_history(warehouse, review_dir):
    warehouse.execute(
        """
        create or replace table marts.persona_history as
        select * from (values
            ('c1', 30, date '2025-06-01', 'general_wellness'),
            ('c1', 30, date '2025-06-29', 'savings_builder'),
            ('c1', 30, date '2025-06-30', 'high_utilization'),
            ('c2', 30, date '2025-06-29', 'subscription_heavy'),
            ('c2', 30, date '2025-06-30', 'subscription_heavy'),
            ('c3', 30, date '2025-06-29', 'general_wellness'),
            ('c3', 30, date '2025-06-30', 'savings_builder'),
            ('c4', 180, date '2025-06-29', 'variable_income'),
            ('c4', 180, date '2025-06-30', 'general_wellness')
        ) as history(user_id, window_days, as_of_date, persona)
        """
    )
    data = report_data(warehouse)
    assert data.persona_flow.dates == ("2025-06-29", "2025-06-30")
    assert data.persona_flow.flows == [  # 30-day window only; the 180-day row is not mixed in
        ("general_wellness", "savings_builder", 1),
        ("savings_builder", "high_utilization", 1),
        ("subscription_heavy", "subscription_heavy", 1),
    ]
    metrics = compute_metrics(warehouse, "run-1", review_dir)
    # the JSON report and the asset's markdown carry the same flow
    assert metrics["persona_flow"]["dates"] == ["2025-06-29", "2025-06-30"]
    assert (metrics["persona_flow"]["changed_persona"], metrics["persona_flow"]["customers"]) == (2, 3)
    assert "2 of 3 customers changed persona between 2025-06-29 and 2025-06-30" in metrics_markdown(metrics)
    page = render_report_html(metrics, data)
    assert "persona-flow" in _charts(page)
    assert "2 of 3 customers changed persona between 2025-06-29 and 2025-06-30" in page


def test_hostile_group_names_stay_text(warehouse, review_dir):
    warehouse.execute("update raw.users set region = '<img src=x onerror=alert(1)>' where user_id = 'c1'")
    warehouse.execute("update raw.users set age_band = '$\\frac{1}{0}$' where user_id = 'c2'")
    page = render_report_html(compute_metrics(warehouse, "run-1", review_dir), report_data(warehouse))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    fairness = _charts(page)["fairness"]
    ElementTree.fromstring(fairness)
    assert "$\\frac{1}{0}$" in fairness  # drawn as the text it is, not parsed as mathtext
