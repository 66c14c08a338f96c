"""One writer at a time without failures: a run waits for a warehouse another process holds
(docs/orchestration.md)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.locks import WarehouseBusy, connect_warehouse, run_lock
from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR, Settings
from tests.pipeline_runs import current_partition, environment

NOTEBOOK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("select 1").fetchall()
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def notebook(warehouse: Path, seconds: float):
    """Another process holding an idle read-only connection (an analyst's notebook) for `seconds`."""
    process = subprocess.Popen(
        [sys.executable, "-c", NOTEBOOK, str(warehouse), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_a_writer_waits_for_a_notebook_and_says_who_holds_the_file(warehouse):
    messages: list[str] = []
    with notebook(warehouse, 1.5) as holder:
        started = time.monotonic()
        con = connect_warehouse(warehouse, wait_seconds=30, on_wait=messages.append)
        waited = time.monotonic() - started
    con.execute("create table t as select 1 as x")
    con.close()
    assert waited >= 1.0
    assert len(messages) == 1 and f"is in use by PID {holder.pid}" in messages[0] and "waiting" in messages[0]


def test_the_wait_is_bounded_and_the_error_names_the_holder(warehouse):
    with notebook(warehouse, 30) as holder:
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match=rf"still in use by PID {holder.pid} .*after waiting 1 s"):
            connect_warehouse(warehouse, wait_seconds=1, on_wait=lambda message: None)
        assert time.monotonic() - started < 5


def test_other_errors_are_not_retried(tmp_path):
    (tmp_path / "not_a_database.duckdb").write_text("plain text")
    with pytest.raises(duckdb.Error):
        connect_warehouse(tmp_path / "not_a_database.duckdb", wait_seconds=30, on_wait=pytest.fail)


def test_runs_take_the_run_lock_one_after_the_other(warehouse):
    order: list[str] = []
    messages: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with run_lock(warehouse, wait_seconds=10):
            first_holds.set()
            time.sleep(1.0)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait(5)
    with run_lock(warehouse, wait_seconds=10, on_wait=messages.append):
        order.append("second runs")
    thread.join()
    assert order == ["first done", "second runs"]
    assert messages and "another spendsense run" in messages[0] and "PID" in messages[0]
    with run_lock(warehouse, wait_seconds=10):  # released: taken at once
        pass


def test_the_publish_job_waits_for_a_notebook_instead_of_failing(workspace: Path):
    warehouse = workspace / "warehouse" / "spendsense.duckdb"
    job = build_definitions(Settings.from_env()).resolve_job_def("spendsense_publish")
    partition = current_partition()
    with notebook(warehouse, 2.0) as holder, dg.DagsterInstance.ephemeral() as instance:
        started = time.monotonic()
        result = job.execute_in_process(instance=instance, raise_on_error=False, partition_key=partition)
        waited = time.monotonic() - started
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success and waited >= 1.5
    assert any(f"is in use by PID {holder.pid}" in message for message in logged)  # it said why it waited


def test_dbt_retries_the_connection_while_a_notebook_holds_the_file(workspace: Path, tmp_path: Path):
    warehouse = workspace / "warehouse" / "spendsense.duckdb"
    log = tmp_path / "dbt_logs" / "dbt.log"
    dbt_executable = str(Path(sys.executable).parent / "dbt")
    command = [
        dbt_executable, "run", "--profiles-dir", ".", "--select", "stg_spendsense__users", "--quiet",
        "--log-path", str(log.parent), "--log-level-file", "debug",
        "--target-path", str(tmp_path / "target"),  # not the project's: other pytest workers use it
    ]  # fmt: skip
    with notebook(warehouse, 300) as holder, environment(SPENDSENSE_WAREHOUSE=str(warehouse)):
        dbt = subprocess.Popen(
            command, cwd=DBT_PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 120
        while "Opening a new connection" not in (log.read_text() if log.exists() else ""):
            assert dbt.poll() is None and time.monotonic() < deadline, "dbt never tried to connect"
            time.sleep(0.1)
        time.sleep(2.0)  # its first attempts meet the notebook's lock
        assert dbt.poll() is None  # waiting, not failed
        holder.kill()
        holder.wait()
        output = dbt.communicate(timeout=300)[0]
    assert dbt.returncode == 0, output[-2000:]


def test_secrets_reach_the_resource_only_as_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-resource")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-secret")
    monkeypatch.setenv("SPENDSENSE_WAREHOUSE", str(tmp_path / "w.duckdb"))
    settings = Settings.from_env()
    assert "sk-test-resource" not in repr(settings) and "aws-test-secret" not in repr(settings)

    resource = SpendSenseResource.from_settings(settings)

    # configured as the variables' names (what the UI shows); resolved only when a run starts
    assert isinstance(resource.openai_api_key, dg.EnvVar) and resource.openai_api_key == "OPENAI_API_KEY"
    assert isinstance(resource.aws_secret_access_key, dg.EnvVar)
    assert "sk-test-resource" not in repr(resource) and "aws-test-secret" not in repr(resource)
    resolved = resource.process_config_and_initialize()
    assert (resolved.openai_api_key, resolved.aws_secret_access_key) == (
        "sk-test-resource",
        "aws-test-secret",
    )

    monkeypatch.delenv("OPENAI_API_KEY")  # a key that did not come from the environment is refused
    with pytest.raises(ValueError, match="must come from the environment variable OPENAI_API_KEY"):
        SpendSenseResource.from_settings(settings)


def test_a_read_only_connection_in_this_process_is_waited_for_too(warehouse):
    reader = duckdb.connect(str(warehouse), read_only=True)  # e.g. a notebook kernel running the pipeline
    threading.Timer(1.0, reader.close).start()
    messages: list[str] = []
    con = connect_warehouse(warehouse, wait_seconds=30, on_wait=messages.append)
    con.close()
    assert messages and "this process" in messages[0]
