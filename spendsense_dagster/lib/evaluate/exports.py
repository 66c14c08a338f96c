"""Parquet exports for analysts (docs/exports.md): a local folder or `s3://bucket/prefix`, one
`as_of=YYYY-MM-DD/` partition per run date.

A reader never sees half a file: locally each file is written beside its target and renamed over it;
on S3 an object only appears once its PUT (or multipart upload) completes. `_manifest.json` is removed
first and written last, so its presence says the whole set for that date is complete. DuckDB writes
every Parquet file locally (httpfs is not available here); boto3 uploads it. Per-user files pass
through `privacy` (consenting customers only, no names or emails) before they are written.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import boto3
import duckdb
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from spendsense_dagster.lib.core.files import atomic_path, write_atomically
from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.core.sql import sql_string
from spendsense_dagster.lib.core.windows import WINDOWS

PRESIGNED_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
MANIFEST_NAME = "_manifest.json"
PARQUET_SUFFIX = ".parquet"
ANALYTICS_MARTS = ("monthly_category_spend", "top_merchants", "savings_rate", "spending_trend")
# name -> a table name or a query; each becomes <name>.parquet. Per-user ones carry a user_id.
PER_USER_EXPORTS: dict[str, str] = {
    **{
        f"user_features_{window}d": f"select * from marts.user_features where window_days = {window}"
        for window in WINDOWS
    },
    "user_personas": "marts.user_personas",
    # the partition's own date of the history (each as_of=<date> folder holds its day)
    "persona_history": "select * from marts.persona_history"
    " where as_of_date = (select as_of_date from raw.run_context)",
    # The spending analytics (docs/statements.md); the marts hold consenting customers only, and the
    # consent filter applies again at publish time like for every per-user file.
    **{name: f"marts.{name}" for name in ANALYTICS_MARTS},
    # Feed text is hostile: the raw merchant spelling stays in the warehouse, the export names the
    # merchant by its normalised key.
    "top_merchants": "select * exclude (merchant_name) from marts.top_merchants",
    "recommendations": "recs.recommendations",
    "approved_recommendations": "review.approved_recommendations",
}
METRICS_EXPORT = "evaluation_metrics"
EXPORT_TABLES: dict[str, str] = {**PER_USER_EXPORTS, METRICS_EXPORT: "eval.evaluation_metrics"}
_TABLE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")
_EXPORT_NAME = re.compile(r"[a-z0-9_]+")
_PARTITION = re.compile(r"as_of=(\d{4}-\d{2}-\d{2})")


class ExportError(RuntimeError):
    """Writing to or reading from the export location failed; the message names the location."""


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


def partition_name(as_of_date: date | str) -> str:
    """`as_of=YYYY-MM-DD`; a date that is not ISO is a ValueError."""
    return f"as_of={date.fromisoformat(str(as_of_date)).isoformat()}"


def _partition_date(folder: str) -> str | None:
    """The as-of date of a folder named `as_of=YYYY-MM-DD`, or None for any other name."""
    match = _PARTITION.fullmatch(folder)
    try:
        return date.fromisoformat(match[1]).isoformat() if match else None
    except ValueError:
        return None


def export_key(prefix: str, as_of_date: str, name: str) -> str:
    """Deterministic object key: the same run date always lands in the same place."""
    return "/".join(part for part in (prefix, partition_name(as_of_date), name) if part)


def make_s3_client(
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    credentials: Mapping[str, str | None] | None = None,
):
    """An S3 client for AWS or any S3-compatible store at `endpoint_url`.

    botocore's standard retry mode retries throttling, 5xx and connection errors with exponential
    backoff and jitter. Custom endpoints get path-style addressing (bucket in the path, not the host
    name), which MinIO, moto and most S3-compatible servers expect. `credentials` (aws_access_key_id,
    aws_secret_access_key, aws_session_token) default to boto3's own chain.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
        signature_version="s3v4",
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    given = {name: value for name, value in (credentials or {}).items() if value}
    return boto3.client("s3", endpoint_url=endpoint_url, config=config, **given)


