"""Red team (docs/guardrails.md): a hostile feed and a misbehaving model through the real pipeline.

One workspace, two runs. First the whole daily job with the offline template generator on a feed whose
merchants are named with markup: every legitimate item passes, and no tag reaches an item, the approval
CSV, the HTML page or an export. Then the recommend, review and evaluate assets again against the local
OpenAI-compatible server, which plants the bad variants of tests/red_team.py (tone, advice, PII,
numbers, markup) and the good education items: every bad one is blocked, no good one is.
"""

from __future__ import annotations

import collections
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.recommend.context import build_contexts, user_pii
from spendsense_dagster.lib.recommend.generation.prompts import extract_data_block, model_visible_context
from tests.openai_server import ScriptedOpenAIServer
from tests.pipeline_runs import environment, query, run_groups, run_pipeline, workspace_env
from tests.red_team import BAD, GOOD, HOSTILE_MERCHANTS, write_hostile_dataset

ITEMS_PER_USER = 3  # the recommend asset keeps the first three education items of a reply
# A tag or comment, a script URL, or a markdown link/image to anything but https: what a renderer runs.
LIVE_MARKUP = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9]*[\s/>]|<!--|javascript:|vbscript:|\]\(\s*<?(?!https://)", re.I
)
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "p", "code", "table", "thead", "tbody",
             "tr", "th", "td", "b", "br", "pre", "ul", "li", "span"}  # fmt: skip
EXPECTED_CHECK = {"tone": "tone", "advice": "regulated_advice", "pii": "pii", "numbers": "grounding",
                  "markup": "markup"}  # fmt: skip


def _warehouse(root: Path) -> Path:
    return root / "warehouse" / "spendsense.duckdb"


def _user_key(visible_context: dict) -> str:
    """Which user a request is for: clones share features, but their account masks differ."""
    return json.dumps(visible_context["accounts"], sort_keys=True)


def _export_texts(root: Path) -> list[str]:
    """Every text value of every Parquet export."""
    texts = []
    for path in (root / "exports").rglob("*.parquet"):
        for column in pq.read_table(path).to_pylist():
            texts.extend(value for value in column.values() if isinstance(value, str))
    return texts


def _live_markup(texts: list[str]) -> list[str]:
    return [text for text in texts if LIVE_MARKUP.search(text)]


class _PageTags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def _page_problems(page: str) -> list[str]:
    """Tags or event handlers in the approval page beyond the page's own layout."""
    parser = _PageTags()
    parser.feed(page)
    extra_tags = sorted(parser.tags - PAGE_TAGS)
    handlers = sorted(name for name in parser.attributes if name.startswith("on"))
    return extra_tags + handlers


def _surfaces(root: Path) -> dict[str, list[str]]:
    """What operators and analysts read as text: the items, the approval CSV, the exports."""
    items = query(
        _warehouse(root), "select title, content, rationale, guardrail_findings from recs.recommendations"
    )
    return {
        "items": [text for row in items for text in row],
        "csv": [(root / "review" / "approval_queue.csv").read_text()],
        "exports": _export_texts(root),
    }


def _page(root: Path) -> str:
    return (root / "review" / "approval_queue.html").read_text()


