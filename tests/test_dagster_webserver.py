"""The Dagster UI, checked through its GraphQL endpoint: one connected lineage of daily-partitioned assets,
a secret that never shows (the OpenAI key is set, used by a run the UI launches, and absent from every
answer and log), and what a run of a partition leaves: WARN checks, source tests as checks, row counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.openai_server import ScriptedOpenAIServer
from tests.pipeline_runs import HANDMADE_AS_OF, copy_workspace, workspace_env

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
    "marts/persona_history",
    "marts/persona_transitions",
    "recs/recommendations",
    "review/approval_queue",
    "review/approved_recommendations",
    "eval/evaluation_metrics",
    "exports/parquet_exports",
}
# Runs start at once (no daemon in this test); everything else as in the repository's dagster.yaml.
INSTANCE_YAML = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""
FAKE_KEY = f"sk-test-{uuid.uuid4().hex}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webserver:
    def __init__(self, url: str, dagster_home: Path, stderr: Path):
        self.url, self.dagster_home, self.stderr = url, dagster_home, stderr
        self.answers: list[str] = []  # every GraphQL answer, as text

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        self.answers.append(response.text)
        return response.json()["data"]


@pytest.fixture(scope="module")
def openai_server():
    with ScriptedOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def webserver(basic_workspace: Path, tmp_path_factory: pytest.TempPathFactory, openai_server):
    """dagster-webserver on workspace.yaml with a fake OpenAI key in its environment, over a copy of the
    materialized hand-made workspace; the model is the local scripted server."""
    root = tmp_path_factory.mktemp("webserver")
    copy_workspace(basic_workspace, root / "workspace")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_TELEMETRY_DISABLED": "1"}
    extra = {"OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": openai_server.base_url}
    for key, value in workspace_env(
        root / "workspace", REPO_ROOT / "tests" / "datasets" / "handmade_basic", **extra
    ).items():
        env[key] = value
    port = _free_port()
    stderr = root / "webserver.log"
    executable = Path(sys.executable).parent / "dagster-webserver"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {stderr.read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield Webserver(url, dagster_home, stderr)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _asset_nodes(server: Webserver) -> list[dict]:
    # The code location loads asynchronously: poll until its assets appear.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        nodes = server.graphql(ASSETS_QUERY)["assetNodes"]
        if nodes:
            return nodes
        time.sleep(1)
    pytest.fail("no assets appeared in the Dagster UI")


def test_every_asset_is_in_one_connected_graph(webserver: Webserver):
    nodes = _asset_nodes(webserver)
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    assert EXPECTED_ASSETS <= keys, EXPECTED_ASSETS - keys
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    assert _ancestors("marts/user_personas", deps) >= {"raw/users", "raw/accounts", "raw/transactions"}
    assert "raw/transactions" in _ancestors("marts/user_features", deps)
    # Publishing is one unit: per-user files, then (after the read-back check) metrics and report.
    assert {"review/approved_recommendations", "exports/parquet_exports"} <= _ancestors(
        "eval/evaluation_metrics", deps
    )
    checks = {
        "/".join(n["assetKey"]["path"]): {c["name"] for c in n["assetChecksOrError"].get("checks", [])}
        for n in nodes
    }
    assert "row_conservation" in checks["raw/transactions"]
    assert "publishable" in checks["review/approved_recommendations"]
    assert "publishable" in checks["exports/parquet_exports"]
    assert "typed_decisions_applied" in checks["review/approval_queue"]
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


REPOSITORIES = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
RESOURCES = """
query ($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    ... on ResourceDetailsList { results { name configuredValues { key value type } } }
  }
}
"""
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN = """
query ($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status runConfigYaml tags { key value } } }
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""


def _selector(server: Webserver) -> dict:
    _asset_nodes(server)  # the code location is loaded
    (repository,) = server.graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
    return {"repositoryName": repository["name"], "repositoryLocationName": repository["location"]["name"]}


