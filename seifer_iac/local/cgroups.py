"""Control groups for the local pods: a memory limit per pod and a CPU quota per node, as a kubelet sets them.

Where. The hierarchies are found through /proc/self/mountinfo and /proc/self/cgroup: a cgroup v1 `memory`
or `cpu` mount (a separate hierarchy per controller, as on this project's machine), or the cgroup v2 tree
when it carries the controller (most hosts). Everything is made under this process's own cgroup when that
is writable (so the caller's own limits still hold), else under the hierarchy's root.

Layout. One run directory per run, named `sf-<slug>-<hash6>-<pid>-<start ticks>` after the pipeline and
the owning process, so concurrent runs never touch each other and a run whose owner is gone is stale:
- v1 memory: <run>/<pod> (memory.limit_in_bytes, memory.memsw.limit_in_bytes = the same: no swap);
- v1 cpu: <run>/<node> (cpu.cfs_quota_us / cpu.cfs_period_us), shared by the node's pods;
- v2: <run>/<node>/<pod>: cpu.max on the node, memory.max and memory.swap.max = 0 on the pod.
The run's CPU weight is raised (cpu.shares / cpu.weight), so a host busy with other work still grants the
nodes their quotas: the quota is the ceiling that sets a node's speed, the weight keeps it from sinking.
A process joins its cgroups through a tiny `sh` prefix that writes its own pid to each `cgroup.procs` and
then execs the command, so the limit holds from the first byte (and it composes with `ip netns exec`,
which must come after: it remounts /sys).

Cleanup. `close()` ends what is left in the run's cgroups and removes them deepest first; `sweep_stale()`
(called on every start and by `seifer down --local`) does the same for any run directory whose owner
process is gone, which covers a crash. Plans are pure (lists of writes), so they are tested without root.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seifer_iac.local.netns import name_prefix
from seifer_iac.local.procs import is_running, proc_start_ticks
from seifer_iac.local.signals import SignalScoped, shielded, terminate_as_exception

CPU_PERIOD_US = 20_000  # short periods throttle a few-ms inference smoothly instead of in 100 ms bursts
MIN_QUOTA_US = 1_000  # the kernel's floor for cfs_quota_us
# The least CPU a node gets per period: a slow node's period grows until its quota is this long. Each slice
# starts with caches another node's processes have filled, so 1 ms slices (a 0.04-core node in a 25 ms
# period) made ResNet50 stages spend 5-10 % more CPU per inference than unthrottled; 10 ms slices (a 254 ms
# period) cut that to 0-5 % but stalled links into a throttled node for 244 ms at a time (a link-bound
# 7-stage chain measured 0.87-0.89 of its plan, against 0.92 with 1 ms and 0.93 with 3 ms slices).
# 3 ms: a 76 ms period for a Pi-class node (docs/benchmarks.md, section 6).
MIN_SLICE_US = 3_000
MAX_PERIOD_US = 1_000_000  # the kernel's ceiling for cfs_period_us
# Weight of the run against the host's other work (v1 shares, v2 weight: 16x the default). The quotas cap
# each node; the weight makes sure a busy host still grants them, so the nodes run at their speed.
CPU_SHARES = 16 * 1024
CPU_WEIGHT = 16 * 100
RUN_NAME = re.compile(r"^sf-[a-z0-9]+-[0-9a-f]{6}-(\d+)-(\d+)(?:-probe)?$")  # a probe is swept like a run


class CgroupError(RuntimeError):
    """A cgroup could not be made or written; the message names the file and the kernel's complaint."""


# --------------------------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class Mount:
    """One cgroup mount: where it is, what it carries, and which part of the hierarchy it shows."""

    point: str
    root: str
    version: int  # 1 or 2
    controllers: tuple[str, ...]


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup mounts of a /proc/<pid>/mountinfo text (v2 controllers: see `discover`)."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, options = tail[0], tail[2].split(",")
        point = fields[4].replace("\\040", " ")
        if fstype == "cgroup":
            known = ("cpu", "cpuacct", "memory", "cpuset", "pids", "blkio", "devices", "freezer")
            mounts.append(Mount(point, fields[3], 1, tuple(o for o in options if o in known)))
        elif fstype == "cgroup2":
            mounts.append(Mount(point, fields[3], 2, ()))
    return mounts


def parse_proc_cgroup(text: str) -> tuple[dict[str, str], str | None]:
    """/proc/<pid>/cgroup -> (v1 controller -> path, v2 path or None)."""
    v1: dict[str, str] = {}
    v2 = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if not names:
            v2 = path
        for name in names.split(","):
            if name:
                v1[name] = path
    return v1, v2


