"""Files a reader must never see half-written: write beside the target, fsync, rename over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _process_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any writer thread exists.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


# The mode an ordinary open() would give a new file: mkstemp's private 0600 would hide exports, the
# approval queue and the report from the operators' group.
DEFAULT_FILE_MODE = 0o666 & ~_process_umask()


@contextmanager
def atomic_path(path: Path, mode: int = DEFAULT_FILE_MODE) -> Iterator[Path]:
    """A temporary path beside `path` to write to (by any writer: Python, DuckDB's COPY, ...).

    When the block ends without an error the file is flushed to disk, given `mode` and renamed over
    `path` (an atomic rename in one folder), so a reader sees the old file or the new one, never half.
    On an error the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(temp_name)
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp, mode)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes, mode: int = DEFAULT_FILE_MODE) -> Path:
    """Write `data` to `path` through `atomic_path`; returns `path`."""
    with atomic_path(path, mode) as temp:
        temp.write_bytes(data)
    return Path(path)
