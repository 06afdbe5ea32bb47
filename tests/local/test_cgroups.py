"""Pod cgroups: pure discovery and plans (no root), then real memory limits and CPU quotas when possible."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from seifer_iac.local import cgroups, netns, speed
from seifer_iac.local.cgroups import Cgroups, Controller, PodLimit
from seifer_iac.local.supervisor import OOM_KILLED, ProcessSpec, RestartPolicy, Supervisor
from seifer_iac.spec.model import Cluster, Node
from tests.local.helpers import REPO, child_env, eventually

MIB = 2**20

# This project's machine: v1 cpu and memory as separate hierarchies, a cgroup2 beside them without either.
MOUNTINFO_V1 = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PROC_CGROUP_V1 = "4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n"
# A pure cgroup v2 host (systemd): one tree carrying both controllers.
MOUNTINFO_V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
PROC_CGROUP_V2 = "0::/user.slice/user-1000.slice/session-2.scope\n"


def test_discovery_on_a_v1_host_takes_each_controllers_own_hierarchy() -> None:
    found = cgroups.find_controllers(MOUNTINFO_V1, PROC_CGROUP_V1, {"/sys/fs/cgroup/unified": ""})
    assert found["memory"] == Controller(
        "memory", 1, "/sys/fs/cgroup/memory/process_api/abc", "/sys/fs/cgroup/memory"
    )
    assert found["cpu"] == Controller("cpu", 1, "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu")


def test_discovery_on_a_v2_host_uses_the_tree_that_carries_the_controllers() -> None:
    found = cgroups.find_controllers(
        MOUNTINFO_V2, PROC_CGROUP_V2, {"/sys/fs/cgroup": "cpuset cpu io memory pids"}
    )
    own = "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope"
    assert found == {
        "memory": Controller("memory", 2, own, "/sys/fs/cgroup"),
        "cpu": Controller("cpu", 2, own, "/sys/fs/cgroup"),
    }
    assert cgroups.find_controllers(MOUNTINFO_V2, PROC_CGROUP_V2, {"/sys/fs/cgroup": "pids"}) == {}


def test_v1_layout_memory_per_pod_cpu_per_node_swap_off() -> None:
    bases = {"memory": Controller("memory", 1, "/m/own", "/m"), "cpu": Controller("cpu", 1, "/c", "/c")}
    pods = [PodLimit("p-stage-1", "pi-1", 64 * MIB), PodLimit("p-stage-2", "pi-1", None)]
    layout = cgroups.plan_layout("sf-x-abcdef-1-2", bases, pods)
    assert layout.dirs == (
        "/m/own/sf-x-abcdef-1-2",
        "/m/own/sf-x-abcdef-1-2/p-stage-1",
        "/m/own/sf-x-abcdef-1-2/p-stage-2",
        "/c/sf-x-abcdef-1-2",
        "/c/sf-x-abcdef-1-2/pi-1",
    )
    assert layout.joins["p-stage-1"] == (
        "/m/own/sf-x-abcdef-1-2/p-stage-1/cgroup.procs",
        "/c/sf-x-abcdef-1-2/pi-1/cgroup.procs",
    )
    written = {(w.path.rsplit("/", 2)[-2], w.path.rsplit("/", 1)[-1]): w.value for w in layout.writes}
    assert written[("p-stage-1", "memory.limit_in_bytes")] == str(64 * MIB)
    assert written[("p-stage-1", "memory.memsw.limit_in_bytes")] == str(64 * MIB)
    assert not any("p-stage-2" in w.path for w in layout.writes)  # no limit in the manifest: none here
    assert layout.cpu_dirs == {"pi-1": ("/c/sf-x-abcdef-1-2/pi-1", 1)}


def test_v2_layout_nests_pods_under_their_node_and_enables_controllers() -> None:
    own = "/sys/fs/cgroup"
    bases = {"memory": Controller("memory", 2, own, own), "cpu": Controller("cpu", 2, own, own)}
    layout = cgroups.plan_layout("sf-x-abcdef-1-2", bases, [PodLimit("p", "n", 32 * MIB)])
    assert layout.dirs == (f"{own}/sf-x-abcdef-1-2", f"{own}/sf-x-abcdef-1-2/n", f"{own}/sf-x-abcdef-1-2/n/p")
    assert layout.joins["p"] == (f"{own}/sf-x-abcdef-1-2/n/p/cgroup.procs",)
    values = {w.path: w.value for w in layout.writes}
    assert values[f"{own}/cgroup.subtree_control"] == "+cpu +memory"
    assert values[f"{own}/sf-x-abcdef-1-2/n/cgroup.subtree_control"] == "+memory"
    assert values[f"{own}/sf-x-abcdef-1-2/n/p/memory.max"] == str(32 * MIB)
    assert values[f"{own}/sf-x-abcdef-1-2/n/p/memory.swap.max"] == "0"
    assert layout.cpu_dirs == {"n": (f"{own}/sf-x-abcdef-1-2/n", 2)}


def test_cpu_quota_writes_and_the_join_prefix() -> None:
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 1, 0.25, 20_000)] == ["20000", "5000"]
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 1, None)] == [str(cgroups.CPU_PERIOD_US), "-1"]
    # a slow node's period grows until it gets at least a 3 ms slice (a Pi-class 0.04 core: 75 ms)
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 1, 0.1, 20_000)] == ["30000", "3000"]
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 2, 0.04, 20_000)] == ["3000 75000"]
    # with 1 ms slices (the kernel's floor) a 0.04-core node had a 25 ms period
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 2, 0.04, 20_000, 1_000)] == ["1000 25000"]
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 2, 0.0001, 20_000)] == ["1000 1000000"]
    assert [w.value for w in cgroups.cpu_quota_writes("/c/n", 2, None, 20_000)] == ["max 20000"]
    prefix = cgroups.join_prefix(["/a/cgroup.procs", "/b/cgroup.procs"])
    assert prefix[:2] == ("/bin/sh", "-c") and prefix[-1] == "/a/cgroup.procs:/b/cgroup.procs"
    assert cgroups.join_prefix([]) == ()


def test_counters_and_run_names() -> None:
    assert cgroups.read_counter("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill") == 3
    assert cgroups.read_counter("low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n", "oom_kill") == 1
    assert cgroups.read_counter("", "oom_kill") == 0
    name = cgroups.run_name("mobilenet-dev", 1234, 5678)
    assert cgroups.RUN_NAME.match(name) and name.endswith("-1234-5678")


def test_available_explains_why_not_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from seifer_iac.local.runner import resolve_limits

    monkeypatch.setattr(cgroups.os, "geteuid", lambda: 1000)
    ok, reason = cgroups.available()
    assert not ok and "root" in reason
    enforced, why = resolve_limits("auto")
    assert not enforced and "not enforced" in why and "root" in why and "unlimited" in why
    with pytest.raises(cgroups.CgroupError, match=r"cannot enforce node limits here: .*root"):
        resolve_limits("yes")
    assert resolve_limits("no")[0] is False


# ----------------------------------------------------------------------------------------- real cgroups


@pytest.fixture(scope="module")
def writable_cgroups() -> None:
    ok, reason = cgroups.available()
    if not ok:
        pytest.skip(reason)


def _leftovers(run: str) -> list[str]:
    found = cgroups.discover()
    return [str(p) for c in found.values() for parent in {c.own, c.root} for p in Path(parent).glob(run)]


HOG = (
    "import numpy as np, time; a = np.ones({mib} * 2**20 // 8); a += 1; print('held', flush=True); "
    "time.sleep(60)"
)


@pytest.mark.cgroups
def test_a_pod_over_its_limit_is_oom_killed_reported_restarted_and_counted(
    writable_cgroups: None, tmp_path: Path
) -> None:
    events: list[str] = []
    pods = [PodLimit("hog", "pi-7", 48 * MIB)]
    with Cgroups(f"toom-{os.getpid()}", pods) as groups:
        run = groups.run
        spec = ProcessSpec(
            "hog", (sys.executable, "-c", HOG.format(mib=200)), prefix=groups.prefix("hog"), env=child_env()
        )
        memory = groups.memory("hog")
        assert memory is not None
        policy = RestartPolicy(initial_backoff_s=0.2, max_backoff_s=0.4)
        with Supervisor(
            tmp_path, [spec], policy=policy, memory={"hog": memory}, on_event=events.append
        ) as sup:
            eventually(lambda: sup.status()[0].oom_kills >= 2, timeout_s=60, what="two OOM kills")
            status = sup.status()[0]
        assert status.restarts >= 1 and status.reason == OOM_KILLED
        message = events[0]
        assert message.startswith("OOMKilled: hog on node pi-7") and "memory limit 48 MiB" in message
        peak = int(message.split("cgroup peak ")[1].split()[0])
        assert 40 <= peak <= 48  # measured at the limit, not the 200 MiB asked for
        assert "OOMKilled" in (tmp_path / "logs" / "hog.log").read_text()
    assert _leftovers(run) == []


@pytest.mark.cgroups
def test_a_pod_under_its_limit_runs(writable_cgroups: None) -> None:
    with Cgroups(f"tfit-{os.getpid()}", [PodLimit("fit", "n", 256 * MIB)]) as groups:
        done = subprocess.run(
            [*groups.prefix("fit"), sys.executable, "-c", HOG.format(mib=64).replace("time.sleep(60)", "")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        memory = groups.memory("fit")
        assert memory is not None and memory.oom_kills() == 0
        assert done.returncode == 0 and "held" in done.stdout
        assert (memory.peak_bytes() or 0) >= 64 * MIB
        run = groups.run
    assert _leftovers(run) == []


# A fixed block of single-threaded compute; prints the wall time it took.
BLOCK = """
import time, numpy as np
a = np.random.default_rng(0).standard_normal((160, 160))
start, cpu = time.perf_counter(), time.process_time()
for _ in range(int(__import__('sys').argv[1])):
    a = np.tanh(a @ a / 160)
