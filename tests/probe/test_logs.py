"""Reading logs: lines cut at the limit, the total bounded, folders read file by file, pipes refused."""

from __future__ import annotations

import io
import os

import pytest

from seifer_iac.probe.logs import MAX_LINE_BYTES, Budget, LogsError, folder_lines, read_lines


def lines_of(data: bytes, total: int = 2**20) -> list[str]:
    return list(read_lines(io.BytesIO(data), "stdin", Budget(total)))


def test_lines_across_chunks_and_without_a_final_newline():
    data = b"a\n" + b"x" * 100_000 + b"\nlast"
    assert lines_of(data) == ["a", "x" * (MAX_LINE_BYTES), "last"]
    assert lines_of(b"") == [] and lines_of(b"\n") == [""]


def test_bad_utf8_is_replaced_not_raised():
    assert lines_of(b"\xff{\n") == ["\ufffd{"]


def test_the_total_is_bounded():
    with pytest.raises(LogsError, match="stdin: more than 0 MiB of logs"):
        lines_of(b"y\n" * 200_000, total=1000)


def test_a_folder_is_read_in_name_order_skipping_hidden_files_and_folders(tmp_path):
    (tmp_path / "b.log").write_text("2\n")
    (tmp_path / "a.log").write_text("1\n")
    (tmp_path / ".marker").write_text("x\n")
    (tmp_path / "sub").mkdir()
    got = [(source.rsplit("/", 1)[-1], list(lines)) for source, lines in folder_lines(tmp_path, Budget())]
    assert got == [("a.log", ["1"]), ("b.log", ["2"])]


def test_a_named_pipe_in_the_folder_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.log")
    with pytest.raises(LogsError, match="not a regular file"):
        for _, lines in folder_lines(tmp_path, Budget()):
            list(lines)


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_a_folder_that_is_not_one_of_logs(tmp_path, make):
    target = tmp_path / "logs"
    if make == "file":
        target.write_text("x")
    elif make == "empty":
        target.mkdir()
    with pytest.raises(LogsError, match="logs"):
        list(folder_lines(target, Budget()))
