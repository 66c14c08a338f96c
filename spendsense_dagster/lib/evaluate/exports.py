"""Parquet exports for analysts (docs/exports.md): a local folder or `s3://bucket/prefix`, under
`as_of=YYYY-MM-DD/`.

A reader never sees half a file: locally each file is written beside its target and renamed over it;
on S3 an object only appears once its PUT (or multipart upload) completes. `_manifest.json` is removed
first and written last, so its presence says the whole set for that date is complete. DuckDB writes
every Parquet file locally (httpfs is not available here); boto3 uploads it.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import boto3
import duckdb
from botocore.config import Config

from spendsense_dagster.lib.core.files import atomic_path, write_atomically
from spendsense_dagster.lib.core.sql import sql_string
from spendsense_dagster.lib.core.windows import WINDOWS

PRESIGNED_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
MANIFEST_NAME = "_manifest.json"
# name -> a table name or a query; each becomes <name>.parquet.
EXPORT_TABLES: dict[str, str] = {
    **{
        f"user_features_{window}d": f"select * from marts.user_features where window_days = {window}"
        for window in WINDOWS
    },
    "user_personas": "marts.user_personas",
    "recommendations": "recs.recommendations",
    "approved_recommendations": "review.approved_recommendations",
    "evaluation_metrics": "eval.evaluation_metrics",
}
_TABLE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")
_EXPORT_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class ExportedFile:
    name: str
    uri: str
    rows: int
    bytes: int
    presigned_url: str | None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix")."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, prefix.strip("/")


def export_key(prefix: str, as_of_date: str, name: str) -> str:
    """Deterministic object key: the same run date always lands in the same place."""
    return "/".join(part for part in (prefix, f"as_of={as_of_date}", name) if part)


def make_s3_client(endpoint_url: str | None = None, max_attempts: int = 5):
    """An S3 client for AWS or any S3-compatible store at `endpoint_url`.

    botocore's standard retry mode retries throttling, 5xx and connection errors with exponential
    backoff and jitter. Custom endpoints get path-style addressing (bucket in the path, not the host
    name), which MinIO, moto and most S3-compatible servers expect.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
        signature_version="s3v4",
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def _select_sql(source: str) -> str:
    return f"select * from {source}" if _TABLE_NAME.fullmatch(source) else source


def _write_parquet(con: duckdb.DuckDBPyConnection, source: str, path: Path) -> int:
    """COPY one table or query to a Parquet file, atomically; returns its row count."""
    with atomic_path(path) as temp:
        copy = f"copy ({_select_sql(source)}) to {sql_string(str(temp))} (format parquet)"
        return con.execute(copy).fetchall()[0][0]


def _manifest(as_of_date: str, exported: list[ExportedFile]) -> bytes:
    files = [{key: value for key, value in asdict(f).items() if key != "presigned_url"} for f in exported]
    return (json.dumps({"as_of_date": as_of_date, "files": files}, indent=2) + "\n").encode()


def _export_local(
    con: duckdb.DuckDBPyConnection, folder: Path, as_of_date: str, tables: Mapping[str, str]
) -> list[ExportedFile]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)  # no manifest while the set is being replaced
    exported = []
    for name, source in tables.items():
        final = folder / f"{name}.parquet"
        rows = _write_parquet(con, source, final)
        exported.append(ExportedFile(name, str(final), rows, final.stat().st_size, None))
    write_atomically(folder / MANIFEST_NAME, _manifest(as_of_date, exported))
    return exported


def _export_s3(
    con: duckdb.DuckDBPyConnection,
    export_uri: str,
    as_of_date: str,
    tables: Mapping[str, str],
    client,
) -> list[ExportedFile]:
    bucket, prefix = parse_s3_uri(export_uri)
    manifest_key = export_key(prefix, as_of_date, MANIFEST_NAME)
    client.delete_object(Bucket=bucket, Key=manifest_key)  # no manifest while the set is being replaced
    exported = []
    with tempfile.TemporaryDirectory(prefix="spendsense-export-") as staging:
        for name, source in tables.items():
            local = Path(staging) / f"{name}.parquet"
            rows = _write_parquet(con, source, local)
            key = export_key(prefix, as_of_date, f"{name}.parquet")
            client.upload_file(
                str(local), bucket, key, ExtraArgs={"ContentType": "application/vnd.apache.parquet"}
            )
            url = client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGNED_URL_SECONDS
            )
            exported.append(ExportedFile(name, f"s3://{bucket}/{key}", rows, local.stat().st_size, url))
    client.put_object(
        Bucket=bucket,
        Key=manifest_key,
        Body=_manifest(as_of_date, exported),
        ContentType="application/json",
    )
    return exported


def export_tables(
    con: duckdb.DuckDBPyConnection,
    export_uri: str,
    as_of_date: date | str,
    tables: Mapping[str, str] = EXPORT_TABLES,
    *,
    endpoint_url: str | None = None,
    s3_client=None,
) -> list[ExportedFile]:
    """Write each table (name -> table name or query) to `<export_uri>/as_of=YYYY-MM-DD/<name>.parquet`.

    `export_uri` is a local folder or `s3://bucket/prefix`; for S3, `endpoint_url` (settings.s3_endpoint_url)
    selects an S3-compatible store, or pass a ready `s3_client`. Re-exporting a date overwrites its files.
    """
    as_of = date.fromisoformat(str(as_of_date)).isoformat()
    bad_names = [name for name in tables if not _EXPORT_NAME.fullmatch(name)]
    if bad_names:
        raise ValueError(f"export names must be lower-case words (they become file names): {bad_names}")
    if export_uri.startswith("s3://"):
        return _export_s3(con, export_uri, as_of, tables, s3_client or make_s3_client(endpoint_url))
    return _export_local(con, Path(export_uri) / f"as_of={as_of}", as_of, tables)


def publish_file(
    export_uri: str,
    as_of_date: date | str,
    name: str,
    data: bytes,
    *,
    endpoint_url: str | None = None,
    s3_client=None,
) -> str:
    """One small file (the evaluation report) beside the day's Parquet files, as atomically; its URI."""
    as_of = date.fromisoformat(str(as_of_date)).isoformat()
    if export_uri.startswith("s3://"):
        bucket, prefix = parse_s3_uri(export_uri)
        key = export_key(prefix, as_of, name)
        (s3_client or make_s3_client(endpoint_url)).put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"
    folder = Path(export_uri) / f"as_of={as_of}"
    folder.mkdir(parents=True, exist_ok=True)
    return str(write_atomically(folder / name, data))
