"""Recommendation shards (docs/scaling.md): a stable user hash, the setting, and the same table from one
shard as from four, with the offline templates and with the real openai client against a local
server; consent re-read at guardrail time inside a shard."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import pytest
from rich.console import Console

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.recommend import RECS_KEY
from spendsense_dagster.defs.resources import SpendSenseResource
from spendsense_dagster.lib.core.settings import MAX_GUARDRAIL_WORKERS, MAX_RECOMMENDATION_SHARDS, Settings
from spendsense_dagster.lib.recommend import assemble
from spendsense_dagster.lib.recommend.shards import shard_of, users_of_shard
from spendsense_dagster.lib.review.consent_log import ConsentChange, consent_log_path
from spendsense_dagster.lib.review.jsonl_log import append_jsonl, utc_now_iso
from spendsense_dagster.runner import StageProgress
from tests.openai_server import ScriptedOpenAIServer, items_for
from tests.pipeline_runs import (
    HANDMADE_AS_OF,
    copy_workspace,
    current_partition,
    environment,
    query,
    run_pipeline,
    workspace_env,
)

USERS = 40


# --- the hash -------------------------------------------------------------------------------------


def test_a_users_shard_is_md5_based_and_the_same_in_every_process():
    # Pinned, and the same in a process with another hash seed (Python's salted hash() would not be).
    pinned = {user_id: shard_of(user_id, 4) for user_id in ("user_00001", "user_00002", "c1", "c2")}
    code = (
        "from spendsense_dagster.lib.recommend.shards import shard_of;"
        "print({u: shard_of(u, 4) for u in ('user_00001', 'user_00002', 'c1', 'c2')})"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "1"}
    )
    assert other_process.stdout.strip() == str(pinned)
    assert pinned == {"user_00001": 3, "user_00002": 2, "c1": 1, "c2": 0}


def test_shards_split_users_evenly_and_one_shard_holds_everyone():
    user_ids = [f"user_{n:05d}" for n in range(2000)]
    sizes = Counter(shard_of(user_id, 4) for user_id in user_ids)
    assert set(sizes) == {0, 1, 2, 3}
    assert all(400 <= size <= 600 for size in sizes.values()), sizes
    assert users_of_shard(user_ids, 0, 1) == user_ids
    parts = [users_of_shard(user_ids, k, 4) for k in range(4)]
    assert sorted(sum(parts, [])) == user_ids
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("u", 0)


# --- the setting ----------------------------------------------------------------------------------


def test_the_shard_count_defaults_to_one_and_reaches_the_resource():
    assert Settings.from_env({}).recommendation_shards == 1
    settings = Settings.from_env({"SPENDSENSE_RECOMMENDATION_SHARDS": " 4 "})
    assert settings.recommendation_shards == 4
    assert SpendSenseResource.from_settings(settings).settings.recommendation_shards == 4


@pytest.mark.parametrize("text", ["0", "-1", "2.5", "four", str(MAX_RECOMMENDATION_SHARDS + 1)])
def test_a_bad_shard_count_is_refused_with_the_variable_named(text: str):
    with pytest.raises(ValueError, match=r"SPENDSENSE_RECOMMENDATION_SHARDS must be a whole number from 1"):
        Settings.from_env({"SPENDSENSE_RECOMMENDATION_SHARDS": text})


def test_guardrail_workers_default_to_the_usable_cpus_and_reach_the_resource():
    assert Settings.from_env({}).guardrail_workers == min(len(os.sched_getaffinity(0)), MAX_GUARDRAIL_WORKERS)
    settings = Settings.from_env({"SPENDSENSE_GUARDRAIL_WORKERS": "3"})
    assert SpendSenseResource.from_settings(settings).settings.guardrail_workers == 3
    for text in ["0", "1.5", "many", str(MAX_GUARDRAIL_WORKERS + 1)]:
        with pytest.raises(ValueError, match=r"SPENDSENSE_GUARDRAIL_WORKERS must be a whole number from 1"):
            Settings.from_env({"SPENDSENSE_GUARDRAIL_WORKERS": text})


# --- the stage, 1 shard against 4 -----------------------------------------------------------------


@pytest.fixture(scope="module")
def one_shard_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 generated users through the whole pipeline with the default single shard."""
    root = tmp_path_factory.mktemp("shards")
    raw = root / "raw"
    spendsense = Path(sys.executable).parent / "spendsense"
    subprocess.run(
        [str(spendsense), "generate", "--users", str(USERS), "--seed", "7", "--as-of", HANDMADE_AS_OF,
         "--consent-rate", "0.6", "--out", str(raw)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with environment(**workspace_env(root, raw, SPENDSENSE_RECOMMENDATION_SHARDS=None)):
        run_pipeline()
    return root


def _recommendations_only(
    raise_on_error: bool = True, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """recs/recommendations (and its checks) alone, on the warehouse the environment names."""
    defs = build_definitions(Settings.from_env())
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets,
        selection=dg.AssetSelection.assets(RECS_KEY),
        resources=defs.resources,
        partition_key=current_partition(),
        raise_on_error=raise_on_error,
        instance=instance,
    )


def _cli_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """What `spendsense run` prints for this run's events (its StageProgress listener)."""
    console = Console(file=io.StringIO(), width=120)
    progress = StageProgress(console, print_stages=True)
    for entry in instance.all_logs(run_id):
        progress(entry)
    return console.file.getvalue().splitlines()


def _tables(root: Path, *varying: str) -> tuple[list[tuple], list[tuple]]:
    """recs.recommendations and recs.llm_calls in stored order, without generated_at and `varying`."""
    warehouse = root / "warehouse" / "spendsense.duckdb"
    left_out = ", ".join(("generated_at", *varying))
    recommendations = query(warehouse, f"select * exclude ({left_out}) from recs.recommendations")
    calls_left_out = f" exclude ({', '.join(varying)})" if varying else ""
    calls = query(warehouse, f"select *{calls_left_out} from recs.llm_calls")
    return recommendations, calls


def _step_keys(result: dg.ExecuteInProcessResult) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type_value == "STEP_SUCCESS"]


@pytest.mark.parametrize("shards", [4, 16])
def test_more_shards_give_the_same_table_as_one(one_shard_workspace: Path, tmp_path: Path, shards: int):
    copy_workspace(one_shard_workspace, tmp_path)
    expected = _tables(one_shard_workspace)
    consenting_customers = {call[0] for call in expected[1]}
    assert len(expected[0]) > 0 and len(consenting_customers) >= 8

    env = workspace_env(tmp_path, tmp_path / "raw", SPENDSENSE_RECOMMENDATION_SHARDS=str(shards))
    with environment(**env), dg.DagsterInstance.ephemeral() as instance:
        result = _recommendations_only(instance=instance)
        cli_lines = _cli_lines(instance, result.run_id)
    # The CLI prints one line for the whole stage.
    (line,) = cli_lines
    assert re.match(rf"\s+recs/recommendations, {shards} shards\s+done\s+[\d.]+ s$", line), cli_lines
    steps = _step_keys(result)
    assert sorted(s for s in steps if "generate_shard" in s) == sorted(
        f"recs__recommendations.generate_shard[shard_{k}]" for k in range(shards)
    )
    assert steps[-1] == "recs__recommendations.combine_shards"
    # Ids, texts, guardrail status and findings, call log: row for row, in the same order.
    assert _tables(tmp_path) == expected
    (materialization,) = result.asset_materializations_for_node("recs__recommendations")
    assert materialization.metadata["shards"].value == shards
    assert materialization.metadata["dagster/row_count"].value == len(expected[0])
    assert all(check.passed for check in result.get_asset_check_evaluations())
    # The shard files served their purpose: the run's folder is gone once the combine committed.
    assert not any((tmp_path / "warehouse" / "shards").glob("*/*.parquet"))


def test_guardrails_in_worker_processes_give_the_same_table_as_one_process(
    one_shard_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The fixture ran the checks in the step's process (40 users are below the workers' minimum);
    here three worker processes check a slice of the users each."""
    copy_workspace(one_shard_workspace, tmp_path)
    expected = _tables(one_shard_workspace)
    assert len({call[0] for call in expected[1]}) >= 3 * 3  # every worker gets several users
    monkeypatch.setattr(assemble, "MIN_USERS_FOR_WORKERS", 1)
    spawned = []
    real_pool = assemble.ProcessPoolExecutor

    def counting_pool(*args, **kwargs):
        spawned.append(kwargs["max_workers"])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(assemble, "ProcessPoolExecutor", counting_pool)
    with environment(**workspace_env(tmp_path, tmp_path / "raw", SPENDSENSE_GUARDRAIL_WORKERS="3")):
        _recommendations_only()
    assert spawned == [3]
    assert _tables(tmp_path) == expected


def test_four_shards_give_the_same_items_as_one_through_the_openai_client(
    one_shard_workspace: Path, tmp_path: Path
):
    results = {}
    with ScriptedOpenAIServer() as server:
        for shards in (1, 4):
            root = tmp_path / f"shards_{shards}"
            copy_workspace(one_shard_workspace, root)
            env = workspace_env(
                root,
                root / "raw",
                OPENAI_API_KEY="test-key",
                OPENAI_BASE_URL=server.base_url,
                SPENDSENSE_RECOMMENDATION_SHARDS=str(shards),
            )
            before = len(server.requests)
            with environment(**env):
                _recommendations_only()
            results[shards] = _tables(root, "latency_ms")
            users = len(results[shards][1])
            assert len(server.requests) - before == users > 0  # one call per user, no cache shared
    generators = query(
        tmp_path / "shards_4" / "warehouse" / "spendsense.duckdb",
        "select distinct generator from recs.recommendations order by 1",
    )
    assert generators == [("catalog",), ("openai",)]
    assert results[4] == results[1]


def test_a_revoke_during_generation_blocks_the_items_of_a_shard_already_generating(
    one_shard_workspace: Path, tmp_path: Path
):
    """Consent is read when a shard starts and again at its guardrail time. Every consenting customer
    revokes while the first shard waits for the model: that shard's items are all blocked for consent,
    and the shards that start afterwards leave the revoked users out."""
    copy_workspace(one_shard_workspace, tmp_path)
    review_dir = tmp_path / "review"
    customers = {call[0] for call in _tables(one_shard_workspace)[1]}
    revoked = []

    def revoke_everyone_then_answer(request: dict) -> list[dict]:
        if not revoked:
            now = utc_now_iso()
            changes = [asdict(ConsentChange(now, user_id, "revoke", "test")) for user_id in sorted(customers)]
            append_jsonl(consent_log_path(review_dir), changes)
            revoked.extend(customers)
        return items_for(request)

    with ScriptedOpenAIServer(items=revoke_everyone_then_answer) as server:
        env = workspace_env(
            tmp_path,
            tmp_path / "raw",
            OPENAI_API_KEY="test-key",
            OPENAI_BASE_URL=server.base_url,
            SPENDSENSE_RECOMMENDATION_SHARDS="4",
        )
        with environment(**env):
            result = _recommendations_only(raise_on_error=False)

    rows = query(
        tmp_path / "warehouse" / "spendsense.duckdb",
        "select user_id, guardrail_status, guardrail_findings from recs.recommendations",
    )
    assert revoked and rows
    for user_id, status, findings in rows:
        assert user_id in customers
        assert status == "block"
        assert "consent" in {finding["check"] for finding in json.loads(findings)}
    # Only the first shard's users got items; the blocking check reports them.
    assert len({user_id for user_id, *_ in rows}) < len(customers)
    checks = {check.check_name: check.passed for check in result.get_asset_check_evaluations()}
    assert checks["only_consenting_customers"] is False
