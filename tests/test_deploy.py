"""deploy/: what can be checked without a cluster (deploy/README.md). Every YAML parses and holds what
the Kubernetes setup relies on; the instance file passes Dagster's own schema; the Dockerfile copies
only what the repository has; the code location module the chart serves exists and steps out per pod."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from spendsense_dagster.lib.core.settings import Settings
from tests.conftest import REPO_ROOT
from tests.pipeline_runs import environment, workspace_env

DEPLOY = REPO_ROOT / "deploy"
CODE_LOCATION_MODULE = "spendsense_dagster.k8s_definitions"
SECRET_NAMES = re.compile(r"KEY|SECRET|TOKEN|PASSWORD", re.IGNORECASE)


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _deployment() -> dict:
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    return deployment


def test_every_yaml_in_deploy_parses():
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {f.relative_to(DEPLOY).as_posix() for f in files} >= {"helm/values.yaml", "dagster.yaml"}
    for path in files:
        documents = list(yaml.safe_load_all(path.read_text()))
        assert documents and all(isinstance(d, dict) for d in documents), path


def test_helm_values_launch_runs_on_kubernetes_with_postgres_storage():
    values = _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["loadInclusterConfig"] is True
    assert values["postgresql"]["enabled"] is True
    # The password is a Secret created beforehand, never a value rendered from this file.
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == values["postgresql"]["existingSecret"]
    assert "postgresqlPassword" not in values["postgresql"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    assert coordinator["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] == 1


def test_the_code_location_serves_the_k8s_module_with_secrets_from_kubernetes_secrets():
    values = _values()
    assert values["dagster-user-deployments"]["enabled"] is True
    deployment = _deployment()
    assert deployment["dagsterApiGrpcArgs"] == ["-m", CODE_LOCATION_MODULE]
    assert importlib.util.find_spec(CODE_LOCATION_MODULE.rsplit(".", 1)[0]) is not None
    assert (REPO_ROOT / Path(*CODE_LOCATION_MODULE.split("."))).with_suffix(".py").is_file()
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    env = {entry["name"]: entry["value"] for entry in deployment["env"]}
    # Only plain settings as values; every secret comes from a Secret.
    assert not [name for name in env if SECRET_NAMES.search(name)]
    assert {s["name"] for s in deployment["envSecrets"]} == {
        "spendsense-openai",
        "spendsense-aws",
        "spendsense-spark",
    }
    shards = env["SPENDSENSE_RECOMMENDATION_SHARDS"]
    # More than one, and a count the settings accept.
    settings = Settings.from_env({"SPENDSENSE_RECOMMENDATION_SHARDS": shards})
    assert settings.recommendation_shards == int(shards) > 1
    # The warehouse and the other paths are on the volume every pod mounts.
    (mount,) = deployment["volumeMounts"]
    for name in ("SPENDSENSE_WAREHOUSE", "SPENDSENSE_RAW_DIR", "SPENDSENSE_REVIEW_DIR"):
        assert env[name].startswith(mount["mountPath"] + "/"), name
    (volume,) = deployment["volumes"]
    assert volume["name"] == mount["name"] and volume["persistentVolumeClaim"]["claimName"]


def test_the_instance_file_passes_dagsters_schema(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    postgres_env = {f"DAGSTER_PG_{name}": "x" for name in ("HOST", "USERNAME", "PASSWORD", "DB")}
    with environment(**postgres_env):
        config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert "postgres" in config["storage"]
    assert config["concurrency"] == {"pools": {"default_limit": 1}, "runs": {"max_concurrent_runs": 1}}
    # The launcher's own config schema, when dagster-k8s is installed (the `k8s` extra).
    pytest.importorskip("dagster_k8s")
    from dagster._config.validate import validate_config
    from dagster_k8s import K8sRunLauncher

    result = validate_config(K8sRunLauncher.config_type(), config["run_launcher"]["config"])
    assert result.success, result.errors


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_copies_what_the_repository_has_and_parses_dbt_at_build_time():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copies = [shlex.split(args) for kind, args in instructions if kind == "COPY"]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
    runs = " ".join(args for kind, args in instructions if kind == "RUN")
    assert "pip install -e '.[k8s]'" in runs
    assert "dbt parse" in runs
    # The image's default command serves the module the chart names.
    (cmd,) = [args for kind, args in instructions if kind == "CMD"]
    assert CODE_LOCATION_MODULE in cmd
    # Everything the package reads from the repository root is copied: dbt, prompts, catalog, listings.
    copied = {source for *sources, _ in copies for source in sources}
    assert {"dbt_project/models", "dbt_project/macros", "dbt_project/seeds", "prompts"} <= copied
    assert {"data/product_catalog.json", "data/guardrails"} <= copied


def test_the_k8s_code_location_runs_each_step_in_its_own_pod(tmp_path: Path):
    pytest.importorskip("dagster_k8s")
    from spendsense_dagster.k8s_definitions import build_k8s_definitions

    with environment(**workspace_env(tmp_path, tmp_path / "raw", SPENDSENSE_RECOMMENDATION_SHARDS="8")):
        defs = build_k8s_definitions(Settings.from_env())
    job = defs.resolve_job_def("spendsense_pipeline")
    assert job.executor_def.name == "k8s"
    assert "io_manager" in defs.resources
    nodes = {node.name for node in job.graph.nodes}
    assert "recs__recommendations" in nodes
