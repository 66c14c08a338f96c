"""Times the generator and the pipeline for 1,000 and 10,000 users. Not a test: prints figures.

Usage: python scripts/benchmark.py [USERS ...]   (default: 1000 10000). Data goes to data/bench/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AS_OF = "2025-06-30"


def _timed(command: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench(users: int) -> dict[str, float | int]:
    folder = REPO_ROOT / "data" / "bench" / str(users)
    raw_dir, warehouse = folder / "raw", folder / "spendsense.duckdb"
    env = {
        **os.environ,
        "SPENDSENSE_RAW_DIR": str(raw_dir),
        "SPENDSENSE_WAREHOUSE": str(warehouse),
        "SPENDSENSE_REVIEW_DIR": str(folder / "review"),
        "SPENDSENSE_EXPORT_URI": str(folder / "exports"),
        "DAGSTER_TELEMETRY_DISABLED": "1",
    }
    env.pop("OPENAI_API_KEY", None)
    warehouse.unlink(missing_ok=True)
    spendsense = str(BIN / "spendsense")
    generate_args = ["generate", "--users", str(users), "--as-of", AS_OF, "--out", str(raw_dir)]
    figures: dict[str, float | int] = {"users": users}
    figures["generate_s"] = _timed([spendsense, *generate_args, "--format", "ndjson"], env)
    figures["ingest_s"] = _timed([spendsense, "ingest", "--as-of", AS_OF], env)
    dbt_vars = json.dumps({"as_of_date": AS_OF})
    dbt = [str(BIN / "dbt"), "run", "--profiles-dir", ".", "--vars", dbt_vars, "--quiet"]
    figures["dbt_models_s"] = _timed(dbt, env, cwd=REPO_ROOT / "dbt_project")
    figures["full_run_s"] = _timed([spendsense, "run", "--as-of", AS_OF], env)
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures["transactions"] = con.execute("select count(*) from raw.transactions").fetchall()[0][0]
    return figures


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [1000, 10000]
    print(
        f"{'users':>8} {'transactions':>13} {'generate s':>11} {'ingest s':>9} "
        f"{'dbt run s':>10} {'full run s':>11}"
    )
    for users in sizes:
        f = bench(users)
        print(
            f"{f['users']:>8} {f['transactions']:>13,} {f['generate_s']:>11.1f} {f['ingest_s']:>9.1f}"
            f" {f['dbt_models_s']:>10.1f} {f['full_run_s']:>11.1f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
