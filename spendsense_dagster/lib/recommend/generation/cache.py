"""Content-addressed cache of generation results, so an unchanged user costs no model call next run.

Key = sha256(generator, model, prompt version, context hash). Any change to the user's numbers, the
prompt files or the model gives a new key; stale entries are simply never read again. One JSON file
per key, written atomically (core.files) so a crash never leaves a half-written entry.
Failures are not cached: the next run tries them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from spendsense_dagster.lib.core.files import write_atomically
from spendsense_dagster.lib.recommend.generation.base import RecommendationGenerator, context_hash
from spendsense_dagster.lib.recommend.models import GenerationResult, UserContext


def cache_key(generator: str, model: str, prompt_version: str, context_digest: str) -> str:
    # NUL separators: no two different tuples can join into the same string.
    joined = f"{generator}\0{model}\0{prompt_version}\0{context_digest}"
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


class ResultCache:
    """GenerationResults as JSON files under `cache_dir/<first 2 hex>/<key>.json`."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> GenerationResult | None:
        path = self._path(key)
        try:
            return GenerationResult.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValidationError, UnicodeDecodeError):
            # Written by an older shape of GenerationResult: a miss, overwritten after the new call.
            return None

    def put(self, key: str, result: GenerationResult) -> None:
        if result.failed:
            raise ValueError("failed generations are not cached")
        write_atomically(self._path(key), result.model_dump_json().encode("utf-8"))


_CACHE_HIT_USAGE = {
    "cache_hit": True,
    "attempts": 0,
    "latency_ms": 0.0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0,
}


class CachedGenerator:
    """Wraps a generator: cached users come back from disk, only the rest reach the inner generator."""

    def __init__(self, inner: RecommendationGenerator, cache_dir: Path):
        self.inner = inner
        self.cache = ResultCache(cache_dir)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    def prompt_version(self, persona: str) -> str:
        return self.inner.prompt_version(persona)

    def _key(self, context: UserContext) -> str:
        return cache_key(self.name, self.model, self.prompt_version(context.persona), context_hash(context))

    def generate_many(self, contexts: Sequence[UserContext]) -> list[GenerationResult]:
        keys = [self._key(context) for context in contexts]
        results: dict[int, GenerationResult] = {}
        for index, key in enumerate(keys):
            cached = self.cache.get(key)
            if cached is not None:
                # This run spent nothing on a cached user: no call, no tokens, no cost.
                results[index] = cached.model_copy(update=_CACHE_HIT_USAGE)
        missing = [index for index in range(len(contexts)) if index not in results]
        fresh = self.inner.generate_many([contexts[index] for index in missing])
        for index, result in zip(missing, fresh, strict=True):
            if not result.failed:
                self.cache.put(keys[index], result)
            results[index] = result
        return [results[index] for index in range(len(contexts))]
