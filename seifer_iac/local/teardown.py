"""`seifer down --local`: stop a local run started by another process and leave nothing behind.

The run directory's state file says which supervisor, which processes, whether namespaces were made and
which cgroups; processes go first (a namespace with a live process in it outlives `ip netns delete`, a
cgroup with one cannot be removed), then cgroups and namespaces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from seifer_iac.local import cgroups, netns, runstate


@dataclass(frozen=True)
class TeardownReport:
    """What `down` found and removed (empty tuples: nothing was running)."""

    run_dir: str
    recorded: bool
    signalled: tuple[str, ...]
    namespaces_removed: tuple[str, ...]
    cgroups_removed: tuple[str, ...] = ()


def default_run_dir(pipeline: str) -> Path:
    """Where a local run of `pipeline` keeps logs and its state file (`SEIFER_STATE_DIR` moves the base)."""
    base = os.environ.get("SEIFER_STATE_DIR") or str(Path.home() / ".local" / "state" / "seifer")
    return Path(base) / "local" / pipeline


def down(
    run_dir: str | os.PathLike[str], *, pipeline: str | None = None, grace_s: float | None = None
) -> TeardownReport:
    """Stop the recorded run in `run_dir`, then remove the pipeline's namespaces (recorded or named here).

    Safe to repeat, and useful after a crash: with no state file it still removes stale namespaces of
    `pipeline`.
    """
    state = runstate.read_state(run_dir)
    signalled = runstate.stop_recorded(run_dir, grace_s=grace_s) if state is not None else []
    name = pipeline or (state or {}).get("pipeline")
    removed: list[str] = []
    groups: list[str] = []
    if os.geteuid() == 0:
        groups = cgroups.sweep_recorded((state or {}).get("cgroups", [])) + cgroups.sweep_stale(pipeline=name)
    if name and ((state or {}).get("netns") or pipeline) and os.geteuid() == 0:
        removed = netns.cleanup_stale(name)
    return TeardownReport(
        run_dir=str(run_dir),
        recorded=state is not None,
        signalled=tuple(signalled),
        namespaces_removed=tuple(removed),
        cgroups_removed=tuple(groups),
    )
