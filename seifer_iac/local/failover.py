"""Losing a node in the emulator, and moving its stage to the backup node the plan names.

What Kubernetes does when a node dies: the pod is rescheduled on another allowed node with the SAME
ConfigMaps, and its Service keeps its ClusterIP, so no other pod changes. The emulator reproduces that
without touching any config: the Service address of the lost stage (its node's IP, which every config
already holds) moves to the backup node as a second address, like a ClusterIP following its pod; the
shaping classes that other nodes use toward that address are re-rated to their links to the backup node;
neighbour caches are flushed; and only the moved stage's process starts again, in the backup's namespace.
The moved process binds the same address (pods listen on their node's address) and is probed there.
Its predecessor's ZeroMQ socket reconnects to the same address by itself, and the dispatcher re-sends what
was lost in the dead node (`planHash` does not depend on nodes, so the moved stage accepts the old frames).

Losing the node = its interface down, its process SIGKILLed, its namespace deleted (the supervisor keeps
trying to restart the process there and fails, like a kubelet that is gone).
"""

from __future__ import annotations

import contextlib
import io
import math
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from seifer_iac.local import netns
from seifer_iac.local.runner import RunningPipeline, process_specs
from seifer_iac.local.supervisor import RestartPolicy, Supervisor
from seifer_iac.spec.model import Cluster

Argv = list[str]


@dataclass(frozen=True)
class Move:
    """Stage `stage` (process `process`) leaves node `lost` (Service address `address`) for `target`."""

    stage: int
    process: str
    lost: str
    target: str
    address: str


def cut_commands(config: netns.EmulatorConfig, lost: str) -> list[Argv]:
    """The node drops off the network (the first thing a dead node does)."""
    return [["ip", "-n", config.netns_of(lost), "link", "set", netns.NODE_IF, "down"]]


def remove_commands(config: netns.EmulatorConfig, lost: str) -> list[Argv]:
    return [["ip", "netns", "delete", config.netns_of(lost)]]


def takeover_commands(config: netns.EmulatorConfig, cluster: Cluster, lost: str, target: str) -> list[Argv]:
    """Move the lost node's address to `target` and re-rate every other node's class toward it."""
    address = config.address_of(lost)
    classid = f"1:{10 + config.index_of(lost):x}"
    cmds: list[Argv] = [
        ["ip", "-n", config.netns_of(target), "addr", "add", f"{address}/32", "dev", netns.NODE_IF]
    ]
    for source in config.nodes:
        if source in (lost, target):
            continue
        rate = cluster.bandwidth(source, target)
        if 0 < rate < math.inf:
            arg = f"{max(8, round(rate))}bit"
            cmds.append([
                "tc", "-n", config.netns_of(source), "class", "change", "dev", netns.NODE_IF, "parent", "1:",
                "classid", classid, "htb", "rate", arg, "ceil", arg,
            ])  # fmt: skip
            cmds += netns.reframe_commands(config, source, address, rate)
    for node in config.nodes:
        if node != lost:
            cmds.append(["ip", "-n", config.netns_of(node), "neigh", "flush", "all"])
    if config.host_access:  # the host probes the moved pod at the same address: forget the old MAC
        cmds.append(["ip", "neigh", "flush", "to", address, "dev", config.host_link])
    return cmds


def lose_node(running: RunningPipeline, move: Move) -> None:
    """Cut the node's link, kill its stage process, delete its namespace."""
    assert running.emulator is not None
    config = running.emulator.config
    for argv in cut_commands(config, move.lost):
        netns.run_command(argv)
    with contextlib.suppress(ProcessLookupError):
        running.supervisor.kill(move.process, signal.SIGKILL)
    for argv in remove_commands(config, move.lost):
        netns.run_command(argv)


@contextlib.contextmanager
def take_over(
    running: RunningPipeline, cluster: Cluster, move: Move, run_dir: Path, ready_timeout_s: float = 300.0
) -> Iterator[Supervisor]:
    """Start the moved stage on `move.target` behind the lost node's address; stop it on exit."""
    emulator = running.emulator
    assert emulator is not None
    for argv in takeover_commands(emulator.config, cluster, move.lost, move.target):
        netns.run_command(argv)
    pod = next(p for p in running.pods if p.name == move.process)
    moved = replace(pod, node=move.target)  # same files, same address (now the target's), same probe URL
    with Supervisor(
        run_dir,
        process_specs([moved], emulator),
        policy=RestartPolicy(initial_backoff_s=0.5, max_backoff_s=5.0),
    ) as supervisor:
        supervisor.wait_ready(timeout_s=ready_timeout_s, stream=io.StringIO())
        yield supervisor
