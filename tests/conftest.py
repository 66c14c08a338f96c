"""Shared test setup: telemetry off, the dbt manifest built before Dagster definitions are imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Tests never reach OpenAI: an inherited key would switch the default generator.
os.environ.pop("OPENAI_API_KEY", None)

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DATASETS = Path(__file__).resolve().parent / "datasets"


def pytest_configure(config: pytest.Config) -> None:
    """spendsense_dagster.defs.transform reads target/manifest.json at import: make sure it exists."""
    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        dbt = Path(sys.executable).parent / "dbt"
        subprocess.run(
            [str(dbt), "parse", "--profiles-dir", ".", "--quiet"], cwd=DBT_PROJECT_DIR, check=True
        )


@pytest.fixture
def spendsense_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point every setting at a fresh folder; returns a function that sets the raw input folder."""
    monkeypatch.setenv("SPENDSENSE_WAREHOUSE", str(tmp_path / "warehouse" / "spendsense.duckdb"))
    monkeypatch.setenv("SPENDSENSE_REVIEW_DIR", str(tmp_path / "review"))
    monkeypatch.setenv("SPENDSENSE_EXPORT_URI", str(tmp_path / "exports"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    def use_raw_dir(raw_dir: Path) -> Path:
        monkeypatch.setenv("SPENDSENSE_RAW_DIR", str(raw_dir))
        return tmp_path

    return use_raw_dir
