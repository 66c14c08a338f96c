"""`spendsense run` as an operator types it, on a folder the generator did not make (with broken rows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.conftest import DATASETS, REPO_ROOT
from tests.pipeline_runs import HANDMADE_AS_OF, query, workspace_env

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")


def _cli_env(root: Path) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_TELEMETRY_DISABLED": "1"}
    for key, value in workspace_env(root, DATASETS / "unused").items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)
    return env


def test_broken_records_are_quarantined_and_valid_users_are_unchanged(basic_workspace: Path, tmp_path: Path):
    broken = DATASETS / "handmade_broken"
    result = subprocess.run(
        [SPENDSENSE, "run", "--raw-dir", str(broken), "--as-of", HANDMADE_AS_OF],
        cwd=tmp_path,
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "customers per persona and window" in result.stdout
    warehouse = tmp_path / "warehouse" / "spendsense.duckdb"

    # The pipeline's catalog is data/product_catalog.json, not the folder's: ingest tests cover products.
    expected = [
        (e["entity"], e["record_key"], e["reason"])
        for e in json.loads((broken / "expected_rejections.json").read_text())
        if e["entity"] != "products"
    ]
    rejected = query(
        warehouse, "select entity, record_key, reason from raw.rejected_records where entity != 'products'"
    )
    assert Counter(rejected) == Counter(expected)
    for table in ("marts.user_features", "marts.user_personas", "marts.recurring_streams"):
        sql = f"select * from {table} order by all"
        assert query(warehouse, sql) == query(basic_workspace / "warehouse" / "spendsense.duckdb", sql), table


def test_a_file_that_is_not_json_fails_the_run_with_its_name(tmp_path: Path):
    result = subprocess.run(
        [SPENDSENSE, "ingest", "--raw-dir", str(DATASETS / "not_json")],
        cwd=REPO_ROOT,
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "synthetic_users.json" in result.stdout and "line" in result.stdout
