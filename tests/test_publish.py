"""Publishing on the hand-made review warehouse: consent in every per-user file, purges of earlier dates,
the read-back audit, and a failed export that leaves metrics and report as they were."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.evaluate.exports import (
    ANALYTICS_MARTS,
    MANIFEST_NAME,
    PER_USER_EXPORTS,
    ExportedFile,
    ExportError,
    export_queries,
    make_s3_client,
    manifest_bytes,
    open_store,
    select_sql,
)
from spendsense_dagster.lib.evaluate.metrics import compute_metrics
from spendsense_dagster.lib.evaluate.privacy import audit_exports, create_export_audience
from spendsense_dagster.lib.evaluate.publish import publish_evaluation, publish_per_user_exports
from spendsense_dagster.lib.review.actions import approve
from spendsense_dagster.lib.review.consent_log import revoke_consent
from spendsense_dagster.lib.review.queue import build_approved_recommendations
from tests.review_warehouse import add_recommendation
from tests.s3_server import aws_test_env_fixture, s3_endpoint_fixture  # noqa: F401  (fixtures)

AS_OF = "2025-06-30"
EARLIER = "2025-05-31"


def _user_ids(path: Path) -> set[str]:
    return set(pq.read_table(path, columns=["user_id"]).column("user_id").to_pylist())


def _legacy_partition(con, store, as_of: str) -> list[ExportedFile]:
    """What the exports looked like before consent governed them: every customer, unfiltered."""
    files = export_queries(
        con, store, as_of, {name: select_sql(src) for name, src in PER_USER_EXPORTS.items()}
    )
    store.put_bytes(as_of, MANIFEST_NAME, manifest_bytes(as_of, files))
    return files


@pytest.fixture
def approved(warehouse, review_dir):
    """c1's two items approved; a blocked item of c1 whose text leaks c1's name and email."""
    add_recommendation(
        warehouse, "rec-c1-leak", "c1", title="For Cara One",
        content="Dear CARA  one, we wrote to c1@example.com. Cara One Cara One.", guardrail_status="block",
    )  # fmt: skip
    approve(warehouse, review_dir, ["rec-c1-edu", "rec-c1-offer"], "op1")
    build_approved_recommendations(warehouse, review_dir)
    return warehouse


def test_per_user_files_hold_consenting_customers_only_and_no_name_or_email(approved, review_dir, tmp_path):
    store = open_store(str(tmp_path))

    files, purge = publish_per_user_exports(approved, store, AS_OF, review_dir)

    assert {f.name for f in files} == set(PER_USER_EXPORTS)
    for exported in files:
        assert _user_ids(Path(exported.uri)) <= {"c1", "c2", "c4"}, exported.name  # c3 never consented
    assert {f.name: f.rows for f in files}["user_personas"] == 6
    leak = pq.read_table(Path(store.uri(AS_OF, "recommendations.parquet"))).to_pylist()
    (item,) = [row for row in leak if row["recommendation_id"] == "rec-c1-leak"]
    assert item["title"] == "For [redacted]"
    assert item["content"] == "Dear [redacted], we wrote to [redacted]. [redacted] [redacted]."
    assert purge.partitions == 1 and purge.files_rewritten == 0
    create_export_audience(approved, review_dir)
    assert audit_exports(approved, store).violations == []


def test_a_revoke_purges_every_earlier_partition_and_counts_without_naming(approved, review_dir, tmp_path):
    store = open_store(str(tmp_path))
    legacy = _legacy_partition(approved, store, EARLIER)
    assert _user_ids(Path(store.uri(EARLIER, "user_personas.parquet"))) == {"c1", "c2", "c3", "c4"}

    revoke_consent(approved, review_dir, "c1")
    files, purge = publish_per_user_exports(approved, store, AS_OF, review_dir)

    for as_of in (EARLIER, AS_OF):
        for name in store.names(as_of):
            if name.endswith(".parquet"):
                assert not _user_ids(Path(store.uri(as_of, name))) & {"c1", "c3"}, (as_of, name)
    every_file = len(PER_USER_EXPORTS)  # each holds a row of c1 or c3
    assert (purge.partitions, purge.files_checked, purge.files_rewritten) == (2, every_file, every_file)
    assert purge.users_removed == 2  # c1 revoked, c3 never consented
    assert purge.rows_removed == sum(f.rows for f in legacy) - sum(
        pq.read_metadata(store.uri(EARLIER, f"{f.name}.parquet")).num_rows for f in legacy
    )
    manifest = json.loads((tmp_path / f"as_of={EARLIER}" / MANIFEST_NAME).read_text())
    assert {f["name"]: f["rows"] for f in manifest["files"]} == {
        f.name: pq.read_metadata(store.uri(EARLIER, f"{f.name}.parquet")).num_rows for f in legacy
    }
    assert {f.name: f.rows for f in files}["approved_recommendations"] == 0  # c1's approvals withdrawn

    again = publish_per_user_exports(approved, store, AS_OF, review_dir)[1]
    assert (again.files_rewritten, again.users_removed) == (0, 0)  # nothing left to purge


def _plant(path: Path, **changes) -> None:
    """Append a copy of the file's first row, with `changes`, to an exported file."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    pq.write_table(pa.Table.from_pylist([*rows, {**rows[0], **changes}], schema=table.schema), path)


