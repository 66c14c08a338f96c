"""Waiting for the warehouse instead of failing: DuckDB allows one writing process per file, and a
process that reads it (an analyst's notebook) keeps writers out too (docs/orchestration.md).

`connect_warehouse` retries a connection the file lock refuses, with backoff, for a bounded time, and
says who holds the file. `run_lock` serialises whole runs of the CLI, the way `dagster dev` admits one
run at a time.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/python3 (PID 12) by ...'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
# In one process, DuckDB refuses a connection whose configuration (read-only or not) differs from an
# open one's: the same conflict, with a holder inside this process.
_SAME_PROCESS_CONFLICT = "same database file with a different configuration"
_FIRST_DELAY_SECONDS = 0.1
_MAX_DELAY_SECONDS = 2.0


class WarehouseBusy(RuntimeError):
    """Another process kept the warehouse for longer than the configured wait."""


def lock_holder(error: Exception) -> str | None:
    """'PID 12 (/usr/bin/python3)' when `error` is DuckDB refusing a file another connection holds, else
    None."""
    if _SAME_PROCESS_CONFLICT in str(error):
        return f"PID {os.getpid()} (this process: a connection opened with another configuration)"
    match = _LOCK_HOLDER.search(str(error))
    return f"PID {match['pid']} ({match['program']})" if match else None


def connect_warehouse(
    path: Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    on_wait: Callable[[str], None] = print,
    config: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `path`, waiting up to `wait_seconds` while another process holds the file.

    `on_wait` receives one line each time a (new) holder makes it wait. Past the bound, WarehouseBusy
    names the holder. Errors other than the file lock are raised at once. `config`: DuckDB settings
    such as memory_limit.
    """
    deadline = time.monotonic() + wait_seconds
    delay = _FIRST_DELAY_SECONDS
    announced = None
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            holder = lock_holder(error)
            if holder is None:
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseBusy(
                    f"warehouse {path} is still in use by {holder} after waiting {wait_seconds:g} s"
                    " (SPENDSENSE_LOCK_WAIT_SECONDS); close that connection or try again later"
                ) from error
            if holder != announced:
                on_wait(f"warehouse {path} is in use by {holder}, waiting (up to {remaining:.0f} s)")
                announced = holder
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY_SECONDS)


def run_lock_path(warehouse_path: Path) -> Path:
    return Path(f"{warehouse_path}.run-lock")


@contextmanager
def run_lock(
    warehouse_path: Path, *, wait_seconds: float = 600.0, on_wait: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold the warehouse's run lock (an exclusive flock on `<warehouse>.run-lock`) for a whole run.

    A second run waits, polling, up to `wait_seconds`, then raises WarehouseBusy. The lock file holds
    the owner's PID for the message; the kernel releases the lock when the owner exits, even when it
    is killed, so a crashed run never blocks the next one.
    """
    path = run_lock_path(warehouse_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                holder = path.read_text().strip() or "another run"
                if remaining <= 0:
                    raise WarehouseBusy(
                        f"warehouse {warehouse_path} is still in use by {holder} (another spendsense run)"
                        f" after waiting {wait_seconds:g} s (SPENDSENSE_LOCK_WAIT_SECONDS)"
                    ) from None
                if not announced:
                    on_wait(
                        f"warehouse {warehouse_path} is in use by {holder} (another spendsense run),"
                        f" waiting (up to {remaining:.0f} s)"
                    )
                    announced = True
                time.sleep(min(0.5, remaining))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
