"""Metadata shared by the Python assets: owners, tags, code versions, file links and row previews."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import duckdb

from spendsense_dagster.lib.core.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "spendsense_dagster"
OWNERS = ["team:data-platform"]
TAGS = {"domain": "personal-finance", "pii": "consented-only"}
_SOURCE_SUFFIXES = {".py", ".md", ".sql", ".csv", ".html", ".json"}
# Text from feeds and models is shown as text: no links, images or HTML in a preview cell.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def code_version(*paths: Path) -> str:
    """sha256 (12 hex) of every file under `paths` (a folder: its .py, .md, .sql, .csv, .html files):
    an asset's code version changes when the code, prompts or templates it runs change."""
    digest = hashlib.sha256()
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if (
                file.suffix in {".py", ".md", ".sql", ".csv", ".html", ".json"}
                and "__pycache__" not in file.parts
            ):
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def file_link(uri: str) -> dg.MetadataValue:
    """A local file as a path, anything with a scheme (s3://, https://) as a URL."""
    return dg.MetadataValue.url(uri) if "://" in uri else dg.MetadataValue.path(uri)


def _cell(value) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text[:80])


def markdown_preview(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence = (), limit: int = 5
) -> dg.MetadataValue:
    """The first `limit` rows of a query as a markdown table, every cell escaped."""
    cursor = con.execute(f"select * from ({sql}) limit {int(limit)}", list(params))
    names = [column[0] for column in cursor.description]
    rows = cursor.fetchall()
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines) if rows else "no rows")
