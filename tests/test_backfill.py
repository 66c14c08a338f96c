"""Daily as-of partitions through the CLI, as an operator types it: `spendsense run --as-of D` is one
partition, `spendsense backfill` a range run one partition at a time, skipping what is done unless
--force; the history marts keep every date, and the output stays short (no dbt per-node lines).

Small on purpose (12 generated users, four pipeline runs): the generator's drift makes a customer
who settled in recently subscription_heavy between the first date and the backfilled ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.pipeline_runs import query, workspace_env

SPENDSENSE = str(Path(sys.executable).parent / "spendsense")
AS_OF = date(2025, 6, 30)
EARLY = AS_OF - timedelta(days=45)  # before the drifting customers' third monthly charge
DBT_NODE_LINE = re.compile(r"\d+ of \d+ (START|OK|PASS|ERROR|WARN)")
HISTORY = "select * from marts.persona_history order by all"


def _spendsense(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_TELEMETRY_DISABLED": "1"}
    env.pop("DAGSTER_HOME", None)
    for key, value in workspace_env(root, root / "raw").items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)
    return subprocess.run(
        [SPENDSENSE, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("backfill")
    outputs: dict = {"root": root, "warehouse": root / "warehouse" / "spendsense.duckdb"}
    generated = _spendsense(
        root, "generate", "--users", "12", "--seed", "7", "--as-of", AS_OF.isoformat(), "--out", "raw"
    )
    assert generated.returncode == 0, generated.stderr
    steps = {
        "run": ("run", "--as-of", EARLY.isoformat()),
        "backfill": (
            "backfill",
            "--from",
            (AS_OF - timedelta(days=1)).isoformat(),
            "--to",
            AS_OF.isoformat(),
        ),
        "again": ("backfill", "--from", (AS_OF - timedelta(days=1)).isoformat(), "--to", AS_OF.isoformat()),
        "force": ("backfill", "--from", AS_OF.isoformat(), "--to", AS_OF.isoformat(), "--force"),
    }
    for name, args in steps.items():
        if name == "force":
            outputs["history_before_force"] = query(outputs["warehouse"], HISTORY)
        result = _spendsense(root, *args)
        assert result.returncode == 0, (name, result.stdout[-3000:], result.stderr[-3000:])
        outputs[name] = result.stdout
    outputs["history_after_force"] = query(outputs["warehouse"], HISTORY)
    return outputs


def test_a_run_prints_a_line_per_stage_and_logs_dbt_elsewhere(backfilled: dict):
    lines = backfilled["run"].splitlines()
    assert len(lines) <= 40, backfilled["run"]
    assert not [line for line in lines if DBT_NODE_LINE.search(line)]
    assert any(re.match(r"\s+dbt build .*done\s+[\d.]+ s$", line) for line in lines), lines
    assert any(re.match(r"\s+eval/evaluation_metrics\s+done", line) for line in lines), lines
    (log_line,) = [line for line in lines if line.startswith("dbt and step output: ")]
    log = Path(log_line.removeprefix("dbt and step output: "))
    assert DBT_NODE_LINE.search(log.read_text())  # dbt's own lines went to the file


def test_a_backfill_materializes_each_partition_into_the_history(backfilled: dict):
    output = backfilled["backfill"]
    assert f"[1/2] {AS_OF - timedelta(days=1)} materialized" in output
    assert f"[2/2] {AS_OF} materialized" in output
    customers = query(backfilled["warehouse"], "select count(*) from raw.users where user_type = 'customer'")
    rows = query(backfilled["warehouse"], "select as_of_date, count(*) from marts.persona_history group by 1")
    assert dict(rows) == {day: 2 * customers[0][0] for day in (EARLY, AS_OF - timedelta(days=1), AS_OF)}
    # user_features keeps its meaning: the latest run's date only
    features_dates = query(backfilled["warehouse"], "select distinct as_of_date from marts.user_features")
    assert features_dates == [(AS_OF,)]


def test_a_second_backfill_skips_what_is_done_and_force_rebuilds_identically(backfilled: dict):
    again = backfilled["again"]
    assert again.count("skipped: already materialized") == 2
    assert "0 materialized, 2 skipped" in again
    assert "skipped: already materialized" not in backfilled["force"]
    assert "[1/1] 2025-06-30 materialized" in backfilled["force"]
    assert backfilled["history_after_force"] == backfilled["history_before_force"]


def test_a_drifting_customer_shows_as_a_transition_with_the_features_that_crossed(backfilled: dict):
    rows = query(
        backfilled["warehouse"],
        "select from_as_of_date, to_as_of_date, from_persona, crossed_features"
        " from marts.persona_transitions where to_persona = 'subscription_heavy'",
    )
    assert rows, query(backfilled["warehouse"], "select * from marts.persona_transitions")
    for from_date, to_date, from_persona, crossed in rows:
        assert from_date < to_date and from_persona != "subscription_heavy"
        assert "recurring_merchants" in crossed


def test_a_date_after_today_is_refused_with_a_clear_message(tmp_path: Path):
    result = _spendsense(tmp_path, "run", "--as-of", (date.today() + timedelta(days=3)).isoformat())
    assert result.returncode == 2
    assert "after today" in result.stderr