@pytest.fixture(scope="module")
def red_team(tmp_path_factory: pytest.TempPathFactory):
    """The workspace after the template run (surfaces kept) and after the planted model run."""
    root = tmp_path_factory.mktemp("red_team")
    write_hostile_dataset(root / "raw")
    with environment(**workspace_env(root, root / "raw")):
        run_pipeline()
        template = {
            "surfaces": _surfaces(root),
            "page": _page(root),
            "items": query(
                _warehouse(root),
                "select user_id, content_type, content, guardrail_status, guardrail_findings"
                " from recs.recommendations",
            ),
        }
        with duckdb.connect(str(_warehouse(root)), read_only=True) as con:
            contexts = build_contexts(con)
            pii = user_pii(con)
        slots = sorted(contexts, key=lambda context: context.user_id)
        cases = [*BAD, *GOOD]
        assert len(slots) * ITEMS_PER_USER >= len(cases), "not enough users for every case"
        keys = {_user_key(model_visible_context(context)) for context in slots}
        assert len(keys) == len(slots), "two users look the same to the model server"
        padded = cases + [GOOD[i % len(GOOD)] for i in range(len(slots) * ITEMS_PER_USER - len(cases))]
        planted: dict[tuple[str, str], object] = {}
        by_features = {}
        for index, context in enumerate(slots):
            items = []
            for slot, case in enumerate(padded[index * ITEMS_PER_USER : (index + 1) * ITEMS_PER_USER]):
                item = case.build(context, pii[context.user_id])
                item["title"] = item["title"] or f"Red team item {index * ITEMS_PER_USER + slot + 1}"
                planted[(context.user_id, item["title"])] = case
                items.append(item)
            by_features[_user_key(model_visible_context(context))] = items

        def planted_reply(request: dict) -> list[dict]:
            user_turn = next(m["content"] for m in request["messages"] if m["role"] == "user")
            return by_features[_user_key(extract_data_block(user_turn))]

        with (
            ScriptedOpenAIServer(items=planted_reply) as server,
            environment(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="red-team"),
        ):
            run_groups("recommend", "review", "evaluate")
        rows = query(
            _warehouse(root),
            "select user_id, title, guardrail_status, guardrail_findings from recs.recommendations"
            " where content_type = 'education'",
        )
        yield {
            "root": root,
            "template": template,
            "planted": planted,
            "rows": rows,
            "surfaces": _surfaces(root),
            "page": _page(root),
        }


def test_template_items_and_offers_pass_on_the_hostile_feed(red_team):
    statuses = collections.Counter(
        (content_type, status) for _, content_type, _, status, _ in red_team["template"]["items"]
    )
    assert statuses and all(status == "pass" for _, status in statuses), statuses
    print(f"\ntemplate run: {dict(statuses)}")


def test_markup_merchants_reach_items_only_as_plain_text(red_team):
    hostile = [content for user_id, _, content, _, _ in red_team["template"]["items"] if user_id == "h1"]
    # the subscriber's template items do quote the merchants: made plain, not dropped
    assert any("alert(1)" in content and "win a prize" in content for content in hostile), hostile
    for surface, texts in red_team["template"]["surfaces"].items():
        assert texts and _live_markup(texts) == [], surface
    assert _page_problems(red_team["template"]["page"]) == []
    assert not any(
        merchant in text for merchant in HOSTILE_MERCHANTS for text in red_team["template"]["surfaces"]["csv"]
    )


def test_every_planted_bad_variant_is_blocked_and_no_good_item_is(red_team):
    by_title = {
        (user_id, title): (status, json.loads(findings))
        for user_id, title, status, findings in red_team["rows"]
    }
    blocked = collections.Counter()
    missed, false_positives = [], []
    for key, case in red_team["planted"].items():
        status, findings = by_title[key]
        critical = {finding["check"] for finding in findings if finding["severity"] == "critical"}
        if case.category == "good":
            if status != "pass":
                false_positives.append((case.name, findings))
        elif status == "block" and EXPECTED_CHECK[case.category] in critical:
            blocked[case.category] += 1
        else:
            missed.append((case.category, case.name, status, critical))
    print(f"\nred team: blocked {dict(blocked)} of {len(BAD)} bad; {len(false_positives)} false positives"
          f" among {sum(c.category == 'good' for c in red_team['planted'].values())} good items")  # fmt: skip
    assert missed == []
    assert false_positives == []
    assert sum(blocked.values()) == len(BAD) >= 60
    assert len({case.name for case in red_team["planted"].values() if case.category == "good"}) >= 20


def test_blocked_markup_is_stored_escaped_everywhere(red_team):
    for surface, texts in red_team["surfaces"].items():
        assert _live_markup(texts) == [], surface
    assert _page_problems(red_team["page"]) == []
    # the escaped text is still there for the operator to read
    assert any("&lt;script&gt;" in text for text in red_team["surfaces"]["items"])
