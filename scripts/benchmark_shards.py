"""The recommendation stage with 1 and with N shards on the same warehouse (docs/scaling.md).

Usage: python scripts/benchmark_shards.py [USERS] [SHARDS]   (default 2000 users, 4 shards). Builds a
warehouse once with the whole pipeline, then materializes `recs/recommendations` alone, alternating
1 and N shards (twice each), with the offline templates and, with --openai, with the openai client
against the test suite's local server answering in 0.2 s. Prints wall time, step times and the load
average. The in-process executor runs the shard steps one after another: this measures the cost of
sharding on one machine, not the speed-up of pods. Run it from the repository root.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402 (after sys.path)

from spendsense_dagster.definitions import build_definitions  # noqa: E402
from spendsense_dagster.defs.recommend import RECS_KEY  # noqa: E402
from spendsense_dagster.lib.core.settings import Settings  # noqa: E402
from spendsense_dagster.lib.synthetic.dataset import generate_dataset  # noqa: E402
from tests.openai_server import ScriptedOpenAIServer  # noqa: E402
from tests.pipeline_runs import current_partition, environment, query, run_pipeline, workspace_env  # noqa: E402

AS_OF = "2025-06-30"


def _stage(shards: int) -> tuple[float, dict[str, float]]:
    """Wall seconds of materializing the stage alone, and seconds per step."""
    with environment(SPENDSENSE_RECOMMENDATION_SHARDS=str(shards)):
        defs = build_definitions(Settings.from_env())
        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = dg.materialize(
                assets,
                selection=dg.AssetSelection.assets(RECS_KEY),
                resources=defs.resources,
                partition_key=current_partition(),
                instance=instance,
            )
            wall = time.perf_counter() - started
            logs = instance.all_logs(result.run_id)
    starts, steps = {}, {}
    for entry in logs:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key.split(".", 1)[-1]] = entry.timestamp - starts[event.step_key]
    return wall, steps


def _print_runs(label: str, shards: int) -> None:
    for count in (1, shards, 1, shards):
        # A cold response cache every time: otherwise only the first openai run would make calls.
        shutil.rmtree(Settings.from_env().cache_dir, ignore_errors=True)
        wall, steps = _stage(count)
        generate = [s for key, s in steps.items() if key.startswith("generate_shard")]
        print(
            f"{label:<9} {count:>6} {wall:>7.1f} {steps['plan_shards']:>6.2f}"
            f" {sum(generate):>9.1f} {max(generate):>9.1f} {steps['combine_shards']:>8.2f}"
            f"   load {os.getloadavg()[0]:.2f}"
        )


def main(users: int, shards: int, with_openai: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="spendsense-shard-bench-"))
    generate_dataset(root / "raw", users=users, as_of=date.fromisoformat(AS_OF))
    with environment(**workspace_env(root, root / "raw")):
        run_pipeline(AS_OF)
        consenting = query(root / "warehouse" / "spendsense.duckdb", "select count(*) from recs.llm_calls")
        print(f"{users} users, {consenting[0][0]} generations; load average {os.getloadavg()[0]:.2f}")
        print(
            f"{'generator':<9} {'shards':>6} {'wall s':>7} {'plan s':>6} {'shards s':>9} {'slowest s':>9}"
            f" {'combine s':>8}"
        )
        _print_runs("template", shards)
        if with_openai:
            with ScriptedOpenAIServer(delay_s=0.2) as server:
                with environment(OPENAI_API_KEY="bench", OPENAI_BASE_URL=server.base_url):
                    _print_runs("openai", shards)


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(
        int(arguments[0]) if arguments else 2000,
        int(arguments[1]) if len(arguments) > 1 else 4,
        "--openai" in sys.argv,
    )
