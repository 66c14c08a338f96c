"""Append-only JSON Lines logs (the decision and consent logs, docs/review.md).

Writers append under an exclusive `flock` and fsync; an append always starts on a line of its own,
even after a torn write left the file without its final newline. Readers take a shared lock and
never fail on a bad line (torn, not JSON, not a valid record): the reader names the file and line,
copies the line to the `<log>.rejected` sidecar and blanks it in place (same length, so no valid
byte moves and a crash halfway leaves the line as bad as it was), and every valid line still counts.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOGGER = logging.getLogger(__name__)
REJECTED_SUFFIX = ".rejected"

# A record's problem as one short phrase, or None when the record is valid.
Validator = Callable[[dict], str | None]


def utc_now_iso() -> str:
    """UTC with an explicit Z: DuckDB drops (rather than applies) other offsets when casting to TIMESTAMP."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """A logged timestamp as naive UTC (offsets applied), the way the warehouse stores TIMESTAMP."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def timestamp_problem(record: dict, name: str) -> str | None:
    """Why record[name] is not an ISO 8601 timestamp, or None."""
    value = record.get(name)
    if not isinstance(value, str) or not value:
        return f"{name} missing"
    try:
        parse_utc(value)
    except ValueError:
        return f"{name} {value[:40]!r} is not an ISO 8601 timestamp"
    return None


@dataclass(frozen=True)
class BadLine:
    line_number: int  # 1-based, as an editor shows it
    problem: str
    text: str  # the line as found (bytes that are not UTF-8 escaped)
    offset: int  # where the line starts in the file, in bytes
    length: int  # its length in bytes, newline excluded


@dataclass(frozen=True)
class LogScan:
    path: Path
    records: list[dict]
    bad_lines: list[BadLine]
    ends_with_newline: bool  # true for an empty or missing log


def rejected_path(path: Path) -> Path:
    """The sidecar that receives the bad lines of `path`."""
    return Path(f"{path}{REJECTED_SUFFIX}")


def append_jsonl(path: Path, records: Sequence[dict]) -> None:
    """Append records, one JSON object a line, under an exclusive lock; fsync before returning.

    The lock keeps concurrent writers (CLI, CSV import, another process) from interleaving lines;
    fsync makes an acknowledged decision survive a crash. A file whose last line lacks its newline (a
    torn write) gets one first, so the new records never join that line.
    """
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            payload = b"\n" + payload
        remaining = memoryview(payload)
        while remaining:
            remaining = remaining[os.write(fd, remaining) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def scan_jsonl(path: Path, validate: Validator | None = None) -> LogScan:
    """Every valid record and every bad line of a log, changing nothing; a missing file is empty."""
    if not path.exists():
        return LogScan(path, [], [], True)
    with path.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # never read a line a writer is still writing
        data = handle.read()
    return _scan(path, data, validate)


def read_jsonl(path: Path, validate: Validator | None = None) -> list[dict]:
    """Every valid record of a log in file order. Bad lines are set aside with a warning (module doc)."""
    scan = scan_jsonl(path, validate)
    if scan.bad_lines:
        scan = _set_aside(path, validate)
    return scan.records


def _scan(path: Path, data: bytes, validate: Validator | None) -> LogScan:
    records, bad_lines = [], []
    offset = 0
    for line_number, line in enumerate(data.split(b"\n"), start=1):
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        record, problem = _parse_line(line, validate)
        if problem is None:
            records.append(record)
        else:
            text = line.decode("utf-8", errors="backslashreplace")
            bad_lines.append(BadLine(line_number, problem, text, start, len(line)))
    return LogScan(path, records, bad_lines, ends_with_newline=not data or data.endswith(b"\n"))


def _parse_line(line: bytes, validate: Validator | None) -> tuple[dict | None, str | None]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as error:
        return None, f"not a JSON object ({error.msg} at column {error.colno})"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    problem = validate(record) if validate else None
    return (None, problem) if problem else (record, None)


def _set_aside(path: Path, validate: Validator | None) -> LogScan:
    """Under the exclusive lock: copy the bad lines to the sidecar, then blank them in the log."""
    sidecar = rejected_path(path)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as error:  # e.g. a read-only copy of the logs: read what is valid, move nothing
        LOGGER.warning("%s: cannot set bad lines aside (%s)", path, error)
        return scan_jsonl(path, validate)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        scan = _scan(path, data, validate)  # again: another reader may have set them aside meanwhile
        if scan.bad_lines:
            set_aside_at = utc_now_iso()
            entries = [
                {
                    "set_aside_at": set_aside_at,
                    "line": bad.line_number,
                    "problem": bad.problem,
                    "text": bad.text,
                }
                for bad in scan.bad_lines
            ]
            append_jsonl(sidecar, entries)  # the copy is on disk before the line is blanked
            for bad in scan.bad_lines:
                os.pwrite(fd, b" " * bad.length, bad.offset)
            os.fsync(fd)
        for bad in scan.bad_lines:
            LOGGER.warning(
                "%s:%d: %s; the line was moved to %s and skipped", path, bad.line_number, bad.problem, sidecar
            )
        return scan
    finally:
        os.close(fd)
