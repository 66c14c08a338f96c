"""The OpenAI generator against a real OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.recommend.generation.cache import (
    CachedGenerator,
    ResultCache,
    cache_key,
    context_hash,
)
from spendsense_dagster.lib.recommend.generation.factory import make_generator
from spendsense_dagster.lib.recommend.generation.llm_client import ChatClient, RetryPolicy, estimate_cost_usd
from spendsense_dagster.lib.recommend.generation.openai_generator import (
    OpenAIGenerator,
    parse_reply,
    reply_schema,
)
from spendsense_dagster.lib.recommend.generation.prompts import DATA_BLOCK_LABEL, PERSONAS, load_prompt
from tests.openai_server import (
    COMPLETION_TOKENS,
    NOT_JSON,
    ONE_ITEM,
    PROMPT_TOKENS,
    RATE_LIMITED,
    SERVER_ERROR,
    SLOW,
    WRONG_SHAPE,
    ScriptedOpenAIServer,
)
from tests.recommendation_contexts import make_context

CLIENT_TIMEOUT_S = 0.5
FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.04, max_retry_after_s=0.05)


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(slow_s=CLIENT_TIMEOUT_S * 3, retry_after="7") as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(openai_server: ScriptedOpenAIServer, sleeps: list[float]) -> ChatClient:
    def recorded_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    return ChatClient(
        api_key="test-key",
        model="gpt-4o-mini",
        base_url=openai_server.base_url,
        timeout_s=CLIENT_TIMEOUT_S,
        retry=FAST_RETRIES,
        sleep=recorded_sleep,
    )


def test_valid_reply_becomes_items_with_usage_cost_and_versions(
    openai_server: ScriptedOpenAIServer, client: ChatClient
) -> None:
    context = make_context("savings_builder")
    [result] = OpenAIGenerator(client).generate_many([context])

    assert result.error is None and len(result.items) == 2
    for item in result.items:
        [fact] = item.cited_facts
        assert fact.value == context.features[fact.name]
    assert (result.generator, result.model, result.attempts) == ("openai", "gpt-4o-mini", 1)
    assert result.prompt_version == load_prompt("savings_builder").version
    assert result.context_hash == context_hash(context)
    assert (result.input_tokens, result.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert result.cost_usd == pytest.approx(1000 * 0.15 / 1e6 + 200 * 0.60 / 1e6)
    assert result.latency_ms > 0

    [request] = openai_server.requests
    assert request["model"] == "gpt-4o-mini" and request["temperature"] == 0
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["response_format"]["json_schema"]["schema"] == reply_schema()
    assert request["messages"][0] == {"role": "system", "content": load_prompt("savings_builder").system}


def test_rate_limit_waits_for_retry_after_capped_then_succeeds(
    openai_server: ScriptedOpenAIServer, client: ChatClient, sleeps: list[float]
) -> None:
    openai_server.script(RATE_LIMITED, RATE_LIMITED)
    [result] = OpenAIGenerator(client).generate_many([make_context()])

    assert result.error is None and len(result.items) == 2
    assert result.attempts == 3 and len(openai_server.requests) == 3
    assert sleeps == [FAST_RETRIES.max_retry_after_s] * 2  # the server asked for 7 s: capped


def test_server_error_and_timeout_are_retried_with_backoff(
    openai_server: ScriptedOpenAIServer, client: ChatClient, sleeps: list[float]
) -> None:
    openai_server.script(SERVER_ERROR, SLOW)
    started = time.perf_counter()
    [result] = OpenAIGenerator(client).generate_many([make_context()])

    assert result.error is None and len(result.items) == 2
    assert result.attempts == 3
    # Exponential with jitter: between half and all of base * 2^(n-1), capped.
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02
    # The slow reply was abandoned at the client timeout, not waited out.
    assert time.perf_counter() - started < CLIENT_TIMEOUT_S * 3


def test_persistent_server_errors_fail_the_user_not_the_run(
    openai_server: ScriptedOpenAIServer, client: ChatClient
) -> None:
    openai_server.script(*[SERVER_ERROR] * FAST_RETRIES.max_attempts)
    generator = OpenAIGenerator(client, max_workers=1)
    failed, succeeded = generator.generate_many([make_context(user_id="u1"), make_context(user_id="u2")])

    assert failed.failed and failed.items == []
    assert "gave up after 4 attempts" in failed.error and "HTTP 500" in failed.error
    assert failed.attempts == 4 and failed.cost_usd == 0
    assert succeeded.error is None and succeeded.user_id == "u2"


def test_malformed_reply_is_retried_once_with_the_validation_error(
    openai_server: ScriptedOpenAIServer, client: ChatClient
) -> None:
    openai_server.script(NOT_JSON)
    [result] = OpenAIGenerator(client).generate_many([make_context()])

    assert result.error is None and len(result.items) == 2
    first, retry = openai_server.requests
    assert retry["messages"][:2] == first["messages"]
    assert retry["messages"][2]["role"] == "assistant"
    assert "Invalid JSON" in retry["messages"][3]["content"]
    # Both replies were paid for.
    assert (result.input_tokens, result.output_tokens, result.attempts) == (
        2 * PROMPT_TOKENS,
        2 * COMPLETION_TOKENS,
        2,
    )


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (NOT_JSON, "Invalid JSON"),
        (WRONG_SHAPE, "recommendations: Field required"),
        (ONE_ITEM, "at least 2 items"),
    ],
)
def test_twice_malformed_is_recorded_as_failure_and_the_run_goes_on(
    openai_server: ScriptedOpenAIServer, client: ChatClient, behaviour: str, message: str
) -> None:
    openai_server.script(behaviour, behaviour)
    generator = OpenAIGenerator(client, max_workers=1)
    failed, succeeded = generator.generate_many([make_context(user_id="u1"), make_context(user_id="u2")])

    assert failed.failed and failed.items == []
    assert "malformed reply after 2 turn(s)" in failed.error and message in failed.error
    assert failed.attempts == 2 and failed.cost_usd > 0
    assert succeeded.error is None and len(succeeded.items) == 2
    assert len(openai_server.requests) == 3


def test_server_without_json_schema_switches_to_json_object_for_the_rest_of_the_run(
    openai_server: ScriptedOpenAIServer, client: ChatClient
) -> None:
    openai_server.rejects_json_schema = True
    generator = OpenAIGenerator(client, max_workers=1)
    results = generator.generate_many([make_context(user_id=f"u{n}") for n in range(3)])

    assert all(result.error is None for result in results)
    formats = [request["response_format"]["type"] for request in openai_server.requests]
    assert formats == ["json_schema", "json_object", "json_object", "json_object"]


def test_unretryable_errors_fail_fast(client: ChatClient) -> None:
    missing_model = ChatClient(
        api_key="test-key",
        model="gpt-4o-mini",
        base_url=client._client.base_url.join("/nowhere"),
        retry=FAST_RETRIES,
    )
    [result] = OpenAIGenerator(missing_model).generate_many([make_context()])
    assert result.failed and "HTTP 404" in result.error and result.attempts == 1


def test_requests_carry_no_user_id_and_the_injection_stays_data(
    openai_server: ScriptedOpenAIServer, client: ChatClient
) -> None:
    contexts = [make_context(persona, user_id=f"user-secret-{n}") for n, persona in enumerate(PERSONAS)]
    results = OpenAIGenerator(client).generate_many(contexts)

    assert all(result.error is None for result in results)
    assert len(openai_server.requests) == len(PERSONAS)
    for request in openai_server.requests:
        raw = json.dumps(request)
        assert "user-secret" not in raw and "user_id" not in raw
        system, user = request["messages"]
        assert "Ignore previous instructions" not in system["content"]
        block_start = user["content"].index(f"<{DATA_BLOCK_LABEL}>")
        assert user["content"].index("Ignore previous instructions") > block_start
        assert user["content"].count("Ignore previous instructions") == 1


def test_cached_generator_makes_no_calls_for_unchanged_users(
    openai_server: ScriptedOpenAIServer, client: ChatClient, tmp_path: Path
) -> None:
    contexts = [make_context(persona, user_id=f"u{n}") for n, persona in enumerate(PERSONAS[:3])]
    generator = CachedGenerator(OpenAIGenerator(client), tmp_path / "llm_cache")

    first = generator.generate_many(contexts)
    assert len(openai_server.requests) == 3 and not any(result.cache_hit for result in first)

    second = CachedGenerator(OpenAIGenerator(client), tmp_path / "llm_cache").generate_many(contexts)
    assert len(openai_server.requests) == 3  # zero new calls
    assert all(result.cache_hit for result in second)
    assert [r.items for r in second] == [r.items for r in first]
    assert [r.user_id for r in second] == ["u0", "u1", "u2"]
    assert sum(r.cost_usd + r.input_tokens + r.output_tokens + r.attempts for r in second) == 0

    # One user's numbers change: exactly that user is generated again.
    changed = [*contexts[:2], make_context(PERSONAS[2], user_id="u2", features={"total_spend": 999.0})]
    third = generator.generate_many(changed)
    assert len(openai_server.requests) == 4
    assert [r.cache_hit for r in third] == [True, True, False]


def test_failures_are_not_cached(
    openai_server: ScriptedOpenAIServer, client: ChatClient, tmp_path: Path
) -> None:
    context = make_context()
    generator = CachedGenerator(OpenAIGenerator(client), tmp_path)
    openai_server.script(NOT_JSON, NOT_JSON)

    assert generator.generate_many([context])[0].failed
    retried = generator.generate_many([context])[0]
    assert retried.error is None and not retried.cache_hit
    assert len(openai_server.requests) == 3


def test_cache_entries_are_whole_json_files_keyed_by_generator_model_prompt_and_context(
    client: ChatClient, tmp_path: Path
) -> None:
    context = make_context()
    CachedGenerator(OpenAIGenerator(client), tmp_path).generate_many([context])
    key = cache_key("openai", "gpt-4o-mini", load_prompt(context.persona).version, context_hash(context))

    [entry] = list(tmp_path.rglob("*.json"))
    assert entry.name == f"{key}.json"
    assert not list(tmp_path.rglob("*.tmp"))
    assert ResultCache(tmp_path).get(key).user_id == context.user_id
    assert ResultCache(tmp_path).get(cache_key("openai", "gpt-4o", "v", context_hash(context))) is None


def test_concurrent_calls_finish_far_faster_than_one_at_a_time(client: ChatClient) -> None:
    with ScriptedOpenAIServer(delay_s=0.3) as slow_server:
        generator = OpenAIGenerator(
            ChatClient(
                api_key="test-key", model="gpt-4o-mini", base_url=slow_server.base_url, retry=FAST_RETRIES
            ),
            max_workers=8,
        )
        contexts = [make_context(user_id=f"u{n:02d}") for n in range(20)]
        started = time.perf_counter()
        results = generator.generate_many(contexts)
        elapsed = time.perf_counter() - started

    assert all(result.error is None for result in results)
    assert [result.user_id for result in results] == [context.user_id for context in contexts]
    # One at a time takes 6 s; 8 workers need about 0.9 s (half of serial leaves room for a busy CI box).
    assert elapsed < 20 * 0.3 / 2


def test_make_generator_uses_openai_behind_the_cache_when_a_key_is_set(
    openai_server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    settings = Settings(
        raw_dir=tmp_path / "raw",
        warehouse_path=tmp_path / "warehouse" / "spendsense.duckdb",
        review_dir=tmp_path / "review",
        export_uri=str(tmp_path / "exports"),
        openai_api_key="test-key",
        openai_base_url=openai_server.base_url,
        openai_model="gpt-4o-mini",
    )
    generator = make_generator(settings)
    assert (generator.name, generator.model) == ("openai", "gpt-4o-mini")

    for _ in range(2):
        [result] = generator.generate_many([make_context()])
        assert result.error is None
    assert len(openai_server.requests) == 1
    assert list(settings.cache_dir.rglob("*.json"))


def test_cost_follows_the_model_family_price() -> None:
    assert estimate_cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost_usd("gpt-4o-mini-2024-07-18", 2_000_000, 0) == pytest.approx(0.30)
    assert estimate_cost_usd("gpt-4o", 1_000_000, 0) == pytest.approx(2.50)
    assert estimate_cost_usd("llama-3-local", 1_000_000, 1_000_000) == 0.0


def test_parse_reply_keeps_at_most_three_items_and_tolerates_a_code_fence() -> None:
    item = {
        "title": "t",
        "content": "c",
        "rationale": "Because 1",
        "cited_facts": [],
        "metadata": {"priority": "low", "tags": []},
    }
    fenced = "```json\n" + json.dumps({"recommendations": [item] * 4}) + "\n```"
    assert len(parse_reply(fenced)) == 3
