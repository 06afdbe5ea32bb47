"""Reading a file that someone else wrote: a config or a weight chunk from a mounted volume.

A named pipe in its place would block the reader forever and a device (`/dev/zero`) would fill memory, so
the stage process and the probe refuse anything but a regular file, and anything larger than they expect,
before reading a byte of it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; OSError (with a readable strerror) otherwise.

    Opened non-blocking and checked with fstat on the open descriptor, so a pipe is refused without waiting
    for a writer and a file swapped between a check and the open is still checked.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a file", str(path))
        data = handle.read(max_bytes + 1)  # st_size may lie (/proc files say 0)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than the {max_bytes:,} bytes expected", str(path))
    return data