def own_dir(mount: Mount, path: str | None) -> str:
    """This process's cgroup directory inside `mount` (the mount's point when the path lies outside it)."""
    if path is None:
        return mount.point
    root = mount.root.rstrip("/")
    if root and not (path == root or path.startswith(root + "/")):
        return mount.point
    return mount.point.rstrip("/") + path[len(root) :] if path[len(root) :] != "/" else mount.point


@dataclass(frozen=True)
class Controller:
    """Where one controller (memory or cpu) is: its version, own cgroup directory and hierarchy root."""

    name: str
    version: int
    own: str
    root: str


def find_controllers(
    mountinfo: str, proc_cgroup: str, v2_controllers: Mapping[str, str]
) -> dict[str, Controller]:
    """memory and cpu, each from its own v1 mount if there is one, else from the v2 tree if it carries it.

    `v2_controllers` maps a cgroup2 mount point to the text of its `cgroup.controllers`.
    """
    v1_paths, v2_path = parse_proc_cgroup(proc_cgroup)
    found: dict[str, Controller] = {}
    mounts = parse_mountinfo(mountinfo)
    for name in ("memory", "cpu"):
        for mount in mounts:
            if mount.version == 1 and name in mount.controllers:
                found[name] = Controller(name, 1, own_dir(mount, v1_paths.get(name)), mount.point)
                break
        else:
            for mount in mounts:
                if mount.version == 2 and name in v2_controllers.get(mount.point, "").split():
                    found[name] = Controller(name, 2, own_dir(mount, v2_path), mount.point)
                    break
    return found


def discover() -> dict[str, Controller]:
    """This machine's memory and cpu controllers (empty when neither is mounted)."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return {}
    v2 = {}
    for mount in parse_mountinfo(mountinfo):
        if mount.version == 2:
            with contextlib.suppress(OSError):
                v2[mount.point] = (Path(mount.point) / "cgroup.controllers").read_text()
    return find_controllers(mountinfo, proc_cgroup, v2)


# -------------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PodLimit:
    """One pod: its node and its container's memory limit (None: no limit in the manifest)."""

    pod: str
    node: str
    memory_bytes: int | None


@dataclass(frozen=True)
class Write:
    """One value written to one cgroup file (in plan order)."""

    path: str
    value: str
    optional: bool = False  # the file may be missing (swap accounting off): skip, do not fail


@dataclass(frozen=True)
class Layout:
    """The directories of one run and what each pod joins; pure data, built by `plan_layout`."""

    dirs: tuple[str, ...]  # to make, parents first
    writes: tuple[Write, ...]  # memory limits and controller enabling (CPU quotas come with `cpu_writes`)
    joins: Mapping[str, tuple[str, ...]]  # pod -> cgroup.procs files to write its pid to
    memory_dirs: Mapping[str, tuple[str, int]]  # pod -> (its memory cgroup dir, controller version)
    cpu_dirs: Mapping[str, tuple[str, int]]  # node -> (its cpu cgroup dir, controller version)


def run_name(pipeline: str, pid: int, start_ticks: int) -> str:
    return f"{name_prefix(pipeline)}{pid}-{start_ticks}"


