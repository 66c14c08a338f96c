"""What every recommendation generator offers, and the one the settings call for (SPEC §6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from spendsense_dagster.lib.generator_openai import DEFAULT_MAX_WORKERS, OpenAIGenerator
from spendsense_dagster.lib.generator_template import TemplateGenerator
from spendsense_dagster.lib.llm_cache import CachedGenerator
from spendsense_dagster.lib.llm_client import ChatClient
from spendsense_dagster.lib.recommendation_models import GenerationResult, UserContext
from spendsense_dagster.lib.settings import Settings


class RecommendationGenerator(Protocol):
    @property
    def name(self) -> str:
        """The generator's label, `openai` or `template`: recorded with every item."""
        ...

    @property
    def model(self) -> str: ...

    def prompt_version(self, persona: str) -> str:
        """The version of the prompt (or templates) used for this persona: part of the cache key."""
        ...

    def generate_many(self, contexts: Sequence[UserContext]) -> list[GenerationResult]:
        """One result per context, in the same order; a user whose generation fails has `error` set
        and no items, and the other users are still generated."""
        ...


def make_generator(settings: Settings, *, max_workers: int = DEFAULT_MAX_WORKERS) -> RecommendationGenerator:
    """OpenAI (behind the response cache) when a key is configured, else the offline templates."""
    if settings.openai_api_key:
        client = ChatClient(
            api_key=settings.openai_api_key, model=settings.openai_model, base_url=settings.openai_base_url
        )
        return CachedGenerator(OpenAIGenerator(client, max_workers=max_workers), settings.cache_dir)
    return TemplateGenerator()
