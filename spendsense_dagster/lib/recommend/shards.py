"""Recommendation shards: which shard a user belongs to, and the shard files (docs/scaling.md).

The stage fans out into N steps. A user's shard is `md5(user_id) mod N`: the same on every machine,
process and Python version (Python's own `hash()` of a string is salted per process, so it cannot
be used). Each shard writes its rows to two Parquet files of its own, never to the warehouse; one
combining step reads them all back, in the order one shard would have written them, and replaces the
recs tables in one transaction.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spendsense_dagster.lib.core.files import atomic_path
from spendsense_dagster.lib.recommend.assemble import CALL_SCHEMA, RECOMMENDATION_SCHEMA


def shard_of(user_id: str, shard_count: int) -> int:
    """The user's shard in 0..shard_count-1: the first 8 bytes of md5(user_id), big-endian, mod N."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, got {shard_count}")
    digest = hashlib.md5(user_id.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % shard_count


def users_of_shard(user_ids: Iterable[str], index: int, shard_count: int) -> list[str]:
    """The users of shard `index`, in their given order."""
    return [user_id for user_id in user_ids if shard_of(user_id, shard_count) == index]


@dataclass(frozen=True)
class ShardTask:
    """What one shard step is asked to do: its index, the shard count and the run's shard folder."""

    index: int
    count: int
    folder: str

    @property
    def mapping_key(self) -> str:
        return f"shard_{self.index}"


@dataclass(frozen=True)
class ShardFiles:
    """What one shard step wrote, and what the combining step reports about it."""

    index: int
    recommendations_path: str
    calls_path: str
    users: int
    rows: int
    generation_seconds: float
    generator: str
    model: str


def shard_paths(folder: Path, index: int) -> tuple[Path, Path]:
    """(recommendations file, call log file) of shard `index` in the run's folder."""
    return folder / f"{index}.recommendations.parquet", folder / f"{index}.llm_calls.parquet"


def write_shard(folder: Path, index: int, rows: list[dict], calls: list[dict]) -> tuple[Path, Path]:
    """Write the shard's rows and call log, each atomically (a reader sees the whole file or none)."""
    paths = shard_paths(folder, index)
    tables = (
        pa.Table.from_pylist(rows, schema=RECOMMENDATION_SCHEMA),
        pa.Table.from_pylist(calls, schema=CALL_SCHEMA),
    )
    for path, table in zip(paths, tables, strict=True):
        with atomic_path(path) as temp:
            pq.write_table(table, temp)
    return paths


def _read_in_user_order(paths: Sequence[str], schema: pa.Schema) -> pa.Table:
    """The files' rows as one table, ordered by user_id and, within a user, as the shard wrote them.

    Every shard writes its users in user_id order (the contexts are read that way), so a stable sort
    by user_id gives exactly the order of a single shard.
    """
    tables = [pq.read_table(path, schema=schema) for path in paths]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    if table.num_rows == 0:
        return table
    # pyarrow's sort_indices is stable: equal user_ids keep the order of the concatenated files.
    return table.take(pc.sort_indices(table, sort_keys=[("user_id", "ascending")]))


def read_shards(shards: Sequence[ShardFiles]) -> tuple[pa.Table, pa.Table]:
    """(recommendations, call log) of every shard, in the order one shard would have written them."""
    ordered = sorted(shards, key=lambda shard: shard.index)
    return (
        _read_in_user_order([s.recommendations_path for s in ordered], RECOMMENDATION_SCHEMA),
        _read_in_user_order([s.calls_path for s in ordered], CALL_SCHEMA),
    )


def remove_shard_folder(folder: Path) -> None:
    """After the combining step committed: the run's shard files are no longer needed. (A failed
    combine leaves them, so that re-executing that step alone finds them.)"""
    shutil.rmtree(folder, ignore_errors=True)
