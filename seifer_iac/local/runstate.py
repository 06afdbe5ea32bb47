"""The run directory's state file, and stopping a run recorded there from another process.

`seifer up --local` may run in another terminal (or have crashed); `seifer down --local` only has the
run directory. The state file names the supervisor and every process group with its start time, so the
stop is exact: the supervisor is asked first (it cleans up its own children and namespaces), and what it
leaves is ended group by group, never touching a recycled pid.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from seifer_iac.local.procs import group_members, is_running, signal_group

STATE_FILE = "state.json"
POLL_S = 0.1


def state_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / STATE_FILE


def write_state(run_dir: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Atomically (write + rename), so a reader never sees half a file."""
    path = state_path(run_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_state(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The state file of a run directory, or None if no run is recorded there."""
    try:
        return json.loads(state_path(run_dir).read_text())
    except FileNotFoundError:
        return None


def stop_recorded(run_dir: str | os.PathLike[str], *, grace_s: float | None = None) -> list[str]:
    """Stop a run recorded in `run_dir` by another process; returns what was signalled.

    First the owning supervisor gets SIGTERM, so it stops restarting and cleans up itself (its namespaces
    too); if it is gone or does not finish in time, every recorded process group still alive (same start
    time, so never a recycled pid) gets SIGTERM then SIGKILL. The state file is removed at the end.
    """
    state = read_state(run_dir)
    if state is None:
        return []
    grace = float(state.get("grace_s", 5.0)) if grace_s is None else grace_s
    signalled: list[str] = []
    owner = state.get("supervisor", {})
    owner_pid, owner_ticks = owner.get("pid"), owner.get("start_ticks")
    if (
        owner_pid
        and owner_ticks is not None
        and owner_pid != os.getpid()
        and is_running(owner_pid, owner_ticks)
    ):
        os.kill(owner_pid, signal.SIGTERM)
        signalled.append(f"supervisor:{owner_pid}")
        deadline = time.monotonic() + grace + 10.0
        while time.monotonic() < deadline and is_running(owner_pid, owner_ticks):
            time.sleep(POLL_S)
    groups = [
        (name, int(entry["pid"]), entry.get("start_ticks"))
        for name, entry in sorted(state.get("processes", {}).items())
        if entry.get("pid") and entry.get("start_ticks") is not None
    ]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        hit = [name for name, pgid, ticks in groups if signal_group(pgid, ticks, sig)]
        signalled += [f"{name}:{sig.name}" for name in hit]
        if sig == signal.SIGTERM and hit:
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(group_members(pgid, t) for _, pgid, t in groups):
                time.sleep(POLL_S)
    state_path(run_dir).unlink(missing_ok=True)
    return signalled
