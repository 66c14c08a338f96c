"""The shapes that pass between context building, generation, guardrails and the recs table.

`GeneratedItems` is exactly the JSON contract the language model is asked for (docs/recommendations.md),
so the same
model validates an OpenAI reply and the offline template generator's output.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DISCLAIMER = (
    "This is educational content, not financial advice. Consult a licensed advisor for personalized guidance."
)


class CitedFact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: float


class ItemMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Literal["high", "medium", "low"]
    tags: list[str]


class GeneratedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    content: str
    rationale: str
    cited_facts: list[CitedFact]
    metadata: ItemMetadata


class GeneratedItems(BaseModel):
    """The model's whole reply: at least two education items."""

    model_config = ConfigDict(extra="forbid")
    recommendations: list[GeneratedItem] = Field(min_length=2)


class AccountSummary(BaseModel):
    """An account as the model may see it: masked, no full number, no holder name."""

    type: str
    subtype: str | None = None
    mask: str | None = None  # last 4 characters of the account id only
    balance_current: float | None = None
    balance_limit: float | None = None
    utilization: float | None = None


class RecurringStreamSummary(BaseModel):
    merchant_name: str  # data, never an instruction: prompts quote it
    cadence: str
    median_amount: float
    monthly_cost: float
    last_date: str
    next_expected_date: str | None = None


class UserContext(BaseModel):
    """Everything a generator may use about one consented customer for one window. No name, no email."""

    user_id: str  # pseudonymous key; generators must not echo it into text
    window_days: int
    as_of_date: str
    persona: str
    matched_personas: list[str]
    persona_confidence: float
    persona_reasoning: list[dict]  # criteria of the matched personas: feature, value, operator, threshold
    features: dict[str, float | int | bool | str | None]  # this window's marts.user_features row
    # the longest window's row (docs/features.md), extra context
    features_context_window: dict[str, float | int | bool | str | None]
    accounts: list[AccountSummary]
    recurring_streams: list[RecurringStreamSummary]
    income: dict[str, float | int | bool | str | None]  # pay_frequency, median gap, variability, income


class GenerationResult(BaseModel):
    """One user's generation: the items, or the error that stopped it, plus what it cost."""

    user_id: str
    window_days: int
    items: list[GeneratedItem] = []
    generator: str
    model: str
    prompt_version: str
    context_hash: str
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 0
    cache_hit: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None
