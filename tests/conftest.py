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
        subprocess.run([str(dbt), "parse", "--profiles-dir", ".", "--quiet"], cwd=DBT_PROJECT_DIR, check=True)


# The modules that take minutes (pipeline runs through the CLI, the Spark engine), slowest first: with
# `make pytest`'s workers taking whole modules in collection order, starting these first keeps one of
# them from running alone at the end.
SLOWEST_MODULES = (
    "test_spark_engine.py",
    "test_backfill.py",
    "test_cli_concurrency.py",
    "test_statements_pipeline.py",
    "test_dagster_webserver.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_MODULES.index(name) if name in SLOWEST_MODULES else len(SLOWEST_MODULES)

    items.sort(key=rank)  # stable: the order within a module, and of the other modules, stays


@pytest.fixture(scope="session")
def basic_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """handmade_basic run once through the whole pipeline; tests that change anything use `workspace`."""
    from tests.pipeline_runs import environment, run_pipeline, workspace_env

    root = tmp_path_factory.mktemp("basic")
    with environment(**workspace_env(root, DATASETS / "handmade_basic")):
        run_pipeline()
    return root


@pytest.fixture
def workspace(basic_workspace: Path, tmp_path: Path):
    """A private copy of the materialized workspace, with the environment pointing at it."""
    from tests.pipeline_runs import copy_workspace, environment, workspace_env

    copy_workspace(basic_workspace, tmp_path)
    with environment(**workspace_env(tmp_path, DATASETS / "handmade_basic")):
        yield tmp_path


# The hand-made review warehouse's fixtures (`warehouse`, `review_dir`), for every test module.
pytest_plugins = ["tests.review_warehouse"]
