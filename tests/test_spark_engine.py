"""SPENDSENSE_ENGINE=spark (docs/scaling.md, "Engines"): the same dbt models on a local Spark session give
the DuckDB run's features, personas and streams, and dbt's unit tests pass on Spark.

Real parts only: `spendsense run` in a subprocess on each engine (dbt-spark's session method starts
Spark inside the dbt process), and dbt itself for the unit tests. Skipped, with the reason, when
pyspark, dbt-spark or Java is missing (`make install-spark` installs them; `make test-spark` runs this).
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.pipeline_runs import DATASETS, HANDMADE_AS_OF

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

_missing = [
    package
    for package, module in (("pyspark", "pyspark"), ("dbt-spark", "dbt.adapters.spark"))
    if importlib.util.find_spec(module) is None
]
if shutil.which("java") is None:
    _missing.append("java")

pytestmark = [
    pytest.mark.skipif(
        bool(_missing),
        reason=f"the Spark engine needs {', '.join(_missing)}: `make install-spark` (Java, .[spark])",
    ),
]

# The acceptance's files (issue 14): per-user features and personas, and the streams when exported.
COMPARED_EXPORTS = ("user_features_30d", "user_features_180d", "user_personas", "recurring_streams")
RELATIVE_TOLERANCE = 1e-9


def _run(engine: str, root: Path) -> tuple[Path, float]:
    """`spendsense run` of handmade_basic on one engine, in its own workspace: its exports and wall time."""
    env = {
        **os.environ,
        "SPENDSENSE_ENGINE": engine,
        "SPENDSENSE_WAREHOUSE": str(root / "warehouse" / "spendsense.duckdb"),
        "SPENDSENSE_REVIEW_DIR": str(root / "review"),
        "SPENDSENSE_EXPORT_URI": str(root / "exports"),
    }
    env.pop("OPENAI_API_KEY", None)
    started = time.monotonic()
    result = subprocess.run(
        [
            str(BIN / "spendsense"),
            "run",
            "--raw-dir",
            str(DATASETS / "handmade_basic"),
            "--as-of",
            HANDMADE_AS_OF,
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"{engine} run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return root / "exports" / f"as_of={HANDMADE_AS_OF}", elapsed


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    """One run per engine for the whole module: one Spark session (one dbt process) serves every test."""
    return {engine: _run(engine, tmp_path_factory.mktemp(engine)) for engine in ("duckdb", "spark")}


def _rows(path: Path) -> tuple[list[str], list[tuple]]:
    table = pq.read_table(path)
    rows = [tuple(row[name] for name in table.column_names) for row in table.to_pylist()]
    return table.column_names, sorted(rows, key=repr)


def _same_value(left, right) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0) or left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same_value(a, b) for a, b in zip(left, right, strict=True))
    return left == right


@pytest.mark.parametrize("export", COMPARED_EXPORTS)
def test_spark_run_exports_what_the_duckdb_run_exports(engine_runs, export):
    duckdb_dir, _ = engine_runs["duckdb"]
    spark_dir, _ = engine_runs["spark"]
    duckdb_file, spark_file = duckdb_dir / f"{export}.parquet", spark_dir / f"{export}.parquet"
    if not duckdb_file.exists():
        assert not spark_file.exists()
        pytest.skip(f"{export} is not exported")
    duckdb_columns, duckdb_rows = _rows(duckdb_file)
    spark_columns, spark_rows = _rows(spark_file)
    assert spark_columns == duckdb_columns
    assert len(spark_rows) == len(duckdb_rows) > 0
    for duckdb_row, spark_row in zip(duckdb_rows, spark_rows, strict=True):
        differing = [
            (name, a, b)
            for name, a, b in zip(duckdb_columns, duckdb_row, spark_row, strict=True)
            if not _same_value(a, b)
        ]
        assert not differing, f"{export}: {differing}"


def test_dbt_unit_tests_pass_on_spark(engine_runs):
    """The run built every model and ran every data test on Spark (dbt build); the unit tests it leaves
    to CI run here, on the Spark run's warehouse (its metastore and raw inputs)."""
    spark_root = engine_runs["spark"][0].parents[1]
    env = {**os.environ, "SPENDSENSE_WAREHOUSE": str(spark_root / "warehouse" / "spendsense.duckdb")}
    result = subprocess.run(
        [str(BIN / "dbt"), "test", "--profiles-dir", ".", "--target", "spark", "--select", "test_type:unit"],
        env=env,
        cwd=REPO_ROOT / "dbt_project",
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    done = [line for line in result.stdout.splitlines() if "Done. PASS=" in line]
    # dbt leaves FAIL out of its summary when nothing failed.
    assert done and "ERROR=0" in done[-1] and "FAIL=" not in done[-1].replace("FAIL=0", "")


def test_the_spark_path_stays_under_six_minutes(engine_runs):
    _, spark_seconds = engine_runs["spark"]
    print(f"wall time: duckdb run {engine_runs['duckdb'][1]:.0f} s, spark run {spark_seconds:.0f} s")
    assert spark_seconds < 360
