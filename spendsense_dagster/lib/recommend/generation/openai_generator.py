"""The `openai` generator: one validated chat completion per user, many users at a time.

A reply that breaks the JSON contract gets one follow-up turn quoting the validation error; if that
fails too, or the call itself fails after its retries, the user's result carries the error and the
run goes on with the other users.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from spendsense_dagster.lib.core.settings import PROMPTS_DIR
from spendsense_dagster.lib.recommend.generation.base import context_hash
from spendsense_dagster.lib.recommend.generation.llm_client import (
    MODEL_PRICES,
    ChatClient,
    LLMCallError,
    ModelPrice,
    estimate_cost_usd,
)
from spendsense_dagster.lib.recommend.generation.prompts import PERSONAS, load_prompt, render_user_message
from spendsense_dagster.lib.recommend.models import (
    GeneratedItem,
    GeneratedItems,
    GenerationResult,
    UserContext,
)

SCHEMA_NAME = "education_items"
MAX_ITEMS = 3
MAX_REPLY_TURNS = 2  # the first reply, plus one retry that quotes its validation error
# 1,000 users at ~1 s a call in about a minute needs ~16 calls in flight (8 would take ~2).
DEFAULT_MAX_WORKERS = 16


def reply_schema() -> dict[str, Any]:
    """The JSON schema of the contract (docs/recommendations.md), strict-mode ready: all keys required."""
    schema = GeneratedItems.model_json_schema()
    schema["properties"]["recommendations"]["maxItems"] = MAX_ITEMS
    return schema


class MalformedReply(ValueError):
    """The model answered, but not with the contract's JSON."""


def _strip_code_fence(text: str) -> str:
    # Some json_object-mode servers still wrap the object in ```json ... ```.
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped[3:-3].removeprefix("json").strip()
    return stripped


def parse_reply(text: str) -> list[GeneratedItem]:
    """The items of a reply (the first three if there are more); MalformedReply says what is wrong."""
    try:
        parsed = GeneratedItems.model_validate_json(_strip_code_fence(text))
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or 'reply'}: {problem['msg']}"
            for problem in error.errors(include_url=False)[:5]
        ]
        raise MalformedReply("; ".join(problems)) from error
    return parsed.recommendations[:MAX_ITEMS]


def _correction_turns(reply_text: str, problem: MalformedReply) -> list[dict[str, str]]:
    return [
        {"role": "assistant", "content": reply_text},
        {
            "role": "user",
            "content": (
                f"That reply does not match the required format: {problem}. Reply again with only the "
                'JSON object {"recommendations": [...]} holding 2 or 3 items, each with title, content, '
                "rationale, cited_facts and metadata exactly as described."
            ),
        },
    ]


class OpenAIGenerator:
    name = "openai"

    def __init__(
        self,
        client: ChatClient,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        prompts_dir: Path = PROMPTS_DIR,
        prices: dict[str, ModelPrice] = MODEL_PRICES,
    ):
        self.client = client
        self.model = client.model
        self.max_workers = max_workers
        self.prices = prices
        # Read once per run: every user of a persona gets the same prompt and version.
        self._prompts = {persona: load_prompt(persona, prompts_dir) for persona in PERSONAS}
        self._schema = reply_schema()

    def prompt_version(self, persona: str) -> str:
        return self._prompts[persona].version

    def generate(self, context: UserContext) -> GenerationResult:
        prompt = self._prompts[context.persona]
        messages = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": render_user_message(context)},
        ]
        started = time.perf_counter()
        items: list[GeneratedItem] = []
        error: str | None = None
        requests_made = input_tokens = output_tokens = 0
        try:
            for turn in range(1, MAX_REPLY_TURNS + 1):
                reply = self.client.complete(messages, SCHEMA_NAME, self._schema)
                requests_made += reply.attempts
                input_tokens += reply.input_tokens
                output_tokens += reply.output_tokens
                try:
                    items, error = parse_reply(reply.text), None
                    break
                except MalformedReply as problem:
                    error = f"malformed reply after {turn} turn(s): {problem}"
                    messages = messages + _correction_turns(reply.text, problem)
        except LLMCallError as failure:
            requests_made += failure.attempts
            error = str(failure)
        return GenerationResult(
            user_id=context.user_id,
            window_days=context.window_days,
            items=items,  # only ever set from a reply that validated
            generator=self.name,
            model=self.model,
            prompt_version=prompt.version,
            context_hash=context_hash(context),
            latency_ms=(time.perf_counter() - started) * 1000,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=estimate_cost_usd(self.model, input_tokens, output_tokens, self.prices),
            attempts=requests_made,
            error=error,
        )

    def generate_many(self, contexts: Sequence[UserContext]) -> list[GenerationResult]:
        """One result per context, in order; at most `max_workers` calls in flight."""
        if not contexts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(contexts))) as pool:
            return list(pool.map(self.generate, contexts))