@pytest.fixture(scope="module")
def pipeline_run(webserver: Webserver) -> dict:
    """The daily job for the hand-made data's partition, launched through the UI's API and finished."""
    launched = webserver.graphql(
        LAUNCH,
        {
            "params": {
                "selector": {**_selector(webserver), "jobName": "spendsense_pipeline"},
                "runConfigData": {},
                "mode": "default",
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": HANDMADE_AS_OF}]},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 420
    while (run := webserver.graphql(RUN, {"runId": run_id}))["runOrError"]["status"] not in (
        "SUCCESS",
        "FAILURE",
    ):
        assert time.monotonic() < deadline, "the run did not finish within 420 s"
        time.sleep(1)
    assert run["runOrError"]["status"] == "SUCCESS", run["logsForRun"]
    return run


def test_the_openai_key_is_used_by_a_run_yet_absent_from_every_answer_and_log(
    webserver: Webserver, openai_server, pipeline_run: dict
):
    selector = _selector(webserver)

    resources = webserver.graphql(RESOURCES, {"selector": selector})
    (spendsense,) = [
        r for r in resources["allTopLevelResourceDetailsOrError"]["results"] if r["name"] == "spendsense"
    ]
    configured = {value["key"]: value for value in spendsense["configuredValues"]}
    assert configured["openai_api_key"]["type"] == "ENV_VAR"
    assert configured["openai_api_key"]["value"] == "OPENAI_API_KEY"

    # The key really reached the model server, so a leak would have had every chance to happen.
    assert openai_server.authorizations and set(openai_server.authorizations) == {f"Bearer {FAKE_KEY}"}
    assert all(FAKE_KEY not in answer for answer in webserver.answers)
    assert FAKE_KEY not in webserver.stderr.read_text(errors="replace")
    stored = [path for path in webserver.dagster_home.rglob("*") if path.is_file()]
    assert any(path.suffix in (".out", ".err", ".complete") for path in stored)  # compute logs were kept
    assert any(path.suffix == ".db" for path in stored)  # the run's event log
    leaking = [path for path in stored if FAKE_KEY.encode() in path.read_bytes()]
    assert leaking == []


OBSERVED = """
{ assetNodes {
    assetKey { path } isPartitioned partitionDefinition { type }
    assetChecksOrError { ... on AssetChecks { checks {
        name description executionForLatestMaterialization { evaluation { severity } }
    } } }
    assetMaterializations(limit: 1) {
        partition metadataEntries { label ... on IntMetadataEntry { intValue } }
    }
} }
"""


def test_a_partitions_run_shows_its_day_warn_checks_source_tests_and_row_counts(
    webserver: Webserver, pipeline_run: dict
):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in webserver.graphql(OBSERVED)["assetNodes"]}
    for key in EXPECTED_ASSETS:
        assert nodes[key]["isPartitioned"] and nodes[key]["partitionDefinition"]["type"] == "TIME_WINDOW", key
    tags = {tag["key"]: tag["value"] for tag in pipeline_run["runOrError"]["tags"]}
    assert tags["dagster/partition"] == HANDMADE_AS_OF

    checks = {
        (key, check["name"]): check
        for key, node in nodes.items()
        for check in node["assetChecksOrError"].get("checks", [])
    }
    for key, name in (
        ("recs/recommendations", "generation_failures"),
        ("eval/evaluation_metrics", "coverage"),
        ("eval/evaluation_metrics", "fairness_parity"),
    ):
        check = checks[(key, name)]
        assert check["description"], (key, name)
        assert check["executionForLatestMaterialization"]["evaluation"]["severity"] == "WARN", (key, name)
    # dbt's tests on the raw sources are checks of the ingest assets.
    assert any(key == "raw/transactions" and name.startswith("source_") for key, name in checks)

    for key in ("marts/user_features", "marts/user_personas", "marts/persona_history"):
        (materialization,) = nodes[key]["assetMaterializations"]
        assert materialization["partition"] == HANDMADE_AS_OF
        counts = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}
        assert counts.get("dagster/row_count", 0) > 0, (key, counts)
