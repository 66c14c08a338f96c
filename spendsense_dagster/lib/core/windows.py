"""The feature windows, read from dbt's vars (`window_days` in dbt_project.yml): one source for both sides.

Recommendations are written for the shortest window; the longest adds context (docs/features.md).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR


def load_windows(project_file: Path = DBT_PROJECT_DIR / "dbt_project.yml") -> tuple[int, ...]:
    """The configured windows in days, shortest first."""
    config = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    windows = tuple(sorted(int(days) for days in config["vars"]["window_days"]))
    if not windows:
        raise ValueError(f"{project_file}: vars.window_days must list at least one window")
    return windows


WINDOWS = load_windows()
RECOMMENDATION_WINDOW = WINDOWS[0]
CONTEXT_WINDOW = WINDOWS[-1]
