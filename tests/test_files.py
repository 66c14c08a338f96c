"""Atomic writes: readers see the old file or the new one, with an ordinary file mode."""

from __future__ import annotations

import os
import stat

import pytest

from spendsense_dagster.lib.core.files import DEFAULT_FILE_MODE, atomic_path, write_atomically


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_mode_an_ordinary_open_would_give(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = write_atomically(tmp_path / "report.html", b"<p>ok</p>")
    assert atomic.read_bytes() == b"<p>ok</p>"
    assert mode_of(atomic) == mode_of(plain) == DEFAULT_FILE_MODE


def test_a_private_file_keeps_the_mode_asked_for(tmp_path):
    path = write_atomically(tmp_path / "tokens.json", b"{}", mode=0o600)
    assert mode_of(path) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_atomically(tmp_path / "data.csv", b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]
