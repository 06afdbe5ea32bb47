"""Process identity and process-group signalling that never hits a recycled pid.

A pid alone may be reused once its process is gone; a pid plus its kernel start time names one process for
good. Supervisor and `seifer down --local` signal whole process groups (so a stage's children die with it),
but only members that started no earlier than the recorded group leader.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _stat_fields(text: str) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces): [state, ppid, ...]."""
    return text[text.rindex(")") + 2 :].split()


def proc_start_ticks(pid: int) -> int | None:
    """The kernel's start time of a process (clock ticks since boot), or None if it is gone.

    A pid plus its start time names one process for good; a pid alone may be reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = _stat_fields(stat)
    return int(fields[19])


def alive(pid: int) -> bool:
    """True while a process with this pid exists and is not a zombie (exited, waiting to be reaped)."""
    try:
        return _stat_fields(Path(f"/proc/{pid}/stat").read_text())[0] != "Z"
    except OSError:
        return False


def is_running(pid: int, start_ticks: int) -> bool:
    """True while that very process (pid and start time) lives; a zombie counts as ended."""
    try:
        fields = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[19]) == start_ticks


def group_members(pgid: int, not_before: int) -> list[int]:
    """Live processes of a process group started no earlier than the group leader was (recycling guard)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = _stat_fields(stat)
        if fields[0] == "Z":
            continue
        if int(fields[2]) == pgid and int(fields[19]) >= not_before:
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, not_before: int | None, sig: int) -> bool:
    """Signal the group if it is still ours; True if something was signalled."""
    if not_before is None:
        return False
    members = group_members(pgid, not_before)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return bool(members)
