"""Times the generator and `spendsense run`, and prints one table. Not a test: prints figures.

Usage: python scripts/benchmark.py [--runs N] [USERS ...]   (default: 75 5000 10000; `make bench`)
       python scripts/benchmark.py --runs 1 100000                             (`make bench-large`)

Per size: generate the data (75 users: the default JSON files; larger: Parquet), then run the whole
pipeline `--runs` times on a fresh warehouse, each a separate `spendsense run` process. The table
shows the last run (the steady state of a daily run: dbt's parse state kept) and the first run's
total. Data goes to data/bench/<users>/. Columns (docs/performance.md):

  generate      `spendsense generate` wall time
  ingest        the raw/* steps (Dagster step stats)
  dbt models    dbt's own time for models and seeds, dbt tests its time for data tests: sums over
                nodes as run_results.json reports them (2 threads, so they may exceed the step)
  python        the recommendation, review and evaluation steps
  total         wall time of the `spendsense run` process, start-up included
  peak RSS      the most memory the run's process tree (CLI + dbt) held at once (/proc, every 200 ms)
  dbt/scan      the dbt step (features + personas) over a bare DuckDB aggregate scan of
                raw.transactions in the same warehouse, timed right after the run
  CPU s         user + system seconds of the run's process tree: on a shared machine, compare these
  load          the mean 1-minute load average while the run ran (2 cores: above 2, others waited)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET = REPO_ROOT / "dbt_project" / "target"
AS_OF = "2025-06-30"
DBT_STEP = "spendsense_dbt_models"
BARE_SCAN = (
    "select user_id, count(*), sum(amount), min(date), max(date) from raw.transactions group by user_id"
)


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _run(command: list[str], env: dict[str, str]) -> tuple[float, int, float, float]:
    """(wall seconds, peak RSS bytes of the process tree, its CPU seconds, the mean load average
    while it ran); output discarded, failure raises. CPU seconds (user + system of the process and
    every descendant it waited for, dbt included) hardly change with other work on the machine,
    unlike wall time: compare them between runs made on a busy machine."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # stdout too: `spendsense run` prints a failed step's error there.
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak, loads = 0, []
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            loads.append(_load_average())
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    output, _ = process.communicate()
    done.set()
    poller.join()
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output.decode()[-3000:]}")
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return elapsed, peak, cpu, sum(loads) / max(len(loads), 1)


def _step_seconds(dagster_home: Path) -> tuple[str, dict[str, float]]:
    """(run id, step key -> seconds) of the latest run in the benchmark's Dagster instance."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs(limit=1)
        stats = instance.get_run_step_stats(run.run_id)
    return run.run_id, {s.step_key: s.end_time - s.start_time for s in stats if s.end_time and s.start_time}


def _dbt_node_seconds(run_id: str) -> dict[str, float]:
    """Seconds dbt reports per kind of node (model, seed, test) for the run's dbt invocation."""
    [results] = TARGET.glob(f"{DBT_STEP}-{run_id[:8]}-*/run_results.json")
    totals: dict[str, float] = {}
    for result in json.loads(results.read_text())["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        totals[kind] = totals.get(kind, 0.0) + result["execution_time"]
    return totals


def _bare_scan_seconds(warehouse: Path) -> float:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(BARE_SCAN).fetchall()  # warm: the run just wrote the file, as for the dbt step
        started = time.perf_counter()
        con.execute(BARE_SCAN).fetchall()
        return time.perf_counter() - started


def bench(users: int, runs: int) -> dict[str, float]:
    folder = REPO_ROOT / "data" / "bench" / str(users)
    raw_dir, warehouse = folder / "raw", folder / "spendsense.duckdb"
    dagster_home = folder / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    # No instance file: Dagster prints a telemetry banner into every run's output.
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "SPENDSENSE_RAW_DIR": str(raw_dir),
        "SPENDSENSE_WAREHOUSE": str(warehouse),
        "SPENDSENSE_REVIEW_DIR": str(folder / "review"),
        "SPENDSENSE_EXPORT_URI": str(folder / "exports"),
        # the run's step stats are read back from this instance
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_TELEMETRY_DISABLED": "1",
        "DO_NOT_TRACK": "1",
    }
    env.pop("OPENAI_API_KEY", None)
    for path in (warehouse, Path(f"{warehouse}.wal")):
        path.unlink(missing_ok=True)
    spendsense = str(BIN / "spendsense")
    fmt = "json" if users == 75 else "parquet"  # 75: the default `spendsense generate`
    generate = [spendsense, "generate", "--users", str(users), "--as-of", AS_OF, "--format", fmt]
    figures: dict[str, float] = {"users": users}
    figures["generate"], *_ = _run([*generate, "--out", str(raw_dir)], env)
    totals = []
    for _ in range(runs):
        total, peak, cpu, load = _run([spendsense, "run", "--as-of", AS_OF], env)
        totals.append(total)
    run_id, steps = _step_seconds(dagster_home)
    nodes = _dbt_node_seconds(run_id)
    figures.update(
        total=totals[-1],
        first_total=totals[0],
        peak_rss_gb=peak / 1e9,
        cpu=cpu,
        load=load,
        ingest=sum(s for key, s in steps.items() if key.startswith("raw__")),
        dbt_step=steps[DBT_STEP],
        dbt_models=nodes.get("model", 0.0) + nodes.get("seed", 0.0),
        dbt_tests=nodes.get("test", 0.0),
        python=sum(s for key, s in steps.items() if key != DBT_STEP and not key.startswith("raw__")),
        bare_scan=_bare_scan_seconds(warehouse),
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures["transactions"] = con.execute("select count(*) from raw.transactions").fetchone()[0]
    return figures


HEADER = (
    "| users | transactions | generate s | ingest s | dbt models s | dbt tests s | python s | dbt step s"
    " | total s | first run s | peak RSS GB | dbt step / bare scan | CPU s | load |"
)


def row(f: dict[str, float]) -> str:
    ratio = f["dbt_step"] / f["bare_scan"] if f["bare_scan"] else float("nan")
    return (
        f"| {f['users']:,.0f} | {f['transactions']:,.0f} | {f['generate']:.1f} | {f['ingest']:.1f}"
        f" | {f['dbt_models']:.1f} | {f['dbt_tests']:.1f} | {f['python']:.1f} | {f['dbt_step']:.1f}"
        f" | {f['total']:.1f} | {f['first_total']:.1f} | {f['peak_rss_gb']:.2f}"
        f" | {ratio:.0f}x ({f['bare_scan']:.2f} s) | {f['cpu']:.1f} | {f['load']:.1f} |"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="*", type=int, default=[75, 5000, 10000])
    parser.add_argument("--runs", type=int, default=2, help="pipeline runs per size; the last is shown")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; as of {AS_OF}; runs per size: {args.runs}")
    print(HEADER)
    print("|" + " --- |" * (HEADER.count("|") - 1))
    for users in args.users:
        print(row(bench(users, args.runs)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
