"""Read probe logs from standard input or a folder, bounded: a hostile stream costs a one-line error.

`kubectl logs` output can be anything a container printed, so nothing here trusts its size or shape: a
line is cut at MAX_LINE_BYTES (collect then rejects it as too long if it claimed to be the probe's), the
whole input at MAX_TOTAL_BYTES (`yes` or `/dev/zero` on stdin ends in an error, not a hang), and only
regular files of a folder are opened, non-blocking (a named pipe there is refused without a read).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from seifer_iac.probe.collect import MAX_LINE_CHARACTERS

MAX_LINE_BYTES = MAX_LINE_CHARACTERS + 1  # one byte more than collect accepts, so it can say "too long"
MAX_TOTAL_BYTES = 64 * 2**20  # the logs of 10,000 probe Jobs are a few MiB
MAX_FILES = 100_000
CHUNK_BYTES = 64 * 1024


class LogsError(ValueError):
    """Input that cannot be read as logs; one line naming the source."""


class Budget:
    """Bytes left for all sources together."""

    def __init__(self, total: int = MAX_TOTAL_BYTES) -> None:
        self.left = total
        self.total = total

    def spend(self, count: int, source: str) -> None:
        self.left -= count
        if self.left < 0:
            raise LogsError(
                f"{source}: more than {self.total // 2**20} MiB of logs in all; pass only the probe Jobs' "
                "logs (kubectl logs -l seifer.dev/probe=link ...)"
            )


def read_lines(stream: BinaryIO, source: str, budget: Budget) -> Iterator[str]:
    """The stream's lines as text (undecodable bytes replaced), each cut at MAX_LINE_BYTES."""
    line = bytearray()
    overlong = False
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        budget.spend(len(chunk), source)
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            room = MAX_LINE_BYTES - len(line)
            if len(piece) > room:
                overlong = True
            line += piece[: max(room, 0)]
            if end < 0:
                break
            yield line.decode("utf-8", errors="replace")
            line.clear()
            overlong = False
            start = end + 1
    if line or overlong:
        yield line.decode("utf-8", errors="replace")


def open_regular(path: Path) -> BinaryIO:
    """A regular file opened without blocking; LogsError for anything else."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise LogsError(f"{path}: cannot read it ({error.strerror or error})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise LogsError(f"{path}: not a regular file; --from reads the log files in a folder")
    return os.fdopen(descriptor, "rb")


def folder_files(folder: Path) -> list[Path]:
    """The files of a logs folder in name order (not recursive; hidden files and subfolders skipped)."""
    try:
        info = os.stat(folder)
    except OSError as error:
        raise LogsError(
            f"{folder}: {error.strerror or error}; pass the folder probe.sh saved the logs in"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise LogsError(f"{folder}: not a folder; pass the folder probe.sh saved the logs in")
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if len(names) >= MAX_FILES:
                raise LogsError(f"{folder}: more than {MAX_FILES} files; pass the folder of one probe run")
            if not entry.name.startswith(".") and not entry.is_dir(follow_symlinks=False):
                names.append(entry.name)
    if not names:
        raise LogsError(f"{folder}: no log files in it")
    return [folder / name for name in sorted(names)]


def folder_lines(folder: Path, budget: Budget) -> Iterator[tuple[str, Iterator[str]]]:
    """(source, lines) of each file, opened one at a time as collect reaches it."""
    for path in folder_files(folder):
        with open_regular(path) as stream:
            yield str(path), read_lines(stream, str(path), budget)
