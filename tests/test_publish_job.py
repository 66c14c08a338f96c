"""The publish job (what the review sensor starts) on a materialized workspace: a revoke reaches every
exported date, the read-back check catches a planted row, and a failed export changes nothing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.evaluate import exports_publishable
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.evaluate.exports import PER_USER_EXPORTS, export_queries, open_store, select_sql
from spendsense_dagster.lib.review.consent_log import revoke_consent
from spendsense_dagster.runner import run_messages
from tests.pipeline_runs import current_partition, environment, query
from tests.s3_server import aws_test_env_fixture  # noqa: F401  (fixture)

EARLIER = "2025-05-31"


def _paths(root: Path) -> tuple[Path, Path]:
    warehouse = root / "warehouse" / "spendsense.duckdb"
    return warehouse, root / "warehouse" / "evaluation_report.json"


def _publish() -> tuple[dg.ExecuteInProcessResult, list[str]]:
    job = build_definitions(Settings.from_env()).resolve_job_def("spendsense_publish")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, partition_key=current_partition()
        )
    return result, run_messages(result)[0]


def _exported_users(exports: Path) -> dict[str, set[str]]:
    users = {}
    for path in sorted(exports.glob("as_of=*/*.parquet")):
        table = pq.read_table(path)
        if "user_id" in table.column_names:
            users[f"{path.parent.name}/{path.name}"] = set(table.column("user_id").to_pylist())
    return users


def _plant(path: Path, **changes) -> None:
    table = pq.read_table(path)
    rows = table.to_pylist()
    pq.write_table(pa.Table.from_pylist([*rows, {**rows[0], **changes}], schema=table.schema), path)


def test_a_revoke_and_the_publish_job_clear_that_user_from_every_exported_date(workspace: Path):
    warehouse, report_path = _paths(workspace)
    exports = workspace / "exports"
    customers_without_consent = (
        "select user_id from raw.users where user_type = 'customer' and not consent_status"
    )
    never_consented = {u for (u,) in query(warehouse, customers_without_consent)}
    (revoked,) = query(warehouse, "select min(user_id) from recs.recommendations")[0]
    with duckdb.connect(str(warehouse)) as con:
        # an earlier date as exports used to be written: every customer, unfiltered
        export_queries(
            con, open_store(str(exports)), EARLIER, {n: select_sql(s) for n, s in PER_USER_EXPORTS.items()}
        )
    assert never_consented <= _exported_users(exports)[f"as_of={EARLIER}/user_personas.parquet"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        revoke_consent(con, workspace / "review", revoked)

    result, problems = _publish()

    assert result.success, problems
    leaked = {name: users & (never_consented | {revoked}) for name, users in _exported_users(exports).items()}
    assert len(leaked) == 2 * len(PER_USER_EXPORTS) and not any(leaked.values()), leaked
    report = json.loads(report_path.read_text())
    assert report["purge"]["users_removed"] == 1 + len(never_consented)
    assert report["purge"]["files_rewritten"] >= 4 and report["purge"]["partitions"] == 2
    assert set(report["purge"]) == {
        "partitions",
        "files_checked",
        "files_rewritten",
        "rows_removed",
        "users_removed",
    }

    # The read-back check, run on its own, fails on a row planted back into a written file.
    _plant(exports / f"as_of={EARLIER}" / "user_personas.parquet", user_id=revoked)
    defs = build_definitions(Settings.from_env())
    check_only = dg.materialize(
        [*defs.assets, exports_publishable],
        selection=dg.AssetSelection.checks(exports_publishable),
        resources=defs.resources,
        raise_on_error=False,
    )
    (evaluation,) = check_only.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == [
        f"as_of={EARLIER}/user_personas.parquet: 1 row(s) of 1 user(s) who do not consent now"
    ]


def test_a_planted_row_the_purge_cannot_fix_blocks_metrics_and_report(workspace: Path):
    warehouse, report_path = _paths(workspace)
    current = next((workspace / "exports").glob("as_of=*"))
    (approved_row_user,) = query(warehouse, "select min(user_id) from recs.recommendations")[0]
    metrics_before, report_before = (
        query(warehouse, "select * from eval.evaluation_metrics"),
        report_path.read_bytes(),
    )
    earlier = workspace / "exports" / f"as_of={EARLIER}"
    earlier.mkdir()
    personas = pq.read_table(current / "user_personas.parquet").to_pylist()[:1]
    approved = pq.read_table(current / "approved_recommendations.parquet").schema
    pq.write_table(
        pa.Table.from_pylist(
            [{"user_id": approved_row_user, "decision": "approve", "disclaimer": ""}], schema=approved
        ),
        earlier / "approved_recommendations.parquet",
    )
    assert personas  # the current date exported rows

    result, problems = _publish()

    assert not result.success
    assert any("publishable" in problem for problem in problems), problems
    assert query(warehouse, "select * from eval.evaluation_metrics") == metrics_before
    assert report_path.read_bytes() == report_before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_a_failed_export_fails_the_run_naming_the_endpoint_and_changes_nothing(workspace: Path, aws_test_env):
    warehouse, report_path = _paths(workspace)
    metrics_before, report_before = (
        query(warehouse, "select * from eval.evaluation_metrics"),
        report_path.read_bytes(),
    )
    endpoint = f"http://127.0.0.1:{_closed_port()}"

    with environment(
        SPENDSENSE_EXPORT_URI="s3://exports/spendsense", AWS_ENDPOINT_URL=endpoint, AWS_MAX_ATTEMPTS="1"
    ):
        result, problems = _publish()

    assert not result.success
    assert any(
        endpoint in problem and problem.startswith("exports__parquet_exports") for problem in problems
    ), problems
    assert query(warehouse, "select * from eval.evaluation_metrics") == metrics_before
    assert report_path.read_bytes() == report_before
