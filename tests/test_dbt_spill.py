"""dbt's DuckDB connection keeps working after a query spilled to the temp directory (docs/performance.md).

dbt-duckdb runs a profile's `settings` as SET statements on every new cursor, and DuckDB refuses to
set temp_directory again once a query has spilled there. A 100,000-user build spills, so the profile
gives memory_limit and temp_directory when dbt opens the file (`config_options`). Here a copy of the
project gets two extra models: the first sorts more than the memory limit holds, the second reads it
on a new cursor.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from spendsense_dagster.defs.resources import dbt_executable
from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR

SPILLING_MODEL = """
{{ config(materialized='table') }}
-- About 80 MB of rows sorted under a 64 MB limit: the sort spills to the temp directory.
select range as n, hash(range) as h from range(5000000) order by h
"""
READING_MODEL = "select count(*) as n from {{ ref('spills') }}"


def _project_with_spilling_models(root: Path) -> Path:
    project = root / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "spill_check").mkdir()
    (project / "models" / "spill_check" / "spills.sql").write_text(SPILLING_MODEL)
    (project / "models" / "spill_check" / "after_spill.sql").write_text(READING_MODEL)
    return project


def _dbt_run(project: Path, warehouse: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "SPENDSENSE_WAREHOUSE": str(warehouse),
        "SPENDSENSE_DUCKDB_MEMORY_LIMIT": "64MB",
        "DO_NOT_TRACK": "1",
    }
    return subprocess.run(
        [dbt_executable(), "run", "--profiles-dir", ".", "--select", "spills", "after_spill"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )


def test_a_model_after_a_spill_runs_and_per_cursor_settings_would_fail(tmp_path: Path):
    project = _project_with_spilling_models(tmp_path)
    warehouse = tmp_path / "spendsense.duckdb"
    result = _dbt_run(project, warehouse)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Completed successfully" in result.stdout

    # The same build with the two settings under `settings` (per cursor), as the profile had them.
    profile = project / "profiles.yml"
    text = profile.read_text()
    assert text.count("      config_options:\n") == 1
    profile.write_text(text.replace("      config_options:\n", "      settings:\n"))
    warehouse.unlink()
    result = _dbt_run(project, warehouse)
    assert result.returncode != 0
    assert "Cannot switch temporary directory" in result.stdout
