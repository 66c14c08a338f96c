"""The LLM stage against a local OpenAI-compatible server that answers in about 1 s (docs/performance.md).

Usage: python scripts/benchmark_llm.py [USERS]   (default 75, the default dataset). Runs the whole
pipeline twice with the `openai` generator and prints calls, cache hits and wall time of each run.
Uses the test suite's scripted server (tests/openai_server.py), so run it from the repository root.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from spendsense_dagster.lib.synthetic.dataset import generate_dataset  # noqa: E402 (after sys.path)
from tests.openai_server import ScriptedOpenAIServer  # noqa: E402
from tests.pipeline_runs import environment, query, run_pipeline, workspace_env  # noqa: E402

AS_OF = "2025-06-30"


def main(users: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="spendsense-llm-bench-"))
    generate_dataset(root / "raw", users=users, as_of=date.fromisoformat(AS_OF))
    with ScriptedOpenAIServer(delay_s=1.0) as server:
        env = workspace_env(root, root / "raw", OPENAI_API_KEY="bench", OPENAI_BASE_URL=server.base_url)
        with environment(**env):
            warehouse = root / "warehouse" / "spendsense.duckdb"
            print(
                f"{'run':>4} {'users':>6} {'requests':>9} {'cache hits':>11} "
                f"{'pipeline s':>11} {'llm stage s':>12}"
            )
            for run in (1, 2):
                before = len(server.requests)
                started = time.perf_counter()
                result = run_pipeline(AS_OF)
                wall = time.perf_counter() - started
                llm_s = (
                    result.asset_materializations_for_node("recs__recommendations")[0]
                    .metadata["generation_seconds"]
                    .value
                )
                users_, hits = query(
                    warehouse, "select count(*), count(*) filter (cache_hit) from recs.llm_calls"
                )[0]
                requests = len(server.requests) - before
                print(f"{run:>4} {users_:>6} {requests:>9} {hits:>11} {wall:>11.1f} {llm_s:>12.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 75)
