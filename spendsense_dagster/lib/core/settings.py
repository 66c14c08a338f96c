"""Every path, secret and switch the pipeline reads from the environment, in one place.

Asset bodies never call os.getenv: they receive a `Settings` (through a Dagster resource or the CLI).
A `.env` file in the working directory is read first when present; real environment variables win.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

# The repository root: default data folders live under it, so the CLI works from any directory.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PROMPTS_DIR = PROJECT_ROOT / "prompts"
CATALOG_PATH = PROJECT_ROOT / "data" / "product_catalog.json"

# docs/ingest.md: the original SpendSense files use amount < 0 for money leaving the account.
# Plaid's own convention is the opposite (positive = outflow); "plaid" flips the sign in staging.
AMOUNT_CONVENTIONS = ("spendsense", "plaid")

# docs/scaling.md, "Engines": where dbt builds the models. duckdb: in the warehouse file (the default);
# spark: on Spark (dbt's `spark` target), the raw inputs and the marts as Parquet under `<warehouse>.spark/`.
ENGINES = ("duckdb", "spark")

# Secrets, by settings field: each is read from this environment variable, and Dagster resources take
# it as `dg.EnvVar(<name>)` so that its value never shows in the UI (docs/orchestration.md).
SECRET_ENV_VARS = {
    "openai_api_key": "OPENAI_API_KEY",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}

# Plausibility bounds of the ingest (docs/ingest.md): (environment variable, default). A configured
# bound may not exceed MAX_PLAUSIBILITY_BOUND, so sums and variances over accepted values stay finite.
PLAUSIBILITY_BOUNDS = {
    "max_abs_amount": ("SPENDSENSE_MAX_ABS_AMOUNT", 10_000_000.0),
    "max_abs_balance": ("SPENDSENSE_MAX_ABS_BALANCE", 1_000_000_000.0),
    "max_credit_limit": ("SPENDSENSE_MAX_CREDIT_LIMIT", 100_000_000.0),
    "max_apr": ("SPENDSENSE_MAX_APR", 100.0),
}
MAX_PLAUSIBILITY_BOUND = 1e12

# DuckDB's memory cap per connection (the pipeline's and dbt's): past it, big joins and sorts spill
# to the temp directory instead of growing. 3 GB keeps a 100,000-user run under 6 GB peak RSS with
# the Python process and dbt's beside it (docs/performance.md).
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"

# Recommendation shards (docs/scaling.md): the stage fans out into this many steps, users assigned by a
# stable hash of user_id. The bound keeps a typo from planning thousands of steps.
MAX_RECOMMENDATION_SHARDS = 1024
# Processes that run the guardrail checks of one shard step (docs/performance.md); by default one per
# CPU this process may use.
MAX_GUARDRAIL_WORKERS = 64
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


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


def _positive_number(env: dict[str, str], name: str, default: float, maximum: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not 0 < value <= maximum:
        raise ValueError(f"{name} must be greater than 0 and at most {maximum:g}, got {text!r}")
    return value


def _iso_date(env: dict[str, str], name: str) -> str | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {text!r}") from None


def _whole_number(env: dict[str, str], name: str, default: int, maximum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ValueError(f"{name} must be a whole number from 1 to {maximum}, got {text!r}")
    return int(text)


def _usable_cpus() -> int:
    return min(len(os.sched_getaffinity(0)), MAX_GUARDRAIL_WORKERS)


def _memory_limit(env: dict[str, str]) -> str:
    text = env.get("SPENDSENSE_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT
    if not _MEMORY_LIMIT.match(text):
        raise ValueError(f"SPENDSENSE_DUCKDB_MEMORY_LIMIT must be a size such as 3GB or 512MB, got {text!r}")
    return text


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
    # repr=False: a printed Settings (an error message, a log line) never shows a secret
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    s3_endpoint_url: str | None = None
    # None: boto3's own chain (profile, instance role, ...) finds the AWS credentials
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    # S3 attempts per request, the first included (AWS_MAX_ATTEMPTS)
    s3_max_attempts: int = 5
    # How long a run waits for a warehouse another process holds before it gives up (docs/orchestration.md)
    lock_wait_seconds: float = 600.0
    max_abs_amount: float = PLAUSIBILITY_BOUNDS["max_abs_amount"][1]
    max_abs_balance: float = PLAUSIBILITY_BOUNDS["max_abs_balance"][1]
    max_credit_limit: float = PLAUSIBILITY_BOUNDS["max_credit_limit"][1]
    max_apr: float = PLAUSIBILITY_BOUNDS["max_apr"][1]
    # First daily as-of partition, YYYY-MM-DD; None: 180 days before the latest data (docs/orchestration.md)
    partitions_start: str | None = None
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    # None: `<warehouse>.tmp` beside the warehouse file (see duckdb_config)
    duckdb_temp_directory: Path | None = None
    # Steps the recommendation stage fans out into (SPENDSENSE_RECOMMENDATION_SHARDS; docs/scaling.md)
    recommendation_shards: int = 1
    # Processes checking one shard's items (SPENDSENSE_GUARDRAIL_WORKERS; docs/performance.md)
    guardrail_workers: int = 1
    # dbt's engine (SPENDSENSE_ENGINE): "duckdb" or "spark" (docs/scaling.md, "Engines")
    engine: str = "duckdb"

    @property
    def spark_warehouse_dir(self) -> Path:
        """Spark's warehouse (Parquet table folders), metastore and raw inputs, beside the DuckDB file."""
        return Path(f"{self.warehouse_path}.spark")

    @property
    def duckdb_config(self) -> dict[str, str]:
        """DuckDB settings of every connection that writes the warehouse, the pipeline's and dbt's."""
        temp = self.duckdb_temp_directory or Path(f"{self.warehouse_path}.tmp")
        return {"memory_limit": self.duckdb_memory_limit, "temp_directory": str(temp)}

    @property
    def cache_dir(self) -> Path:
        """LLM response cache: beside the warehouse, so rebuilding tables keeps it."""
        return self.warehouse_path.parent / "llm_cache"

    @property
    def shards_dir(self) -> Path:
        """Per-run shard files of the recommendation stage, beside the warehouse (docs/scaling.md)."""
        return self.warehouse_path.parent / "shards"

    @property
    def generator_name(self) -> str:
        """The offline template generator unless an OpenAI key is configured (docs/recommendations.md)."""
        return "openai" if self.openai_api_key else "template"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from `environ`, or from the process environment and the `.env` file.

        Reading the process environment also copies the `.env` values into it (never over a value that
        is already set): Dagster resolves secrets from os.environ at run time (`dg.EnvVar`).
        """
        dotenv = _load_dotenv(Path.cwd() / ".env")
        if environ is None:
            for key, value in dotenv.items():
                os.environ.setdefault(key, value)
        env = {**dotenv, **(os.environ if environ is None else environ)}
        convention = env.get("SPENDSENSE_AMOUNT_CONVENTION", "spendsense").strip().lower()
        if convention not in AMOUNT_CONVENTIONS:
            raise ValueError(
                f"SPENDSENSE_AMOUNT_CONVENTION must be one of {AMOUNT_CONVENTIONS}, got {convention!r}"
            )
        engine = env.get("SPENDSENSE_ENGINE", "").strip().lower() or "duckdb"
        if engine not in ENGINES:
            raise ValueError(f"SPENDSENSE_ENGINE must be one of {ENGINES}, got {engine!r}")
        temp_dir = env.get("SPENDSENSE_DUCKDB_TEMP_DIR", "").strip()
        export_uri = env.get("SPENDSENSE_EXPORT_URI", "")
        if not export_uri.startswith("s3://"):
            export_uri = str(_path(env, "SPENDSENSE_EXPORT_URI", "data/exports"))
        return cls(
            raw_dir=_path(env, "SPENDSENSE_RAW_DIR", "data/raw"),
            warehouse_path=_path(env, "SPENDSENSE_WAREHOUSE", "data/warehouse/spendsense.duckdb"),
            review_dir=_path(env, "SPENDSENSE_REVIEW_DIR", "data/review"),
            export_uri=export_uri,
            amount_convention=convention,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None,
            s3_max_attempts=int(_positive_number(env, "AWS_MAX_ATTEMPTS", 5, 20)),
            lock_wait_seconds=_positive_number(env, "SPENDSENSE_LOCK_WAIT_SECONDS", 600.0, 86_400.0),
            partitions_start=_iso_date(env, "SPENDSENSE_PARTITIONS_START"),
            duckdb_memory_limit=_memory_limit(env),
            duckdb_temp_directory=_path(env, "SPENDSENSE_DUCKDB_TEMP_DIR", "") if temp_dir else None,
            recommendation_shards=_whole_number(
                env, "SPENDSENSE_RECOMMENDATION_SHARDS", 1, MAX_RECOMMENDATION_SHARDS
            ),
            guardrail_workers=_whole_number(
                env, "SPENDSENSE_GUARDRAIL_WORKERS", _usable_cpus(), MAX_GUARDRAIL_WORKERS
            ),
            engine=engine,
            **{name: env.get(variable) or None for name, variable in SECRET_ENV_VARS.items()},
            **{
                name: _positive_number(env, variable, default, MAX_PLAUSIBILITY_BOUND)
                for name, (variable, default) in PLAUSIBILITY_BOUNDS.items()
            },
        )