def plan_layout(run: str, bases: Mapping[str, Controller], pods: Sequence[PodLimit]) -> Layout:
    """The cgroups of one run: `bases` maps 'memory'/'cpu' to the controller whose own dir holds `run`."""
    dirs: list[str] = []
    writes: list[Write] = []
    joins: dict[str, list[str]] = {p.pod: [] for p in pods}
    memory_dirs: dict[str, tuple[str, int]] = {}
    cpu_dirs: dict[str, tuple[str, int]] = {}
    nodes = sorted({p.node for p in pods})

    def add(path: str) -> None:
        if path not in dirs:
            dirs.append(path)

    v2 = {c.own for c in bases.values() if c.version == 2}
    if len(v2) > 1:
        raise CgroupError(f"two cgroup v2 trees in use ({sorted(v2)}); expected one")
    if v2:
        base = v2.pop()
        wanted = " ".join(f"+{n}" for n in ("cpu", "memory") if n in bases and bases[n].version == 2)
        run_dir = f"{base}/{run}"
        writes.append(Write(f"{base}/cgroup.subtree_control", wanted))
        add(run_dir)
        writes.append(Write(f"{run_dir}/cgroup.subtree_control", wanted))
        if "cpu" in bases and bases["cpu"].version == 2:
            writes.append(Write(f"{run_dir}/cpu.weight", str(CPU_WEIGHT), optional=True))
        for node in nodes:
            add(f"{run_dir}/{node}")
            if "memory" in bases and bases["memory"].version == 2:
                writes.append(Write(f"{run_dir}/{node}/cgroup.subtree_control", "+memory"))
            if "cpu" in bases and bases["cpu"].version == 2:
                cpu_dirs[node] = (f"{run_dir}/{node}", 2)
        for pod in pods:
            leaf = f"{run_dir}/{pod.node}/{pod.pod}"
            add(leaf)
            joins[pod.pod].append(f"{leaf}/cgroup.procs")
            if "memory" in bases and bases["memory"].version == 2:
                memory_dirs[pod.pod] = (leaf, 2)
    if "memory" in bases and bases["memory"].version == 1:
        run_dir = f"{bases['memory'].own}/{run}"
        add(run_dir)
        for pod in pods:
            add(f"{run_dir}/{pod.pod}")
            joins[pod.pod].append(f"{run_dir}/{pod.pod}/cgroup.procs")
            memory_dirs[pod.pod] = (f"{run_dir}/{pod.pod}", 1)
    if "cpu" in bases and bases["cpu"].version == 1:
        run_dir = f"{bases['cpu'].own}/{run}"
        add(run_dir)
        writes.append(Write(f"{run_dir}/cpu.shares", str(CPU_SHARES), optional=True))
        for node in nodes:
            add(f"{run_dir}/{node}")
            cpu_dirs[node] = (f"{run_dir}/{node}", 1)
        for pod in pods:
            joins[pod.pod].append(f"{run_dir}/{pod.node}/cgroup.procs")
    for pod in pods:
        if pod.memory_bytes is not None and pod.pod in memory_dirs:
            writes += memory_limit_writes(*memory_dirs[pod.pod], pod.memory_bytes)
    return Layout(tuple(dirs), tuple(writes), {k: tuple(v) for k, v in joins.items()}, memory_dirs, cpu_dirs)


def memory_limit_writes(directory: str, version: int, limit: int) -> list[Write]:
    """The limit, and swap off for the cgroup where the controller accounts swap (so the limit is real)."""
    if version == 1:
        return [
            Write(f"{directory}/memory.limit_in_bytes", str(limit)),
            Write(f"{directory}/memory.memsw.limit_in_bytes", str(limit), optional=True),
            Write(f"{directory}/memory.swappiness", "0", optional=True),
        ]
    return [
        Write(f"{directory}/memory.max", str(limit)),
        Write(f"{directory}/memory.swap.max", "0", optional=True),
    ]


def quota_period_us(
    cores: float | None, period_us: int = CPU_PERIOD_US, min_slice_us: int = MIN_SLICE_US
) -> int:
    """The CFS period a node of `cores` gets. A quota below `min_slice_us` (at least the kernel's 1 ms floor)
    gets a longer period instead (up to 1 s), so a slow node keeps its exact share and runs in slices long
    enough that refilling its caches after another node ran costs little."""
    least = max(MIN_QUOTA_US, min_slice_us)
    if cores is not None and cores * period_us < least:
        return max(period_us, min(MAX_PERIOD_US, math.ceil(least / cores)))
    return period_us


def cpu_quota_writes(
    directory: str,
    version: int,
    cores: float | None,
    period_us: int = CPU_PERIOD_US,
    min_slice_us: int = MIN_SLICE_US,
) -> list[Write]:
    """A CFS quota of `cores` CPUs per period (None: unlimited), over `quota_period_us`'s period."""
    period_us = quota_period_us(cores, period_us, min_slice_us)
    quota = None if cores is None else max(MIN_QUOTA_US, round(cores * period_us))
    if version == 1:
        return [
            Write(f"{directory}/cpu.cfs_period_us", str(period_us)),
            Write(f"{directory}/cpu.cfs_quota_us", "-1" if quota is None else str(quota)),
        ]
    return [Write(f"{directory}/cpu.max", f"{'max' if quota is None else quota} {period_us}")]


def join_prefix(procs_files: Sequence[str]) -> tuple[str, ...]:
    """argv to prepend: the shell writes its own pid to every file, then execs the command (same pid)."""
    if not procs_files:
        return ()
    script = 'IFS=:; for f in $0; do echo $$ > "$f" || exit 125; done; unset IFS; exec "$@"'
    return ("/bin/sh", "-c", script, ":".join(procs_files))