def test_the_read_back_audit_finds_a_planted_row(approved, review_dir, tmp_path):
    store = open_store(str(tmp_path))
    publish_per_user_exports(approved, store, AS_OF, review_dir)
    create_export_audience(approved, review_dir)
    assert audit_exports(approved, store).violations == []

    _plant(Path(store.uri(AS_OF, "user_personas.parquet")), user_id="c3")
    _plant(Path(store.uri(AS_OF, "approved_recommendations.parquet")), disclaimer=" ", decision="reject")
    _plant(Path(store.uri(AS_OF, "recommendations.parquet")), content="mail c1@example.com")

    audit = audit_exports(approved, store)
    assert audit.files_checked == len(PER_USER_EXPORTS)
    assert audit.violations == [
        f"as_of={AS_OF}/approved_recommendations.parquet: 1 row(s) without an approve or override decision",
        f"as_of={AS_OF}/approved_recommendations.parquet: 1 row(s) without a disclaimer",
        f"as_of={AS_OF}/recommendations.parquet: 1 row(s) holding the user's name or email",
        f"as_of={AS_OF}/user_personas.parquet: 1 row(s) of 1 user(s) who do not consent now",
    ]


def test_an_earlier_partition_on_s3_is_purged_too(approved, review_dir, s3_endpoint):
    make_s3_client(s3_endpoint).create_bucket(Bucket="purged")
    store = open_store("s3://purged/spendsense", endpoint_url=s3_endpoint)
    _legacy_partition(approved, store, EARLIER)

    files, purge = publish_per_user_exports(approved, store, AS_OF, review_dir)

    assert store.partitions() == [EARLIER, AS_OF]
    # c3 never consented: rows in both feature files, the personas, the persona history and every
    # analytics mart; the recommendations file also held c1's name (rewritten with it redacted)
    assert (purge.files_rewritten, purge.users_removed) == (5 + len(ANALYTICS_MARTS), 1)
    for as_of in (EARLIER, AS_OF):
        with store.local_copy(as_of, "user_features_30d.parquet") as path:
            assert _user_ids(path) == {"c1", "c2", "c4"}
    manifest = json.loads(store.get_bytes(EARLIER, MANIFEST_NAME))
    assert {f["name"]: f["rows"] for f in manifest["files"]}["user_personas"] == 6
    create_export_audience(approved, review_dir)
    assert audit_exports(approved, store).violations == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_a_failed_export_leaves_the_metrics_history_and_the_report_unchanged(
    approved, review_dir, tmp_path, aws_test_env
):
    report = tmp_path / "evaluation_report.json"
    store = open_store(str(tmp_path / "exports"))
    publish_per_user_exports(approved, store, AS_OF, review_dir)
    publish_evaluation(approved, store, compute_metrics(approved, "run-1", review_dir), review_dir, report)
    before = report.read_bytes(), approved.execute("select * from eval.evaluation_metrics").fetchall()

    endpoint = f"http://127.0.0.1:{_closed_port()}"
    closed = open_store("s3://exports/x", endpoint_url=endpoint, max_attempts=1)
    with pytest.raises(ExportError, match=f"via {endpoint} failed"):
        publish_per_user_exports(approved, closed, AS_OF, review_dir)
    # the evaluation step alone refuses too: it reads the date's files back before committing
    with pytest.raises(ExportError, match=f"via {endpoint} failed"):
        publish_evaluation(
            approved, closed, compute_metrics(approved, "run-2", review_dir), review_dir, report
        )

    after = report.read_bytes(), approved.execute("select * from eval.evaluation_metrics").fetchall()
    assert after == before