print(time.perf_counter() - start, time.process_time() - cpu)
"""

REPEATS = 5  # per quota; the fastest counts (see _quota_bound_wall)


def _repeats_for(cpu_seconds: float) -> int:
    """Block repeats that take about `cpu_seconds` of one core (the fastest of three unthrottled runs)."""
    fastest = min(_block_run((), 20).wall for _ in range(3))
    return max(10, int(20 * cpu_seconds / max(fastest, 1e-4)))


@dataclass(frozen=True)
class BlockRun:
    """One timed block: wall seconds and the CPU seconds the process was granted in them."""

    wall: float
    cpu: float

    @property
    def cores(self) -> float:
        return self.cpu / self.wall


def _block_run(prefix: tuple[str, ...], repeats: int) -> BlockRun:
    env = {**child_env(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [*prefix, sys.executable, "-c", BLOCK, str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    wall, cpu = (float(word) for word in done.stdout.split()[-2:])
    return BlockRun(wall, cpu)


def _assert_quota_holds(runs: list[BlockRun], quota: float) -> None:
    """A CFS quota is a ceiling: the cores a process gets never exceed it, whatever else the host runs.

    The floor only says the quota was not set far too low: a loaded CI host may grant less than it.
    """
    cores = statistics.median(run.cores for run in runs)
    assert cores <= quota * 1.10, (quota, runs)
    assert cores >= quota * 0.30, (quota, runs)


def _quota_bound_wall(runs: list[BlockRun]) -> float:
    """The block's wall time under its quota alone: the fastest repeat.

    Host load only ever slows a repeat (one-sided noise), so the minimum is the estimate that other
    jobs on a shared CI machine cannot bias; a median of three was seen 22 % off there.
    """
    return min(run.wall for run in runs)


@pytest.mark.cgroups
def test_a_node_at_half_the_speed_runs_the_same_block_twice_as_long(writable_cgroups: None) -> None:
    """Quotas of 0.3 and 0.15 of a core (small enough to be granted on a loaded 2-core machine)."""
    pods = [PodLimit("fast-pod", "fast", None), PodLimit("slow-pod", "slow", None)]
    with Cgroups(f"tcpu-{os.getpid()}", pods) as groups:
        run = groups.run
        repeats = _repeats_for(0.12)
        groups.set_cpu({"fast": 0.3, "slow": 0.15})
        fast: list[BlockRun] = []
        slow: list[BlockRun] = []
        for _ in range(REPEATS):
            fast.append(_block_run(groups.prefix("fast-pod"), repeats))
            slow.append(_block_run(groups.prefix("slow-pod"), repeats))
    ratio = _quota_bound_wall(slow) / _quota_bound_wall(fast)
    print(f"slow/fast block time: {ratio:.3f} (fast {fast}, slow {slow})")
    assert 2 * 0.85 <= ratio <= 2 * 1.15, (fast, slow)
    _assert_quota_holds(fast, 0.3)
    _assert_quota_holds(slow, 0.15)
    assert _leftovers(run) == []


STALE_HOLDER = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from seifer_iac.local.cgroups import Cgroups, PodLimit
with Cgroups(sys.argv[1], [PodLimit("p", "n", 64 * 2**20)]) as groups:
    print(groups.run, flush=True)
    time.sleep(60)
"""