# ------------------------------------------------------------------------------------------ measurements


def read_counter(text: str, key: str) -> int:
    """`key N` from a flat-keyed cgroup file (memory.oom_control, memory.events); 0 when absent."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return 0


def vm_hwm_bytes(pid: int) -> int | None:
    """A process's resident high-water mark (VmHWM), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class PodMemory:
    """One pod's memory cgroup: how many OOM kills it saw and the peak it reached."""

    pod: str
    node: str
    limit_bytes: int | None
    directory: str
    version: int

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            return read_counter(Path(self.directory, name).read_text(), "oom_kill")
        except (OSError, ValueError):
            return 0

    def peak_bytes(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int(Path(self.directory, name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def reset_peak(self) -> None:
        """v1 resets by writing 0; v2's memory.peak is kept for the cgroup's life (the message says so)."""
        if self.version == 1:
            with contextlib.suppress(OSError):
                Path(self.directory, "memory.max_usage_in_bytes").write_text("0")


# ------------------------------------------------------------------------------------------- the executor


def _write(write: Write) -> None:
    try:
        Path(write.path).write_text(write.value)
    except FileNotFoundError:
        if not write.optional:
            raise CgroupError(f"cannot write {write.value!r} to {write.path}: no such file") from None
    except OSError as err:
        if not write.optional:
            raise CgroupError(f"cannot write {write.value!r} to {write.path}: {err.strerror}") from None


def _procs(directory: Path) -> list[int]:
    try:
        return [int(tok) for tok in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def remove_tree(top: Path, grace_s: float = 2.0) -> list[str]:
    """End every process left in `top` and below (they are ours), then remove the cgroups deepest first."""
    if not top.is_dir():
        return []
    below = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    tree = [*below, top]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = {pid for d in tree for pid in _procs(d) if pid != os.getpid()}
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while pids and time.monotonic() < deadline and any(_procs(d) for d in tree):
            time.sleep(0.05)
    removed = []
    for directory in tree:
        for _ in range(40):  # a killed task leaves its cgroup a moment after it is reaped
            try:
                directory.rmdir()
                removed.append(str(directory))
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
    return removed


def stale_runs(parents: Iterable[str], pipeline: str | None = None) -> list[Path]:
    """Run directories (ours by name) under `parents` whose owning process is gone."""
    found = []
    for parent in dict.fromkeys(parents):
        with contextlib.suppress(OSError):
            for entry in sorted(Path(parent).iterdir()):
                match = RUN_NAME.match(entry.name)
                if not match or not entry.is_dir():
                    continue
                if pipeline is not None and not entry.name.startswith(name_prefix(pipeline)):
                    continue
                if not is_running(int(match.group(1)), int(match.group(2))):
                    found.append(entry)
    return found


def sweep_stale(
    controllers: Mapping[str, Controller] | None = None, pipeline: str | None = None
) -> list[str]:
    """Remove what crashed runs left, under this process's own cgroups and the hierarchies' roots."""
    found = discover() if controllers is None else controllers
    parents = [d for c in found.values() for d in (c.own, c.root)]
    removed: list[str] = []
    for run in stale_runs(parents, pipeline):
        removed += remove_tree(run)
    return removed


def sweep_recorded(directories: Iterable[str]) -> list[str]:
    """Remove recorded run cgroups (a state file's list) whose owner is gone, wherever they were made."""
    tops = {Path(d) for d in directories if RUN_NAME.match(Path(d).name)}
    removed: list[str] = []
    for top in sorted(tops):
        match = RUN_NAME.match(top.name)
        assert match is not None
        if not is_running(int(match.group(1)), int(match.group(2))):
            removed += remove_tree(top)
    return removed


def available(controllers: Mapping[str, Controller] | None = None) -> tuple[bool, str]:
    """Whether pods can get memory limits and CPU quotas here; if not, why (said once, then run as today)."""
    if os.geteuid() != 0:
        return False, "memory limits and CPU quotas need root (cgroups), and this process is not root"
    found = discover() if controllers is None else controllers
    missing = [n for n in ("memory", "cpu") if n not in found]
    if missing:
        return False, f"no writable cgroup controller for {' and '.join(missing)} (see /proc/self/mountinfo)"
    try:
        bases = choose_bases(
            found, run_name("probe", os.getpid(), proc_start_ticks(os.getpid()) or 0) + "-probe"
        )
    except CgroupError as err:
        return False, str(err)
    versions = sorted({f"v{c.version}" for c in bases.values()})
    return True, f"cgroup {'+'.join(versions)}"


def choose_bases(found: Mapping[str, Controller], probe: str) -> dict[str, Controller]:
    """Per controller, the first of (own cgroup, hierarchy root) where a child cgroup can be made and used."""
    bases: dict[str, Controller] = {}
    for name, controller in found.items():
        errors = []
        for parent in dict.fromkeys((controller.own, controller.root)):
            candidate = Controller(name, controller.version, parent, controller.root)
            try:
                _probe(candidate, probe)
                bases[name] = candidate
                break
            except OSError as err:
                errors.append(f"{parent}: {err.strerror or err}")
        else:
            raise CgroupError(f"cannot make a {name} cgroup ({'; '.join(errors)})")
    return bases


def _probe(controller: Controller, probe: str) -> None:
    """Make a child, check the controller's file is there (enabling it on v2), remove the child."""
    child = Path(controller.own, probe)
    if controller.version == 2:
        (Path(controller.own) / "cgroup.subtree_control").write_text(f"+{controller.name}")
    child.mkdir()
    try:
        wanted = {"memory": ("memory.limit_in_bytes", "memory.max"), "cpu": ("cpu.cfs_quota_us", "cpu.max")}
        name = wanted[controller.name][controller.version - 1]
        if not (child / name).exists():
            raise OSError(f"{name} missing in a new cgroup")
    finally:
        child.rmdir()


@dataclass
class Cgroups(SignalScoped):
    """The cgroups of one local run, alive inside a `with` block and gone after it, whatever happens."""

    pipeline: str
    pods: Sequence[PodLimit]
    controllers: Mapping[str, Controller] | None = None
    layout: Layout | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._signals = terminate_as_exception()
        self._made: list[str] = []
        self.run = run_name(self.pipeline, os.getpid(), proc_start_ticks(os.getpid()) or 0)

    def start(self) -> None:
        found = discover() if self.controllers is None else dict(self.controllers)
        sweep_stale(found)
        bases = choose_bases(found, f"{self.run}-probe")
        self.layout = plan_layout(self.run, bases, self.pods)
        for directory in self.layout.dirs:
            try:
                os.mkdir(directory)
            except FileExistsError:
                pass
            except OSError as err:
                raise CgroupError(f"cannot make cgroup {directory}: {err.strerror}") from None
            self._made.append(directory)
        for write in self.layout.writes:
            _write(write)

    def close(self) -> None:
        """End leftovers and remove every cgroup made (deepest first); safe to call twice."""
        with shielded():
            tops = [d for d in self._made if Path(d).name == self.run]
            for top in tops:
                remove_tree(Path(top))
            self._made = []

    @property
    def directories(self) -> tuple[str, ...]:
        return tuple(self._made)

    def prefix(self, pod: str) -> tuple[str, ...]:
        assert self.layout is not None
        return join_prefix(self.layout.joins.get(pod, ()))

    def memory(self, pod: str) -> PodMemory | None:
        assert self.layout is not None
        if pod not in self.layout.memory_dirs:
            return None
        limit = next((p for p in self.pods if p.pod == pod), None)
        directory, version = self.layout.memory_dirs[pod]
        return PodMemory(
            pod, limit.node if limit else "", limit.memory_bytes if limit else None, directory, version
        )

    def set_memory(self, pod: str, limit: int) -> None:
        """A new memory limit for a pod's cgroup (its replacement's manifest says another); v1's
        memory+swap limit may never be below the memory limit, so the order depends on the direction."""
        assert self.layout is not None
        if pod not in self.layout.memory_dirs:
            return
        directory, version = self.layout.memory_dirs[pod]
        writes = memory_limit_writes(directory, version, limit)
        current = next((p.memory_bytes for p in self.pods if p.pod == pod), None)
        if version == 1 and (current is None or limit > current):
            writes = [writes[1], writes[0], *writes[2:]]  # memsw first when raising
        for write in writes:
            _write(write)
        self.pods = [PodLimit(p.pod, p.node, limit) if p.pod == pod else p for p in self.pods]

    def set_cpu(self, cores_by_node: Mapping[str, float | None], period_us: int = CPU_PERIOD_US) -> None:
        """Give each node's cgroup its CFS quota (None: unlimited)."""
        assert self.layout is not None
        for node, cores in sorted(cores_by_node.items()):
            if node in self.layout.cpu_dirs:
                for write in cpu_quota_writes(*self.layout.cpu_dirs[node], cores, period_us):
                    _write(write)
