"""What every recommendation generator offers, and the context hash that identifies its input."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Protocol

from spendsense_dagster.lib.recommend.models import GenerationResult, UserContext


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


def context_hash(context: UserContext) -> str:
    """sha256 of the context's canonical JSON (sorted keys, compact): equal contexts, equal hashes."""
    canonical = json.dumps(context.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
