"""Every path, secret and switch the pipeline reads from the environment, in one place.

Asset bodies never call os.getenv: they receive a `Settings` (through a Dagster resource or the CLI).
A `.env` file in the working directory is read first when present; real environment variables win.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The repository root: default data folders live under it, so the CLI works from any directory.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
CATALOG_PATH = PROJECT_ROOT / "data" / "product_catalog.json"

# docs/ingest.md: the original SpendSense files use amount < 0 for money leaving the account.
# Plaid's own convention is the opposite (positive = outflow); "plaid" flips the sign in staging.
AMOUNT_CONVENTIONS = ("spendsense", "plaid")


def _load_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blanks skipped); never overrides the environment."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _path(env: dict[str, str], name: str, default: str) -> Path:
    """A path setting: a value the user gives is relative to the working directory, a default to the repo."""
    if env.get(name):
        return Path(env[name]).expanduser().resolve()
    return PROJECT_ROOT / default


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse_path: Path
    review_dir: Path
    export_uri: str
    amount_convention: str = "spendsense"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    s3_endpoint_url: str | None = None

    @property
    def cache_dir(self) -> Path:
        """LLM response cache: beside the warehouse, so rebuilding tables keeps it."""
        return self.warehouse_path.parent / "llm_cache"

    @property
    def generator_name(self) -> str:
        """The offline template generator unless an OpenAI key is configured (docs/recommendations.md)."""
        return "openai" if self.openai_api_key else "template"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = {**_load_dotenv(Path.cwd() / ".env"), **(os.environ if environ is None else environ)}
        convention = env.get("SPENDSENSE_AMOUNT_CONVENTION", "spendsense").strip().lower()
        if convention not in AMOUNT_CONVENTIONS:
            raise ValueError(
                f"SPENDSENSE_AMOUNT_CONVENTION must be one of {AMOUNT_CONVENTIONS}, got {convention!r}"
            )
        export_uri = env.get("SPENDSENSE_EXPORT_URI", "")
        if not export_uri.startswith("s3://"):
            export_uri = str(_path(env, "SPENDSENSE_EXPORT_URI", "data/exports"))
        return cls(
            raw_dir=_path(env, "SPENDSENSE_RAW_DIR", "data/raw"),
            warehouse_path=_path(env, "SPENDSENSE_WAREHOUSE", "data/warehouse/spendsense.duckdb"),
            review_dir=_path(env, "SPENDSENSE_REVIEW_DIR", "data/review"),
            export_uri=export_uri,
            amount_convention=convention,
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None,
        )
