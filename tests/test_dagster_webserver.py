"""The Dagster UI loads workspace.yaml and shows one lineage: checked through its GraphQL endpoint."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT

ASSETS_QUERY = """
{ assetNodes {
    assetKey { path } groupName dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
} }
"""
EXPECTED_ASSETS = {
    "raw/users",
    "raw/accounts",
    "raw/transactions",
    "raw/liabilities",
    "raw/products",
    "marts/user_features",
    "marts/recurring_streams",
    "marts/user_personas",
    "recs/recommendations",
    "review/approval_queue",
    "review/approved_recommendations",
    "eval/evaluation_metrics",
    "exports/parquet_exports",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(tmp_path: Path):
    port = _free_port()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_TELEMETRY_DISABLED": "1"}
    executable = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _asset_nodes(url: str) -> list[dict]:
    # The code location loads asynchronously: poll until its assets appear.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = requests.post(f"{url}/graphql", json={"query": ASSETS_QUERY}, timeout=30)
        response.raise_for_status()
        nodes = response.json()["data"]["assetNodes"]
        if nodes:
            return nodes
        time.sleep(1)
    pytest.fail("no assets appeared in the Dagster UI")


def test_every_asset_is_in_one_connected_graph(webserver: str):
    nodes = _asset_nodes(webserver)
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    assert EXPECTED_ASSETS <= keys, EXPECTED_ASSETS - keys
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    assert _ancestors("marts/user_personas", deps) >= {"raw/users", "raw/accounts", "raw/transactions"}
    assert "raw/transactions" in _ancestors("marts/user_features", deps)
    assert {"review/approved_recommendations", "eval/evaluation_metrics"} <= _ancestors(
        "exports/parquet_exports", deps
    )
    checks = {
        "/".join(n["assetKey"]["path"]): {c["name"] for c in n["assetChecksOrError"].get("checks", [])}
        for n in nodes
    }
    assert "row_conservation" in checks["raw/transactions"]
    assert "publishable" in checks["review/approved_recommendations"]
    # dbt data tests arrive as asset checks on the models they test.
    assert any(name.startswith("not_null") for name in checks["marts/user_features"])


def _ancestors(key: str, deps: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(deps.get(key, ()))
    while stack:
        parent = stack.pop()
        if parent not in seen:
            seen.add(parent)
            stack.extend(deps.get(parent, ()))
    return seen
