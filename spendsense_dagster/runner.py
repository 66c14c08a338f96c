"""Runs a job of the Definitions in-process for the CLI, then prints what it made."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.automation import as_of_run_config
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.evaluate.summary import warehouse_summary

JOBS = {"all": "spendsense_pipeline", "ingest": "spendsense_ingest"}
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs show in the UI), else a throwaway one."""
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def _root_cause(error) -> str:
    """The user-facing message: Dagster wraps the asset's own exception in its step error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_messages(result: dg.ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    """(problems, warnings): failed steps and failed ERROR checks; failed WARN checks, which the
    throwaway instance would otherwise discard with the rest of the metadata."""
    problems, warnings = [], []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            problems.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            line = f"check failed: {evaluation.asset_key.to_user_string()} {evaluation.check_name}"
            if evaluation.description:
                line += f": {evaluation.description}"
            (warnings if evaluation.severity == dg.AssetCheckSeverity.WARN else problems).append(line)
    return problems, warnings


def run_pipeline(as_of: date | None, selection: str = "all") -> int:
    """Run a job (the caller holds the warehouse's run lock, see cli.py) and print what it made."""
    settings = Settings.from_env()
    job = build_definitions(settings).resolve_job_def(JOBS[selection])
    with _instance() as instance:
        result = job.execute_in_process(
            # The summary below is the CLI's report; Dagster's step events stay in the UI / instance.
            run_config={**as_of_run_config(as_of.isoformat() if as_of else None), **QUIET_LOGS},
            instance=instance,
            raise_on_error=False,
        )
    problems, warnings = run_messages(result)
    for message in problems:
        print(f"ERROR {message}")
    for message in warnings:
        print(f"WARNING {message}")
    if not result.success:
        print(f"Run failed ({len(problems)} problem(s) above). Warehouse: {settings.warehouse_path}")
        return 1
    print(warehouse_summary(settings))
    return 0
