"""One chat completion through the official `openai` SDK, with our own retries, format fallback and pricing.

The SDK's built-in retries are off (`max_retries=0`) so that every attempt, wait and failure is ours to
count and report. Works with any OpenAI-compatible server (`base_url`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import openai


@dataclass(frozen=True)
class ModelPrice:
    input_usd_per_million: float
    output_usd_per_million: float


# Published list prices (USD per 1M tokens); extend or pass your own dict for other models.
MODEL_PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(0.15, 0.60),
    "gpt-4o": ModelPrice(2.50, 10.00),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40),
}


def estimate_cost_usd(
    model: str, input_tokens: int, output_tokens: int, prices: dict[str, ModelPrice] = MODEL_PRICES
) -> float:
    """Cost at the price of the longest known model name that `model` starts with (dated snapshots
    like gpt-4o-mini-2024-07-18 cost what their family costs); unknown models (local servers) cost 0."""
    families = [name for name in prices if model.startswith(name)]
    if not families:
        return 0.0
    price = prices[max(families, key=len)]
    return (input_tokens * price.input_usd_per_million + output_tokens * price.output_usd_per_million) / 1e6


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 20.0  # a server asking for minutes must not stall the whole run

    def backoff_s(self, failed_attempt: int, retry_after_s: float | None) -> float:
        """Wait before the next attempt: the server's Retry-After (capped), else exponential with jitter."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (failed_attempt - 1))
        # "Equal jitter": at least half the ceiling, so concurrent workers spread out but still back off.
        return ceiling / 2 + random.random() * ceiling / 2


class LLMCallError(Exception):
    """A chat completion that did not succeed; `attempts` requests were made."""

    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class ChatReply:
    text: str
    input_tokens: int
    output_tokens: int
    attempts: int  # HTTP requests made, including retries


def _is_retryable(error: openai.OpenAIError) -> bool:
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return False


def _retry_after_s(error: openai.OpenAIError) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` as seconds or HTTP date)."""
    if not isinstance(error, openai.APIStatusError):
        return None
    headers = error.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return float(value)
            except ValueError:
                return (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError):
        return None
    return None


def _rejects_json_schema(error: openai.BadRequestError) -> bool:
    text = f"{error} {error.body}".lower()
    return "response_format" in text or "json_schema" in text


def describe_error(error: openai.OpenAIError) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "request timed out"
    if isinstance(error, openai.APIConnectionError):
        return f"connection error: {error}"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"
    return f"{type(error).__name__}: {error}"


class ChatClient:
    """A chat-completions client asking for structured JSON output, with retries and backoff.

    Asks for `json_schema` structured output; the first 400 that rejects it switches this client to
    `json_object` for the rest of its life (one client per run), so older servers still work.
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model = model
        self.retry = retry
        self.structured_output = "json_schema"
        self._sleep = sleep
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)

    def _response_format(self, schema_name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self.structured_output == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "strict": True, "schema": schema},
            }
        return {"type": "json_object"}

    def complete(self, messages: list[dict[str, str]], schema_name: str, schema: dict[str, Any]) -> ChatReply:
        """The assistant's text for `messages`; raises LLMCallError when retries are exhausted."""
        requests_made = 0
        failed_attempts = 0
        while True:
            requests_made += 1
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    temperature=0,
                    response_format=self._response_format(schema_name, schema),
                )
            except openai.BadRequestError as error:
                if self.structured_output == "json_schema" and _rejects_json_schema(error):
                    # Not a failed attempt: the server only lacks json_schema; ask again in json_object mode.
                    self.structured_output = "json_object"
                    continue
                raise LLMCallError(describe_error(error), requests_made) from error
            except openai.OpenAIError as error:
                failed_attempts += 1
                if not _is_retryable(error):
                    raise LLMCallError(describe_error(error), requests_made) from error
                if failed_attempts >= self.retry.max_attempts:
                    raise LLMCallError(
                        f"gave up after {failed_attempts} attempts: {describe_error(error)}", requests_made
                    ) from error
                self._sleep(self.retry.backoff_s(failed_attempts, _retry_after_s(error)))
                continue
            usage = response.usage
            return ChatReply(
                text=(response.choices[0].message.content or "") if response.choices else "",
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
                attempts=requests_made,
            )
