"""The operator's story in headless Chromium (Debian's, driven by Playwright), then the publish job.

On a copy of the materialized hand-made workspace: sign in, approve, reject with and without a reason,
override (and see an override quoting the customer's email refused), bulk-approve the filtered clean
items, run `spendsense_publish` in-process and find exactly those decisions in
review.approved_recommendations. Screenshots of the queue and of the evaluation report go to
test-artifacts/ (copies for the README: docs/images/).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.lib.core.settings import Settings
from tests.conftest import DATASETS, REPO_ROOT
from tests.pipeline_runs import copy_workspace, current_partition, environment, query, workspace_env
from tests.review_site import cli, log_lines, new_token, review_server

CHROMIUM = Path("/usr/bin/chromium")
# What Debian's chromium needs here: no sandbox as root, and no background calls to a network it lacks.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
EMAIL_OF_U2 = "blake.morgan@example.com"  # tests/datasets/handmade_basic/synthetic_users.json


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    """One browser for the module, with a fresh profile."""
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: `make chromium` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def site(basic_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("review_browser")
    copy_workspace(basic_workspace, root)
    env = workspace_env(root, DATASETS / "handmade_basic")
    token = new_token(env, "op1")
    with review_server(env) as base:
        yield {"base": base, "root": root, "env": env, "token": token}


def _item_ids(page) -> list[str]:
    return page.locator("article.item").evaluate_all("articles => articles.map(a => a.dataset.id)")


def _result(article):
    """The result line under an item once the answer is in (its text replaces 'Sending…')."""
    line = article.locator("[data-result]")
    line.locator("xpath=self::*[not(contains(., 'Sending'))]").wait_for()
    return line


def test_an_operators_decisions_in_the_browser_are_exactly_what_the_publish_job_applies(site, chromium):
    base, root, env = site["base"], site["root"], site["env"]
    review_dir = root / "review"
    page = chromium.new_page()
    problems: list[str] = []
    # Script errors and CSP violations; the refusals this story provokes are answered with 4xx on purpose.
    expected_refusal = "Failed to load resource: the server responded with a status of 4"
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.text.startswith(expected_refusal)
            and problems.append(message.text)
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    # sign in
    page.goto(f"{base}/signin")
    page.fill("input[name=operator_id]", "op1")
    page.fill("input[name=token]", site["token"])
    page.click("form.signin button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert "Signed in as op1" in page.locator("header.topbar").inner_text()

    # filter: pending items of one persona, sorted by user
    page.select_option("select[name=persona]", "high_utilization")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**persona=high_utilization**")
    ids = _item_ids(page)
    expected = query(
        root / "warehouse" / "spendsense.duckdb",
        "select recommendation_id from recs.recommendations where persona = 'high_utilization'"
        " order by user_id, window_days, content_type, recommendation_id",
    )
    assert ids == [row[0] for row in expected] and len(ids) >= 6
    approved_id, rejected_id, unreasoned_id, overridden_id = ids[:4]
    u2_id = next(
        rec_id
        for (rec_id,) in query(
            root / "warehouse" / "spendsense.duckdb",
            "select recommendation_id from recs.recommendations where user_id = 'u2' order by all",
        )
        if rec_id in ids
    )

    def article(rec_id: str):
        return page.locator(f"article[data-id='{rec_id}']")

    # a POST from the signed-in page itself, but without the CSRF token, is refused and writes nothing
    forged = page.evaluate(
        "id => fetch('/items/' + id + '/approve', {method: 'POST', headers: {Accept: 'application/json'}})"
        ".then(answer => answer.status)",
        approved_id,
    )
    assert forged == 403 and log_lines(review_dir) == []

    # approve one, reject one with a reason: each answer shows without a reload
    page.evaluate("window.__notReloaded = true")
    article(approved_id).locator("button.approve").click()
    assert "approved: recorded" in _result(article(approved_id)).inner_text()
    article(rejected_id).locator("form.reject input[name=reason]").fill(
        "Not the right moment for this customer"
    )
    article(rejected_id).locator("form.reject button").click()
    assert "rejected: recorded" in _result(article(rejected_id)).inner_text()

    # a reject without a reason is refused with the CLI's words
    article(unreasoned_id).locator("form.reject button").click()
    refusal = _result(article(unreasoned_id))
    cli_refusal = cli(env, "review", "reject", unreasoned_id, "--operator", "op1")
    assert cli_refusal.returncode == 2
    assert refusal.inner_text() == cli_refusal.stderr.strip().removeprefix("spendsense: ")
    assert "error" in refusal.get_attribute("class")

    # an override with grounded text is recorded; one quoting the customer's email is refused
    override = article(overridden_id)
    override.locator("summary").click()
    new_title = "Your card balance, in brief"
    override.locator("input[name=title]").fill(new_title)
    override.locator("textarea[name=content]").fill(
        "Many people find it helps to pay a card before its statement date: the balance that gets"
        " reported is then lower."
    )
    override.locator("details input[name=reason]").fill("Shorter and plainer")
    override.locator("button.override").click()
    assert "overridden: recorded" in _result(override).inner_text()

    leaky = article(u2_id)
    leaky.locator("summary").click()
    leaky.locator("textarea[name=content]").fill(f"We will send your payment reminders to {EMAIL_OF_U2}.")
    leaky.locator("details input[name=reason]").fill("Add a reminder")
    leaky.locator("button.override").click()
    refused = _result(leaky).inner_text()
    assert "refused by guardrails" in refused and "email" in refused
    assert leaky.locator("[data-review-status]").inner_text() == "pending"

    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review_queue.png"))

    # bulk-approve the filtered clean items: every pending pass item of this persona, on every page
    clean = [
        rec_id
        for (rec_id,) in query(
            root / "warehouse" / "spendsense.duckdb",
            "select recommendation_id from recs.recommendations"
            " where persona = 'high_utilization' and guardrail_status = 'pass'",
        )
        if rec_id not in (approved_id, rejected_id, overridden_id)
    ]
    bulk = page.locator("#bulk-approve")
    assert f"the {len(clean)} clean pending items" in bulk.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    bulk.click()
    assert (
        f"Bulk-approved {len(clean)} clean pending item(s)" in _result(page.locator("form.bulk")).inner_text()
    )
    for rec_id in clean:
        assert article(rec_id).locator("[data-review-status]").inner_text() == "approved"
    assert page.evaluate("window.__notReloaded") is True  # every answer came without a page load
    assert problems == []

    # the web decisions are in the one decision log, as the operator made them
    logged = [json.loads(line) for line in log_lines(review_dir)]
    assert {(d["recommendation_id"], d["action"], d["source"], d["operator_id"]) for d in logged} == {
        (approved_id, "approve", "web", "op1"),
        (rejected_id, "reject", "web", "op1"),
        (overridden_id, "override", "web", "op1"),
        *((rec_id, "approve", "web", "op1") for rec_id in clean),
    }

    # the publish job applies exactly them
    with environment(**env):
        job = build_definitions(Settings.from_env()).resolve_job_def("spendsense_publish")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, partition_key=current_partition())
    assert result.success
    # the evaluation asset links the HTML report it wrote
    (metrics_event,) = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["eval", "evaluation_metrics"])
    ]
    report_html = metrics_event.materialization.metadata["report_html"].path
    assert report_html == str(root / "warehouse" / "evaluation_report.html") and Path(report_html).exists()
    published = query(
        root / "warehouse" / "spendsense.duckdb",
        "select recommendation_id, decision, operator_id, title from review.approved_recommendations",
    )
    titles = dict(
        query(
            root / "warehouse" / "spendsense.duckdb",
            "select recommendation_id, title from recs.recommendations",
        )
    )
    assert sorted(published) == sorted(
        [
            (approved_id, "approve", "op1", titles[approved_id]),
            (overridden_id, "override", "op1", new_title),
            *((rec_id, "approve", "op1", titles[rec_id]) for rec_id in clean),
        ]
    )


def test_the_evaluation_report_opens_from_a_file_with_no_network(site, chromium):
    report = site["root"] / "warehouse" / "evaluation_report.html"
    page = chromium.new_page()
    outside: list[str] = []

    def only_the_file(route):
        if route.request.url == report.as_uri():
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(report.as_uri())
    for section in ("personas", "coverage", "guardrails", "fairness", "latency"):
        chart = page.locator(f"#{section} img")
        assert chart.count() == 1, section
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), section
    assert "needs two as-of dates" in page.locator("#persona-flow").inner_text()
    assert "±10" in page.locator("#fairness").inner_text()
    assert "disclaimer" in page.locator("#guardrails table").inner_text()  # a check name from the findings
    assert outside == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "evaluation_report.png"), full_page=True)