@pytest.mark.cgroups
def test_a_crashed_runs_cgroups_are_swept_on_the_next_start(writable_cgroups: None) -> None:
    pipeline = f"tstale-{os.getpid()}"
    holder = subprocess.Popen(
        [sys.executable, "-c", STALE_HOLDER, pipeline], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        run = holder.stdout.readline().strip()
        assert len(_leftovers(run)) == 2  # memory and cpu run directories
        holder.send_signal(signal.SIGKILL)  # no cleanup can run
        holder.wait(timeout=10)
        time.sleep(0.1)
        assert len(_leftovers(run)) == 2
        with Cgroups(pipeline, [PodLimit("p", "n", None)]) as groups:
            assert groups.run != run
            assert _leftovers(run) == []
        assert _leftovers(groups.run) == []
    finally:
        holder.kill()
        holder.wait(timeout=10)
        cgroups.sweep_stale(pipeline=pipeline)


@pytest.mark.cgroups
def test_sigterm_inside_the_block_removes_everything(writable_cgroups: None) -> None:
    pipeline = f"tsig-{os.getpid()}"
    holder = subprocess.Popen(
        [sys.executable, "-c", STALE_HOLDER, pipeline], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        run = holder.stdout.readline().strip()
        assert _leftovers(run)
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=20) == 128 + signal.SIGTERM
        assert _leftovers(run) == []
    finally:
        holder.kill()
        holder.wait(timeout=10)
        cgroups.sweep_stale(pipeline=pipeline)


@pytest.mark.cgroups
def test_dilation_two_halves_the_compute_rate_and_scales_back(writable_cgroups: None) -> None:
    """A node whose speed needs 0.3 host cores: k=2 gives 0.15; its block rate halves; x2 gives k=1's."""
    node = Node("pi", 512 * MIB, 3e9)
    host_flops = 1e10  # per core: the node needs 0.3 of one
    runs: dict[float, list[BlockRun]] = {1.0: [], 2.0: []}
    with Cgroups(f"tdil-{os.getpid()}", [PodLimit("pod", "pi", None)]) as groups:
        run = groups.run
        repeats = _repeats_for(0.15)
        for _ in range(REPEATS):
            for k in runs:
                quotas = speed.node_quotas([node], host_flops, k)
                assert quotas == {"pi": pytest.approx(0.3 / k)}
                groups.set_cpu(quotas)
                runs[k].append(_block_run(groups.prefix("pod"), repeats))
    real, dilated = (1 / _quota_bound_wall(runs[k]) for k in (1.0, 2.0))
    print(f"block rate k=1 {real:.2f}/s, k=2 {dilated:.2f}/s, scaled back {dilated * 2:.2f}/s")
    # The 10 %: with the fastest of five repeats (load only slows) a 0.15-core quota measured
    # within 5 % here, idle or with three busy loops on the 2 cores (a median of three once missed by 22 %).
    assert dilated * 2 == pytest.approx(real, rel=0.10)
    _assert_quota_holds(runs[1.0], 0.3)
    _assert_quota_holds(runs[2.0], 0.15)
    assert _leftovers(run) == []


RECEIVER = """
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], 7777)); srv.listen(1); print("listening", flush=True)
conn, _ = srv.accept(); total = 0; start = None
while True:
    data = conn.recv(65536)
    if not data: break
    if start is None: start = time.perf_counter()
    total += len(data)
print(total, time.perf_counter() - start, flush=True)
"""
SENDER = """
import socket, sys
s = socket.create_connection((sys.argv[1], 7777), timeout=30)
s.sendall(b"x" * int(sys.argv[2])); s.close()
"""


def _link_rate(emu: netns.Emulator, size: int, groups: Cgroups) -> float:
    """Payload bits per second of one bulk TCP transfer from node a to node b (each in its node's cgroup)."""
    address = emu.address_of("b")
    receiver = subprocess.Popen(
        [*groups.prefix("rx"), *emu.exec_prefix("b"), sys.executable, "-c", RECEIVER, address],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "listening"
        subprocess.run(
            [*groups.prefix("tx"), *emu.exec_prefix("a"), sys.executable, "-c", SENDER, address, str(size)],
            check=True,
            timeout=60,
        )
        received, seconds = receiver.stdout.readline().split()
    finally:
        receiver.wait(timeout=10)
    assert int(received) == size
    return size * 8 / float(seconds)


@pytest.mark.netns
@pytest.mark.cgroups
def test_dilation_two_halves_link_rates_and_scales_back(writable_cgroups: None) -> None:
    ok, reason = netns.available()
    if not ok:
        pytest.skip(reason)
    cluster = Cluster(nodes=(Node("a", MIB, 1e9), Node("b", MIB, 1e9)), default_bits_per_s=8e6)
    rates = {}
    for k in (1.0, 2.0):
        config = netns.EmulatorConfig.from_cluster(f"tdl{int(k)}-{os.getpid()}", cluster, rate_scale=1 / k)
        pods = [PodLimit("tx", "a", None), PodLimit("rx", "b", None)]
        with netns.Emulator(config) as emu, Cgroups(config.pipeline, pods) as groups:
            rates[k] = _link_rate(emu, int(1.5 * 8e6 / 8 / k), groups)  # about 1.5 s each
    print(f"link rate k=1 {rates[1.0] / 1e6:.2f} Mbit/s, k=2 {rates[2.0] / 1e6:.2f} Mbit/s")
    assert rates[2.0] == pytest.approx(rates[1.0] / 2, rel=0.10)
    assert rates[2.0] * 2 == pytest.approx(rates[1.0], rel=0.10)


@pytest.mark.cgroups
def test_seifer_down_removes_the_cgroups_a_killed_run_recorded(
    writable_cgroups: None, tmp_path: Path
) -> None:
    from seifer_iac.local import runstate
    from seifer_iac.local.teardown import down

    pipeline = f"tdown-{os.getpid()}"
    holder = subprocess.Popen(
        [sys.executable, "-c", STALE_HOLDER, pipeline], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        run = holder.stdout.readline().strip()
        made = _leftovers(run)
        assert len(made) == 2
        holder.kill()
        holder.wait(timeout=10)
        runstate.write_state(
            tmp_path, {"pipeline": pipeline, "netns": False, "cgroups": made, "processes": {}}
        )
        report = down(tmp_path)
        assert set(made) <= set(report.cgroups_removed)
        assert _leftovers(run) == []
    finally:
        holder.kill()
        holder.wait(timeout=10)
        cgroups.sweep_stale(pipeline=pipeline)
