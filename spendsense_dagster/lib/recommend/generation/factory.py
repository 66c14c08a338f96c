"""The generator the settings call for (docs/recommendations.md)."""

from __future__ import annotations

from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.recommend.generation.base import RecommendationGenerator
from spendsense_dagster.lib.recommend.generation.cache import CachedGenerator
from spendsense_dagster.lib.recommend.generation.template_generator import TemplateGenerator


def make_generator(settings: Settings, *, max_workers: int | None = None) -> RecommendationGenerator:
    """OpenAI (behind the response cache) when a key is configured, else the offline templates.

    The OpenAI modules are imported only then: the openai package takes about a second to import,
    a fixed cost of every offline run otherwise. max_workers None: the OpenAI generator's default.
    """
    if settings.openai_api_key:
        from spendsense_dagster.lib.recommend.generation.llm_client import ChatClient
        from spendsense_dagster.lib.recommend.generation.openai_generator import (
            DEFAULT_MAX_WORKERS,
            OpenAIGenerator,
        )

        max_workers = DEFAULT_MAX_WORKERS if max_workers is None else max_workers
        client = ChatClient(
            api_key=settings.openai_api_key, model=settings.openai_model, base_url=settings.openai_base_url
        )
        return CachedGenerator(OpenAIGenerator(client, max_workers=max_workers), settings.cache_dir)
    return TemplateGenerator()
