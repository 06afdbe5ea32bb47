"""runtime.files.read_regular: a pipe, a device or a folder where a config or chunk should be is refused
at once (no read that blocks or never ends), and so is a file larger than the reader expects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.files import read_regular

ROOT = Path(__file__).resolve().parents[2]


def test_a_regular_file_within_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100) == b"x" * 100


def test_a_file_larger_than_expected_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"x" * 101)
    with pytest.raises(OSError, match="larger than the 100 bytes expected"):
        read_regular(path, 100)


def test_a_folder_or_device_is_refused_without_reading(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="a directory"):
        read_regular(tmp_path, 1 << 20)
    with pytest.raises(OSError, match="a character device"):
        read_regular("/dev/zero", 1 << 20)  # before: read to the limit, or forever without one


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "config.json"
    os.mkfifo(pipe)
    code = f"from runtime.files import read_regular\nread_regular({str(pipe)!r}, 100)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, cwd=ROOT, check=False
    )  # a subprocess: before the fix this blocked forever in open()
    assert "a named pipe, not a file" in done.stderr
