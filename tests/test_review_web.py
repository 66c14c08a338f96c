"""`spendsense review serve` over HTTP: identity, CSRF, headers, the CLI's refusals, paging, a busy warehouse.

One real server process per module on the hand-made review warehouse (tests/review_warehouse.py); the
browser story is in test_review_browser.py.
"""

from __future__ import annotations

import html
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import requests

from spendsense_dagster.lib.review.decision_log import append_decisions, new_decision
from spendsense_dagster.lib.review.operator_tokens import issue_token, token_digest, tokens_path
from tests.review_site import cli, csrf_of, decide, log_lines, new_token, review_server, sign_in
from tests.review_warehouse import TRICKY_TITLE, add_recommendation, make_review_warehouse


@dataclass
class Site:
    base: str
    root: Path
    env: dict[str, str | None]
    token: str

    @property
    def review_dir(self) -> Path:
        return self.root / "review"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"


def _env(root: Path) -> dict[str, str | None]:
    return {
        "SPENDSENSE_WAREHOUSE": str(root / "warehouse.duckdb"),
        "SPENDSENSE_REVIEW_DIR": str(root / "review"),
        "SPENDSENSE_RAW_DIR": str(root / "raw"),
        "SPENDSENSE_EXPORT_URI": str(root / "exports"),
        "OPENAI_API_KEY": None,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("review_web")
    con = make_review_warehouse(root / "warehouse.duckdb")
    con.execute(
        'update recs.recommendations set cited_facts = \'[{"name": "max_utilization", "value": 0.62}]\''
        " where recommendation_id = 'rec-c1-edu'"
    )
    con.close()
    env = _env(root)
    token = new_token(env, "op1")
    with review_server(env) as base:
        yield Site(base, root, env, token)


def _signed_in(site: Site) -> tuple[requests.Session, str]:
    session, answer = sign_in(site.base, "op1", site.token)
    assert answer.status_code == 303, answer.text
    return session, csrf_of(session.get(f"{site.base}/", timeout=30).text)


def test_the_token_command_stores_only_a_digest_and_refuses_a_customer(site: Site):
    before = tokens_path(site.review_dir).read_text()
    refused = cli(site.env, "review", "token", "--operator", "c1")
    assert refused.returncode == 2 and "not an operator" in refused.stderr
    assert tokens_path(site.review_dir).read_text() == before
    stored = json.loads(before)
    assert stored["op1"]["sha256"] == token_digest(site.token)
    assert site.token not in tokens_path(site.review_dir).read_text()
    assert stat.S_IMODE(os.stat(tokens_path(site.review_dir)).st_mode) == 0o600


def test_pages_send_security_headers_and_show_text_as_text(site: Site):
    signin = requests.get(f"{site.base}/signin", timeout=10)
    cookie = signin.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = requests.get(f"{site.base}/?status=all", timeout=30)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    # the one script is a file; no inline code anywhere
    assert re.findall(r"<script(?![^>]*\ssrc=)", page.text) == []
    assert "&lt;script&gt;alert(" in page.text and TRICKY_TITLE not in page.text
    script = requests.get(f"{site.base}/static/review.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert requests.get(f"{site.base}/", headers={"Host": "evil.example"}, timeout=10).status_code == 400


def test_the_queue_shows_user_ids_never_names_and_cited_facts_beside_the_features(site: Site):
    page = requests.get(f"{site.base}/?status=all", timeout=30).text
    assert "c1" in page and "c2" in page
    for private in ("Cara One", "c1@example.com", "Cy Two", "c2@example.com"):
        assert private not in page
    item = page[page.index('id="item-rec-c1-edu"') :]
    item = item[: item.index("</article>")]
    assert re.search(r"<td>max_utilization</td><td>0.62</td><td>0.62</td>", item)
    assert "Decisions apply on the next publish" in page


def test_filters_sorting_and_paging(site: Site):
    def ids(query: str) -> list[str]:
        page = requests.get(f"{site.base}/?{query}", timeout=30)
        assert page.status_code == 200, page.text
        return re.findall(r'<article class="item [a-z]+" id="item-([^"]+)"', page.text)

    assert ids("status=all&guardrail=block") == ["rec-c2-block"]
    assert set(ids("status=all&persona=high_utilization")) == {"rec-c1-edu", "rec-c1-offer"}
    assert ids("status=all&sort=guardrail")[:2] == ["rec-c2-block", "rec-c2-warn"]
    assert ids("status=all&sort=guardrail&order=desc")[-2:] == ["rec-c2-warn", "rec-c2-block"]
    first, second = ids("status=all&size=10&page=1"), ids("status=all&size=10&page=2")
    assert len(first) == 4 and second == []
    bad = requests.get(f"{site.base}/?persona=high_utilisation", timeout=10)
    assert bad.status_code == 400 and "persona must be one of" in bad.text
    for page in ("0", "²", "99999999999999999999", "-1"):
        assert requests.get(f"{site.base}/?page={page}", timeout=10).status_code == 400, page


def test_posts_without_the_csrf_token_or_a_valid_operator_token_are_refused_and_write_nothing(site: Site):
    before = log_lines(site.review_dir)
    approve = "/items/rec-c1-offer/approve"

    # no session, no token at all
    assert decide(requests.Session(), site.base, approve).status_code == 403
    # signed in, but the CSRF token is missing, wrong, or sent from another site
    session, csrf = _signed_in(site)
    assert decide(session, site.base, approve).status_code == 403
    assert decide(session, site.base, approve, csrf="forged").status_code == 403
    foreign = session.post(
        f"{site.base}{approve}",
        headers={"Accept": "application/json", "X-CSRF-Token": csrf, "Origin": "http://evil.example"},
        timeout=30,
    )
    assert foreign.status_code == 403
    # a wrong token (or an unknown operator) does not sign in, and its session cannot decide
    for operator_id, token in (("op1", site.token + "x"), ("op1", ""), ("nobody", site.token)):
        anonymous, answer = sign_in(site.base, operator_id, token)
        assert answer.status_code == 401 and "wrong token" in answer.text
        refused = decide(anonymous, site.base, approve, csrf=csrf_of(answer.text))
        assert refused.status_code == 401 and "Sign in" in refused.json()["error"]
    # a customer whose token was planted in the file is still not an operator
    planted = issue_token(site.review_dir, "c1").token
    customer, answer = sign_in(site.base, "c1", planted)
    assert answer.status_code == 403 and "not an operator" in answer.text
    assert log_lines(site.review_dir) == before


def test_refusals_are_the_cli_messages_and_decisions_land_in_the_same_log(site: Site):
    session, csrf = _signed_in(site)
    cases = [
        ("/items/rec-c1-offer/reject", {"reason": "  "}, ["review", "reject", "rec-c1-offer"]),
        ("/items/rec-c2-block/approve", {}, ["review", "approve", "rec-c2-block"]),
        ("/items/no-such-id/approve", {}, ["review", "approve", "no-such-id"]),
        (
            "/items/rec-c2-warn/override",
            {"title": "Subscriptions", "content": "Write to c2@example.com", "reason": "r"},
            ["review", "override", "rec-c2-warn", "--title", "Subscriptions"]
            + ["--content", "Write to c2@example.com", "--reason", "r"],
        ),
    ]
    before = log_lines(site.review_dir)
    for path, data, command in cases:
        answer = decide(session, site.base, path, data, csrf)
        expected = cli(site.env, *command, "--operator", "op1")
        assert answer.status_code == 400 and expected.returncode == 2
        assert f"spendsense: {answer.json()['error']}" == expected.stderr.strip()
    assert "pii" in decide(session, site.base, cases[-1][0], cases[-1][1], csrf).json()["error"]
    assert log_lines(site.review_dir) == before

    approved = decide(session, site.base, "/items/rec-c1-edu/approve", {}, csrf)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = decide(session, site.base, "/items/rec-c1-edu/approve", {}, csrf)
    assert again.json()["already_in_force"] == 1  # repeating a decision writes nothing
    (line,) = [json.loads(line) for line in log_lines(site.review_dir)[len(before) :]]
    assert (line["recommendation_id"], line["action"], line["operator_id"], line["source"]) == (
        "rec-c1-edu",
        "approve",
        "op1",
        "web",
    )
    shown = requests.get(f"{site.base}/?status=approved", timeout=30).text
    assert 'id="item-rec-c1-edu"' in shown and "Approved by op1" in shown


def test_a_form_sent_without_the_script_gets_the_answer_on_the_next_page(site: Site):
    session, csrf = _signed_in(site)
    before = log_lines(site.review_dir)
    answer = session.post(
        f"{site.base}/items/rec-c1-offer/reject",
        data={"csrf_token": csrf, "reason": "", "next": "/?status=all"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/?status=all"
    shown = session.get(f"{site.base}{answer.headers['location']}", timeout=30).text
    assert "nothing recorded: reject of rec-c1-offer needs a reason" in shown
    # a `next` pointing at another site is not followed
    elsewhere = session.post(
        f"{site.base}/items/rec-c1-offer/reject",
        data={"csrf_token": csrf, "reason": "", "next": "//evil.example/"},
        allow_redirects=False,
        timeout=30,
    )
    assert elsewhere.headers["location"] == "/"
    # signing out ends the session: its token decides nothing any more
    assert (
        session.post(f"{site.base}/signout", data={"csrf_token": csrf}, allow_redirects=False).status_code
        == 303
    )
    assert decide(session, site.base, "/items/rec-c1-offer/approve", {}, csrf).status_code == 403
    assert log_lines(site.review_dir) == before


def test_bulk_approve_refuses_a_queue_that_changed_since_the_page_was_loaded(site: Site):
    session, csrf = _signed_in(site)
    before = log_lines(site.review_dir)
    stale = decide(session, site.base, "/bulk-approve", {"status": "pending", "expected": "99"}, csrf)
    assert stale.status_code == 409 and "changed" in stale.json()["error"]
    assert log_lines(site.review_dir) == before


def test_the_explain_page_shows_the_cli_trace(site: Site):
    page = requests.get(f"{site.base}/items/rec-c2-warn", timeout=30)
    assert page.status_code == 200
    shown = html.unescape(re.search(r'<pre class="trace">(.*?)</pre>', page.text, re.S).group(1))
    printed = cli(site.env, "explain", "rec-c2-warn")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(shown) == json.loads(printed.stdout)
    assert requests.get(f"{site.base}/items/nope", timeout=10).status_code == 404


def test_a_busy_warehouse_is_said_and_nothing_is_decided(site: Site):
    session, csrf = _signed_in(site)
    before = log_lines(site.review_dir)
    # The server holds no connection between requests: this process can take the writer's lock now.
    writer = duckdb.connect(str(site.warehouse))
    try:
        page = requests.get(f"{site.base}/", timeout=30)
        assert page.status_code == 503 and "busy" in page.text and page.headers["retry-after"]
        refused = decide(session, site.base, "/items/rec-c1-offer/approve", {}, csrf)
        assert refused.status_code == 503 and "retry" in refused.json()["error"]
    finally:
        writer.close()
    assert log_lines(site.review_dir) == before
    assert requests.get(f"{site.base}/", timeout=30).status_code == 200


def test_a_missing_or_empty_warehouse_is_said_plainly(tmp_path: Path):
    env = _env(tmp_path)
    with review_server(env) as base:
        missing = requests.get(f"{base}/", timeout=30)
        assert missing.status_code == 503 and "No warehouse at" in missing.text
        duckdb.connect(env["SPENDSENSE_WAREHOUSE"]).close()
        empty = requests.get(f"{base}/", timeout=30)
        assert empty.status_code == 503 and "run `spendsense run` first" in empty.text


def test_rotating_a_token_ends_the_sessions_of_the_old_one(site: Site):
    session, csrf = _signed_in(site)
    before = log_lines(site.review_dir)
    site.token, old = new_token(site.env, "op1"), site.token
    refused = decide(session, site.base, "/items/rec-c1-offer/approve", {}, csrf)
    assert refused.status_code == 401 and "rotated" in refused.json()["error"]
    assert sign_in(site.base, "op1", old)[1].status_code == 401
    assert log_lines(site.review_dir) == before
    assert sign_in(site.base, "op1", site.token)[1].status_code == 303


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory):
    """10,000 generated items (half of them decided in the log) beside the hand-made ones."""
    root = tmp_path_factory.mktemp("review_web_big")
    con = make_review_warehouse(root / "warehouse.duckdb")
    add_recommendation(con, "template", "c1")
    con.execute(
        """
        insert into recs.recommendations
        select
            printf('gen-%05d', i) as recommendation_id, r.user_id, r.window_days, r.as_of_date,
            r.persona, r.content_type, r.title || ' #' || i, r.content, r.rationale, r.disclaimer,
            r.product_id, r.cited_facts, r.metadata, r.generator, r.model, r.prompt_version,
            r.context_hash, r.latency_ms, r.input_tokens, r.output_tokens, r.cost_usd,
            r.generated_at + to_seconds(i + 1), case when i % 10 = 0 then 'warn' else 'pass' end,
            r.guardrail_findings
        from range(10000) as numbers(i)
        cross join (select * from recs.recommendations where recommendation_id = 'template') as r
        """
    )
    con.execute("delete from recs.recommendations where recommendation_id = 'template'")
    con.close()
    decided = [
        new_decision(
            operator_id="op1", action="approve", recommendation_id=f"gen-{i:05d}", user_id="c1", source="cli"
        )
        for i in range(0, 10000, 2)
    ]
    append_decisions(root / "review", decided)
    env = _env(root)
    with review_server(env) as base:
        yield Site(base, root, env, token="")


def test_paging_ten_thousand_items(big_site: Site):
    # Page times are a benchmark's business (a loaded CI machine is no clock); this checks the paging.
    def page(query: str) -> tuple[list[str], str]:
        answer = requests.get(f"{big_site.base}/?{query}", timeout=60)
        assert answer.status_code == 200
        return re.findall(r'id="item-([^"]+)"', answer.text), answer.text

    first, text = page("status=pending&sort=generated&size=25&page=1")
    second, _ = page("status=pending&sort=generated&size=25&page=2")
    last, _ = page("status=pending&sort=generated&size=25&page=200")
    # pending: the 5,000 odd generated items after the 4 hand-made ones, 25 a page, in generation order
    assert "5004 items match · page 1 of 201" in text
    assert first[3:6] == ["rec-c2-warn", "gen-00001", "gen-00003"] and len(first) == 25
    assert not set(first) & set(second) and len(last) == 25
    approved, text = page("status=approved&guardrail=warn&size=100&page=3")
    # every tenth item warns, and those are all even, so approved
    assert "1000 items match · page 3 of 10" in text and len(approved) == 100