class LocalStore:
    """Exports under a local folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def uri(self, as_of: str, name: str) -> str:
        return str(self.root / partition_name(as_of) / name)

    def partitions(self) -> list[str]:
        folders = [p.name for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else []
        return sorted(as_of for as_of in map(_partition_date, folders) if as_of)

    def names(self, as_of: str) -> list[str]:
        folder = self.root / partition_name(as_of)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    @contextmanager
    def local_copy(self, as_of: str, name: str) -> Iterator[Path]:
        yield Path(self.uri(as_of, name))

    def put_file(self, as_of: str, name: str, write: Callable[[Path], int]) -> tuple[int, int]:
        """`write` fills a temporary file beside the target (and returns its row count), which then
        replaces the target atomically; returns (rows, bytes)."""
        with atomic_path(Path(self.uri(as_of, name))) as temp:
            rows = write(temp)
            size = temp.stat().st_size
        return rows, size

    def put_bytes(self, as_of: str, name: str, data: bytes) -> None:
        write_atomically(Path(self.uri(as_of, name)), data)

    def get_bytes(self, as_of: str, name: str) -> bytes | None:
        path = Path(self.uri(as_of, name))
        return path.read_bytes() if path.exists() else None

    def delete(self, as_of: str, name: str) -> None:
        Path(self.uri(as_of, name)).unlink(missing_ok=True)

    def presigned_url(self, as_of: str, name: str) -> str | None:
        return None


class S3Store:
    """Exports under `s3://bucket/prefix`; every failure becomes an ExportError naming the endpoint."""

    def __init__(self, export_uri: str, client):
        self.bucket, self.prefix = parse_s3_uri(export_uri)
        self.client = client
        self.endpoint = client.meta.endpoint_url  # the one a failure names

    def uri(self, as_of: str, name: str) -> str:
        return f"s3://{self.bucket}/{export_key(self.prefix, as_of, name)}"

    @contextmanager
    def _errors(self, action: str, target: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error) as error:
            raise ExportError(f"S3 {action} {target} via {self.endpoint} failed: {error}") from error

    def _list(self, prefix: str, delimiter: str | None = None) -> list[dict]:
        pages = []
        options = {"Bucket": self.bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
        with self._errors("listing of", f"s3://{self.bucket}/{prefix}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(**options):
                pages.append(page)
        return pages

    def partitions(self) -> list[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        found = set()
        for page in self._list(root, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                if as_of := _partition_date(common["Prefix"][len(root) :].rstrip("/")):
                    found.add(as_of)
        return sorted(found)

    def names(self, as_of: str) -> list[str]:
        folder = export_key(self.prefix, as_of, "") + "/"
        return sorted(
            item["Key"][len(folder) :]
            for page in self._list(folder)
            for item in page.get("Contents", [])
            if "/" not in item["Key"][len(folder) :]
        )

    @contextmanager
    def local_copy(self, as_of: str, name: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="spendsense-export-") as folder:
            local = Path(folder) / name
            with self._errors("download of", self.uri(as_of, name)):
                self.client.download_file(self.bucket, export_key(self.prefix, as_of, name), str(local))
            yield local

    def put_file(self, as_of: str, name: str, write: Callable[[Path], int]) -> tuple[int, int]:
        """`write` fills a local file (and returns its row count), which is then uploaded; an object
        appears only once its upload completes. Returns (rows, bytes)."""
        with tempfile.TemporaryDirectory(prefix="spendsense-export-") as folder:
            local = Path(folder) / name
            rows = write(local)
            with self._errors("upload of", self.uri(as_of, name)):
                self.client.upload_file(
                    str(local),
                    self.bucket,
                    export_key(self.prefix, as_of, name),
                    ExtraArgs={"ContentType": "application/vnd.apache.parquet"},
                )
            return rows, local.stat().st_size

    def put_bytes(self, as_of: str, name: str, data: bytes) -> None:
        with self._errors("upload of", self.uri(as_of, name)):
            self.client.put_object(
                Bucket=self.bucket,
                Key=export_key(self.prefix, as_of, name),
                Body=data,
                ContentType="application/json",
            )

    def get_bytes(self, as_of: str, name: str) -> bytes | None:
        key = export_key(self.prefix, as_of, name)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise ExportError(
                f"S3 download of {self.uri(as_of, name)} via {self.endpoint} failed: {error}"
            ) from error
        except BotoCoreError as error:
            raise ExportError(
                f"S3 download of {self.uri(as_of, name)} via {self.endpoint} failed: {error}"
            ) from error

    def delete(self, as_of: str, name: str) -> None:
        with self._errors("delete of", self.uri(as_of, name)):
            self.client.delete_object(Bucket=self.bucket, Key=export_key(self.prefix, as_of, name))

    def presigned_url(self, as_of: str, name: str) -> str | None:
        with self._errors("presigning of", self.uri(as_of, name)):
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": export_key(self.prefix, as_of, name)},
                ExpiresIn=PRESIGNED_URL_SECONDS,
            )


ExportStore = LocalStore | S3Store


def open_store(
    export_uri: str,
    *,
    endpoint_url: str | None = None,
    s3_client=None,
    max_attempts: int = 5,
    credentials: Mapping[str, str | None] | None = None,
) -> ExportStore:
    """The store behind `export_uri`: a local folder, or `s3://bucket/prefix` (through `s3_client`, or a
    client for `endpoint_url`)."""
    if not export_uri.startswith("s3://"):
        return LocalStore(Path(export_uri))
    return S3Store(export_uri, s3_client or make_s3_client(endpoint_url, max_attempts, credentials))


def store_from_settings(settings: Settings) -> ExportStore:
    return open_store(
        settings.export_uri,
        endpoint_url=settings.s3_endpoint_url,
        max_attempts=settings.s3_max_attempts,
        credentials={
            "aws_access_key_id": settings.aws_access_key_id,
            "aws_secret_access_key": settings.aws_secret_access_key,
            "aws_session_token": settings.aws_session_token,
        },
    )


def select_sql(source: str) -> str:
    """A table name or a query, as a query."""
    return f"select * from {source}" if _TABLE_NAME.fullmatch(source) else source


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """COPY a query to a Parquet file at `path`, its rows sorted; returns its row count.

    Sorted so that the same rows give the same file: a table's row order follows how DuckDB happened
    to build it, and changes when an upstream model does."""
    sorted_rows = f"select * from ({query}) order by all"
    return con.execute(f"copy ({sorted_rows}) to {sql_string(str(path))} (format parquet)").fetchall()[0][0]


def parquet_relation(path: Path) -> str:
    return f"read_parquet({sql_string(str(path))})"


def export_queries(
    con: duckdb.DuckDBPyConnection, store: ExportStore, as_of_date: date | str, queries: Mapping[str, str]
) -> list[ExportedFile]:
    """Write each query (name -> SQL) to `<store>/as_of=YYYY-MM-DD/<name>.parquet`; a re-export of a date
    overwrites its files. Callers pass per-user tables through `privacy.publishable_sql` first."""
    as_of = date.fromisoformat(str(as_of_date)).isoformat()
    bad_names = [name for name in queries if not _EXPORT_NAME.fullmatch(name)]
    if bad_names:
        raise ValueError(f"export names must be lower-case words (they become file names): {bad_names}")
    exported = []
    for name, query in queries.items():
        file_name = f"{name}{PARQUET_SUFFIX}"
        rows, size = store.put_file(as_of, file_name, lambda path, q=query: copy_to_parquet(con, q, path))
        exported.append(ExportedFile(name, store.uri(as_of, file_name), rows, size, None))
    return exported


def manifest_bytes(as_of_date: str, exported: Sequence[ExportedFile]) -> bytes:
    files = [{key: value for key, value in asdict(f).items() if key != "presigned_url"} for f in exported]
    return (json.dumps({"as_of_date": as_of_date, "files": files}, indent=2) + "\n").encode()


def with_presigned_urls(
    store: ExportStore, as_of: str, exported: Sequence[ExportedFile]
) -> list[ExportedFile]:
    """The files with their 7-day download URLs (S3; none for a local folder)."""
    return [
        ExportedFile(f.name, f.uri, f.rows, f.bytes, store.presigned_url(as_of, f"{f.name}{PARQUET_SUFFIX}"))
        for f in exported
    ]
