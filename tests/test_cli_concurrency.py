"""`spendsense run` as processes on one warehouse (docs/orchestration.md, docs/review.md): a run killed
with SIGKILL during dbt leaves the last good marts; two runs started 2 s apart both succeed, one after
the other; and the decisions typed into the CSV, whose ids those runs made stale, are all kept with
their refusal reasons, and the CLI says so.

One scenario, run once for the module (each `spendsense run` costs tens of seconds), then checked by
the tests below: type decisions; start a run as of another date and kill it during dbt; start two
runs as of that date, 2 s apart.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from spendsense_dagster.lib.review.csv_decisions import DECISION_COLUMNS, UNAPPLIED_CSV_NAME
from tests.conftest import DATASETS
from tests.pipeline_runs import copy_workspace, query, workspace_env

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")
OTHER_AS_OF = "2025-06-29"
FEATURES = "select * from marts.user_features order by all"


@dataclass
class Scenario:
    root: Path
    last_good_features: list[tuple]
    typed: list[dict[str, str]]  # the rows an operator filled in
    killed: subprocess.CompletedProcess
    killed_dbt_log: str
    features_after_kill: list[tuple]
    first: subprocess.Popen
    second: subprocess.Popen
    outputs: tuple[str, str]


def _env(root: Path) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_TELEMETRY_DISABLED": "1"}
    for key, value in workspace_env(root, DATASETS / "handmade_basic").items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)
    return env


def _start_run(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [SPENDSENSE, "run", "--as-of", OTHER_AS_OF],
        cwd=root,
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches dbt too
    )


def _type_decisions(queue_csv: Path) -> list[dict[str, str]]:
    with queue_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames, list(reader)
    decided = [("approve", ""), ("approve", ""), ("reject", "not relevant to me")]
    for row, (decision, reason) in zip(rows, decided, strict=False):
        row.update(decision=decision, operator_id="op1", reason=reason)
    with queue_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return [row for row in rows if row["decision"]]


def _dbt_log_of(run: subprocess.Popen) -> Path | None:
    """The dbt.log of the run's own dbt process: dagster-dbt gives each invocation its target folder in
    DBT_TARGET_PATH, and other runs (tests on another pytest worker) have folders of their own."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            environ = (stat.parent / "environ").read_bytes().split(b"\0") if parent == run.pid else []
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        for entry in environ:
            if entry.startswith(b"DBT_TARGET_PATH="):
                return Path(os.fsdecode(entry.removeprefix(b"DBT_TARGET_PATH="))) / "dbt.log"
    return None


def _kill_during_dbt(root: Path) -> tuple[subprocess.CompletedProcess, str]:
    """Start a run and SIGKILL its process group once dbt starts building marts.user_features."""
    process = _start_run(root)
    deadline = time.monotonic() + 600
    log, seen = None, b""
    while b"START sql table model marts.user_features" not in seen:
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "dbt never reached marts.user_features"
        if log is None or not log.exists():
            log = _dbt_log_of(process)
            time.sleep(0.2)
            continue
        with log.open("rb") as handle:  # read only what was added since the last look
            handle.seek(len(seen))
            seen += handle.read()
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    output = process.communicate(timeout=60)[0]
    return subprocess.CompletedProcess(process.args, process.returncode, output), log.read_text(
        errors="replace"
    )


@pytest.fixture(scope="module")
def scenario(basic_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("concurrency")
    copy_workspace(basic_workspace, root)
    warehouse = root / "warehouse" / "spendsense.duckdb"
    last_good = query(warehouse, FEATURES)
    typed = _type_decisions(root / "review" / "approval_queue.csv")

    killed, dbt_log = _kill_during_dbt(root)
    features_after_kill = query(warehouse, FEATURES)  # readable, straight after the kill

    first = _start_run(root)
    time.sleep(2)
    second = _start_run(root)
    outputs = (first.communicate(timeout=900)[0], second.communicate(timeout=900)[0])
    return Scenario(root, last_good, typed, killed, dbt_log, features_after_kill, first, second, outputs)


def test_a_run_killed_during_dbt_leaves_the_last_good_marts(scenario: Scenario):
    assert scenario.killed.returncode == -signal.SIGKILL
    assert "START sql table model marts.user_features" in scenario.killed_dbt_log
    warehouse = scenario.root / "warehouse" / "spendsense.duckdb"
    features_now = query(warehouse, FEATURES)  # after the two complete runs, as of OTHER_AS_OF
    assert features_now != scenario.last_good_features
    # Each table is swapped in by one transaction: the kill left the old table or, had dbt already
    # committed it, the new one; never a missing or half-built table.
    committed = "OK created sql table model marts.user_features" in scenario.killed_dbt_log
    assert scenario.features_after_kill == (features_now if committed else scenario.last_good_features)


def test_two_runs_started_two_seconds_apart_both_succeed_one_after_the_other(scenario: Scenario):
    first_output, second_output = scenario.outputs
    assert scenario.first.returncode == 0, first_output[-3000:]
    assert scenario.second.returncode == 0, second_output[-3000:]
    # the run started second waited for the first; the lock is taken before the slow imports
    assert f"is in use by PID {scenario.first.pid} (another spendsense run), waiting" in second_output
    assert "(another spendsense run), waiting" not in first_output
    for output in scenario.outputs:
        assert f"as of {OTHER_AS_OF}" in output and "SpendSense run summary" in output
    warehouse = scenario.root / "warehouse" / "spendsense.duckdb"
    assert query(warehouse, "select distinct as_of_date::varchar from marts.user_features") == [
        (OTHER_AS_OF,)
    ]


def test_typed_decisions_whose_ids_went_stale_are_kept_with_their_reasons(scenario: Scenario):
    unapplied = scenario.root / "review" / UNAPPLIED_CSV_NAME
    with unapplied.open(newline="", encoding="utf-8") as handle:
        kept = list(csv.DictReader(handle))
    typed_cells = [[row[c] for c in ("recommendation_id", *DECISION_COLUMNS)] for row in scenario.typed]
    assert [[row[c] for c in ("recommendation_id", *DECISION_COLUMNS)] for row in kept] == typed_cells
    assert all(row["refusal_reason"].startswith("unknown recommendation id") for row in kept)
    assert all(row["first_refused_at"] for row in kept)
    warehouse = scenario.root / "warehouse" / "spendsense.duckdb"
    assert query(warehouse, "select count(*) from review.decisions") == [(0,)]  # none applied to new items
    for output in scenario.outputs:
        assert (
            f"WARNING check failed: review/approval_queue typed_decisions_applied: {len(kept)} typed"
            in output
        )
        assert str(unapplied) in output
