"""Runs partitions of the Definitions' jobs in-process for the CLI: one line per stage, then a summary.

dbt's own lines (dagster-dbt writes them to stdout) go to a log file whose path is printed, or to the
terminal with --verbose. The caller holds the warehouse's run lock (see cli.py).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.status import Status
from rich.text import Text

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.automation import run_tags
from spendsense_dagster.defs.partitions import default_as_of, partitions_start, utc_today
from spendsense_dagster.defs.recommend import LAST_STEP as RECS_LAST_STEP
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.evaluate.summary import materialized_as_of_dates, warehouse_summary

JOBS = {"all": "spendsense_pipeline", "ingest": "spendsense_ingest"}
# Dagster's console logger stays silent: StageProgress prints the stages, failures' root causes and the
# run's own warnings (e.g. waiting for a warehouse another process holds).
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# dagster-dbt warns that the relationships test between two sources (raw.transactions -> raw.accounts)
# is an observation rather than a check: it is still run and recorded; not worth a line of every run.
_QUIET_WARNINGS = ("Logging an `AssetObservation` instead of an `AssetCheckResult`",)
# Step keys that read better under another name; the others are asset keys with "__" for "/".
STAGE_NAMES = {"spendsense_dbt_models": "dbt build (features, personas, history)"}
# The last step of each graph-backed asset: its line stands for all the asset's steps (e.g. one line for
# the recommendation stage whatever its shard count, "recs/recommendations, 4 shards" when sharded).
LAST_GRAPH_STEPS = {RECS_LAST_STEP}


class PartitionError(ValueError):
    """An as-of date outside the daily partitions."""


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


def stage_name(step_key: str) -> str:
    """A step key as a stage: `raw__users` -> `raw/users`; a step of a graph-backed asset keeps its op
    name, and a fanned-out step its mapping key: `recs/recommendations.generate_shard[shard_0]`."""
    return STAGE_NAMES.get(step_key, step_key.replace("__", "/"))


@dataclass
class GraphStage:
    """The steps of one graph-backed asset so far (the sharded recommendations): one line for them all."""

    seconds: float = 0.0
    mapped_steps: int = 0

    def line_name(self, node: str) -> str:
        name = stage_name(node)
        return f"{name}, {self.mapped_steps} shards" if self.mapped_steps > 1 else name


@dataclass
class StageProgress:
    """Listens to a run's events: a spinner while a stage runs, a line with its duration when it ends."""

    console: Console
    print_stages: bool
    prefix: str = ""
    started: dict[str, float] = field(default_factory=dict)
    graphs: dict[str, GraphStage] = field(default_factory=dict)
    status: Status | None = None

    def __call__(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.level >= logging.WARNING and not entry.user_message.startswith(_QUIET_WARNINGS):
                self.console.print(f"WARNING {entry.user_message}", markup=False)
            return
        if event.step_key is None:
            return
        if event.event_type_value == "STEP_START":
            self.started[event.step_key] = time.monotonic()
            self._spin(f"{self.prefix}{stage_name(event.step_key)} …")
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.stop()
            seconds = time.monotonic() - self.started.get(event.step_key, time.monotonic())
            ok = event.event_type_value == "STEP_SUCCESS"
            name = stage_name(event.step_key)
            node, _, op = event.step_key.partition(".")
            if ok and op:
                # A step inside a graph-backed asset: one line for the asset, when its last step ends.
                graph = self.graphs.setdefault(node, GraphStage())
                graph.seconds += seconds
                graph.mapped_steps += "[" in op
                if event.step_key not in LAST_GRAPH_STEPS:
                    return
                name, seconds = graph.line_name(node), self.graphs.pop(node).seconds
            if self.print_stages or not ok:
                outcome = "done" if ok else "FAILED"
                # markup=False: a mapped step's "[shard_0]" is text, not a rich style tag.
                self.console.print(f"  {name:<44}{outcome:>7}{seconds:>8.1f} s", markup=False)

    def _spin(self, text: str) -> None:
        self.stop()
        if self.console.is_terminal:
            self.status = self.console.status(Text(text))  # plain text, no markup
            self.status.start()

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def dbt_log_path(settings: Settings, as_of: date) -> Path:
    """Where a run's dbt lines go: beside the warehouse, one file per as-of date (the last run's)."""
    return settings.warehouse_path.parent / "logs" / f"run-{as_of.isoformat()}.log"


@contextmanager
def _stdout_to(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as log, redirect_stdout(log):
        yield


def check_partition(as_of: date) -> None:
    if as_of > utc_today():
        raise PartitionError(f"as-of date {as_of} is after today (UTC): there is no partition for it yet")


def _definitions(settings: Settings, earliest: date) -> dg.Definitions:
    """The Definitions, their partitions reaching back to `earliest` when it is before the usual start."""
    start = partitions_start(settings)
    return build_definitions(settings, start=min(start, earliest))


def _run_partition(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    as_of: date,
    tags: dict[str, str],
    progress: StageProgress,
    log_path: Path | None,
) -> dg.ExecuteInProcessResult:
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, progress)
    try:
        with _stdout_to(log_path):
            return job.execute_in_process(
                partition_key=as_of.isoformat(),
                # The CLI prints its own lines; Dagster's step events stay in the instance / UI.
                run_config=QUIET_LOGS,
                instance=instance,
                run_id=run_id,
                tags=tags,
                raise_on_error=False,
            )
    finally:
        progress.stop()


def _report(result: dg.ExecuteInProcessResult, console: Console) -> tuple[int, int]:
    problems, warnings = run_messages(result)
    for message in problems:
        console.print(f"ERROR {message}", markup=False, highlight=False)
    for message in warnings:
        console.print(f"WARNING {message}", markup=False, highlight=False)
    return len(problems), len(warnings)


def run_pipeline(as_of: date | None, selection: str = "all", verbose: bool = False) -> int:
    """Materialize one partition (the latest data's date when `as_of` is None) and print what it made."""
    settings = Settings.from_env()
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    as_of = as_of or default_as_of(settings)
    check_partition(as_of)
    job = _definitions(settings, as_of).resolve_job_def(JOBS[selection])
    log_path = None if verbose else dbt_log_path(settings, as_of)
    console.print(f"SpendSense {selection if selection != 'all' else 'run'} as of {as_of}")
    with _instance() as instance:
        result = _run_partition(
            job,
            instance,
            as_of,
            run_tags(as_of.isoformat(), settings.generator_name, "cli"),
            StageProgress(console, print_stages=True),
            log_path,
        )
    if log_path is not None:
        console.print(f"dbt and step output: {log_path}", markup=False)
    problems, _ = _report(result, console)
    if not result.success:
        console.print(f"Run failed ({problems} problem(s) above). Warehouse: {settings.warehouse_path}")
        return 1
    console.print(warehouse_summary(settings), markup=False)
    return 0


def backfill(first: date, last: date, force: bool = False, verbose: bool = False) -> int:
    """Materialize the partitions first..last one at a time (the warehouse has one writer), oldest first.

    A partition whose run completed (its metrics row is in eval.evaluation_metrics) is skipped unless
    `force`: a backfill that stopped resumes where it failed when typed again.
    """
    if last < first:
        raise PartitionError(f"--to {last} is before --from {first}")
    check_partition(last)
    settings = Settings.from_env()
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    done = set() if force else materialized_as_of_dates(settings)
    job = _definitions(settings, first).resolve_job_def(JOBS["all"])
    console.print(f"SpendSense backfill {first} .. {last}: {len(days)} partition(s), one at a time")
    made, skipped = 0, []
    with _instance() as instance:
        for number, day in enumerate(days, start=1):
            label = f"[{number}/{len(days)}] {day}"
            if day in done:
                skipped.append(day)
                console.print(f"{label} skipped: already materialized (--force rebuilds it)")
                continue
            started = time.monotonic()
            result = _run_partition(
                job,
                instance,
                day,
                run_tags(day.isoformat(), settings.generator_name, "backfill"),
                StageProgress(console, print_stages=verbose, prefix=f"{label} "),
                None if verbose else dbt_log_path(settings, day),
            )
            _report(result, console)
            if not result.success:
                console.print(
                    f"{label} FAILED; its output: {dbt_log_path(settings, day)}. Type the same command"
                    " again to resume: the partitions done so far are skipped."
                )
                return 1
            made += 1
            console.print(f"{label} materialized in {time.monotonic() - started:.1f} s")
    console.print(
        f"backfill done: {made} materialized, {len(skipped)} skipped as already materialized"
        + (" (--force rebuilds them)" if skipped else "")
    )
    return 0
