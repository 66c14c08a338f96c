"""Parquet exports to a local folder and to a real S3-compatible server (moto, server mode, 127.0.0.1)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.evaluate.exports import (
    ANALYTICS_MARTS,
    EXPORT_TABLES,
    ExportError,
    export_key,
    export_queries,
    make_s3_client,
    open_store,
    parse_s3_uri,
    select_sql,
    with_presigned_urls,
)
from spendsense_dagster.lib.evaluate.metrics import compute_metrics, replace_metrics_row
from spendsense_dagster.lib.review.actions import approve
from spendsense_dagster.lib.review.queue import build_approved_recommendations
from tests.review_warehouse import make_review_warehouse
from tests.s3_server import FlakyProxy, aws_test_env_fixture, s3_endpoint_fixture  # noqa: F401  (fixtures)

AS_OF = "2025-06-30"
QUERIES = {name: select_sql(source) for name, source in EXPORT_TABLES.items()}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The review warehouse with every exported table present: two approvals and one metrics row.
    Shared by the module: exports only read it."""
    folder = tmp_path_factory.mktemp("export-warehouse")
    con = make_review_warehouse(folder / "warehouse.duckdb")
    review_dir = folder / "review"
    approve(con, review_dir, ["rec-c1-edu", "rec-c1-offer"], "op1")
    build_approved_recommendations(con, review_dir)
    replace_metrics_row(con, compute_metrics(con, "run-1", review_dir))
    yield con
    con.close()


def _expected_rows(con) -> dict[str, int]:
    return {
        name: con.execute(f"select count(*) from ({query})").fetchall()[0][0]
        for name, query in QUERIES.items()
    }


def _bucket(endpoint: str, name: str) -> str:
    make_s3_client(endpoint).create_bucket(Bucket=name)
    return name


def test_local_export_writes_every_table_atomically(warehouse, tmp_path):
    expected = _expected_rows(warehouse)
    assert expected == {
        "user_features_30d": 4,
        "user_features_180d": 4,
        "user_personas": 8,
        "persona_history": 8,
        **{name: 2 for name in ANALYTICS_MARTS},  # c1 and c3: export_queries writes what it is given
        "recommendations": 4,
        "approved_recommendations": 2,
        "evaluation_metrics": 1,
    }
    store = open_store(str(tmp_path / "exports"))

    exported = export_queries(warehouse, store, AS_OF, QUERIES)
    again = export_queries(warehouse, store, AS_OF, QUERIES)  # a re-export overwrites in place

    folder = tmp_path / "exports" / f"as_of={AS_OF}"
    assert sorted(path.name for path in folder.iterdir()) == sorted(f"{name}.parquet" for name in QUERIES)
    assert {f.name: f.rows for f in exported} == expected == {f.name: f.rows for f in again}
    for exported_file in again:
        table = pq.read_table(exported_file.uri)
        assert table.num_rows == exported_file.rows
        assert Path(exported_file.uri).stat().st_size == exported_file.bytes
    assert store.partitions() == [AS_OF] and store.names(AS_OF) == sorted(f"{n}.parquet" for n in QUERIES)
    assert all(f.presigned_url is None for f in with_presigned_urls(store, AS_OF, again))


def test_the_same_rows_in_another_order_give_the_same_file(warehouse, tmp_path):
    """Exports are sorted: a table rebuilt with its rows in another order exports byte for byte the same."""
    store = open_store(str(tmp_path / "exports"))
    shuffled = {name: f"select * from ({query}) order by random()" for name, query in QUERIES.items()}
    reversed_order = {name: f"select * from ({query}) order by all desc" for name, query in QUERIES.items()}
    files = {}
    for label, queries in (("shuffled", shuffled), ("reversed", reversed_order)):
        export_queries(warehouse, store, AS_OF, queries)
        folder = tmp_path / "exports" / f"as_of={AS_OF}"
        files[label] = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert len(files["shuffled"]) == len(QUERIES)
    assert files["shuffled"] == files["reversed"]


def test_s3_export_uploads_readable_parquet_with_presigned_urls(warehouse, s3_endpoint, tmp_path):
    bucket = _bucket(s3_endpoint, "spendsense-exports")
    store = open_store(f"s3://{bucket}/analytics/", endpoint_url=s3_endpoint)

    exported = with_presigned_urls(store, AS_OF, export_queries(warehouse, store, AS_OF, QUERIES))

    assert {f.name: f.rows for f in exported} == _expected_rows(warehouse)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    for exported_file in exported:
        key = f"analytics/as_of={AS_OF}/{exported_file.name}.parquet"
        assert exported_file.uri == f"s3://{bucket}/{key}"
        local = tmp_path / f"{exported_file.name}.parquet"
        client.download_file(bucket, key, str(local))
        assert pq.read_table(local).num_rows == exported_file.rows
        assert local.stat().st_size == exported_file.bytes
        assert "X-Amz-Expires=604800" in exported_file.presigned_url
        with urllib.request.urlopen(exported_file.presigned_url, timeout=10) as response:
            assert response.read() == local.read_bytes()
    assert store.partitions() == [AS_OF]
    assert store.names(AS_OF) == sorted(f"{name}.parquet" for name in QUERIES)
    store.put_bytes(AS_OF, "note.json", b"{}")
    assert json.loads(store.get_bytes(AS_OF, "note.json")) == {} and store.get_bytes(AS_OF, "absent") is None


def test_s3_upload_is_retried_after_a_transient_503(warehouse, s3_endpoint):
    bucket = _bucket(s3_endpoint, "retried-exports")
    with FlakyProxy(s3_endpoint, failures=1, method="PUT") as proxy:
        store = open_store(f"s3://{bucket}", endpoint_url=proxy.endpoint)
        exported = export_queries(warehouse, store, AS_OF, {"recommendations": QUERIES["recommendations"]})
        assert (proxy.failed, proxy.requests) == (1, 2)  # PUT answered 503, then the retried PUT

    body = make_s3_client(s3_endpoint).get_object(
        Bucket=bucket, Key=f"as_of={AS_OF}/recommendations.parquet"
    )["Body"]
    assert len(body.read()) == exported[0].bytes


def test_s3_upload_fails_loudly_naming_the_endpoint_when_retries_run_out(warehouse, s3_endpoint):
    bucket = _bucket(s3_endpoint, "unreachable-exports")
    with FlakyProxy(s3_endpoint, failures=1000, method="PUT") as proxy:
        store = open_store(f"s3://{bucket}", s3_client=make_s3_client(proxy.endpoint, max_attempts=2))
        with pytest.raises(
            ExportError, match=rf"upload of s3://{bucket}/.* via {proxy.endpoint} failed.*SlowDown"
        ):
            export_queries(warehouse, store, AS_OF, {"recommendations": QUERIES["recommendations"]})
        assert proxy.requests == 2  # two PUT attempts

    listing = make_s3_client(s3_endpoint).list_objects_v2(Bucket=bucket)
    assert listing["KeyCount"] == 0  # nothing half-published


def test_uri_helpers_and_name_validation(warehouse, tmp_path):
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    assert parse_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert export_key("", AS_OF, "x.parquet") == f"as_of={AS_OF}/x.parquet"
    store = open_store(str(tmp_path))
    with pytest.raises(ValueError, match="no bucket"):
        parse_s3_uri("s3:///prefix")
    with pytest.raises(ValueError, match="lower-case words"):
        export_queries(warehouse, store, AS_OF, {"../escape": "select 1"})
    with pytest.raises(ValueError):
        export_queries(warehouse, store, "30/06/2025", {"r": "select 1"})
