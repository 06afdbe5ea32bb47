"""`seifer up --local`: a release's manifests as supervised local processes, optionally on an emulated
network, optionally with what a kubelet enforces (memory limits, node CPU speed; `cgroups`, `speed`).

Order matters for leaving nothing behind: the emulator (namespaces) wraps the cgroups, which wrap the
supervisor (processes), so processes stop before their cgroups and namespaces go, whatever ended the run
(Ctrl-C, SIGTERM from `seifer down`, an error while starting).

CPU quotas are applied once every process is ready: startup (importing the runtime, loading weights) runs
unthrottled so a 2-core host does not spend minutes starting a 16-node cluster; what is measured (serving)
runs at the nodes' speeds, and so does any restart after that.

A changed spec applied while it runs (`seifer up --local` again; `apply`) replaces the processes whose pod
template changed, with the Recreate strategy, and leaves the others running (`apply_manifests`, `serve`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import zmq

from seifer_iac.local import apply, cgroups, netns, procs, runstate, speed
from seifer_iac.local.calibrate import Calibration, CalibrationError, cached_calibration, calibrate
from seifer_iac.local.pods import LocalPod, LocalPodError, local_pods
from seifer_iac.local.supervisor import NotReady, ProcessSpec, RestartPolicy, Supervisor
from seifer_iac.local.usage import cpu_seconds
from seifer_iac.manifests import secrets
from seifer_iac.release import Release
from seifer_iac.spec.model import Spec


@dataclass(frozen=True)
class LocalOptions:
    """How to run: where (run_dir), whether links are rate-limited namespaces, how long to wait."""

    run_dir: Path
    emulate_network: bool = False
    ready_timeout_s: float = 300.0
    python: str = sys.executable
    limits: bool = False  # memory limit per pod and CPU quota per node (cgroups; see resolve_limits)
    cpu_speed: bool = True  # with limits: give each node the CPU quota its speed needs (calibrates once)
    dilation: float | None = None  # None: chosen from the host's cores; 1.0: real time
    recalibrate: bool = False


@dataclass(frozen=True)
class RunningPipeline:
    """What a caller needs of a started pipeline: where to send requests, and the processes to poke."""

    dispatcher_url: str
    pods: tuple[LocalPod, ...]
    supervisor: Supervisor
    emulator: netns.Emulator | None
    cgroups: cgroups.Cgroups | None = None
    dilation: speed.Dilation | None = None
    calibration: Calibration | None = None
    quotas: tuple[tuple[str, float], ...] = ()  # node -> host cores, as applied
    manifests: tuple[dict[str, Any], ...] = ()  # what runs now (with this run's key Secret)
    address_of: Callable[[str], str] = lambda _node: "127.0.0.1"
    run_dir: Path | None = None
    python: str = sys.executable

    def stage_process(self, index: int) -> str:
        return next(p.name for p in self.pods if p.name.endswith(f"-stage-{index}"))

    @property
    def time_factor(self) -> float:
        """k: measured rates x k and latencies / k give the spec cluster's figures."""
        return self.dilation.factor if self.dilation else 1.0

    def oom_kills(self) -> int:
        return sum(s.oom_kills for s in self.supervisor.status())

    def node_cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each node's processes have used so far (compare two readings around a load)."""
        node_of = {pod.name: pod.node for pod in self.pods}
        used: dict[str, float] = {}
        for status in self.supervisor.status():
            seconds = cpu_seconds(status.pid) if status.pid else None
            if seconds is not None:
                used[node_of[status.name]] = used.get(node_of[status.name], 0.0) + seconds
        return used


def resolve_emulation(requested: str) -> tuple[bool, str]:
    """'yes' | 'no' | 'auto' -> (emulate?, why), so `make demo` works with and without root."""
    if requested == "no":
        return False, "network not emulated (loopback, no bandwidth limits)"
    ok, reason = netns.available()
    if ok:
        return True, "network emulated: one namespace per node, links rate-limited to the spec's bandwidths"
    if requested == "yes":
        raise netns.EmulatorError(f"cannot emulate the network here: {reason}")
    return False, f"network not emulated ({reason}); running on loopback"


def resolve_limits(requested: str) -> tuple[bool, str]:
    """'yes' | 'no' | 'auto' -> (enforce?, why): memory limits and CPU quotas need root and cgroups."""
    if requested == "no":
        return False, "node limits not enforced (no memory limits, no CPU quotas)"
    ok, reason = cgroups.available()
    if ok:
        return True, f"node limits enforced ({reason}): memory limit per pod, CPU quota per node"
    if requested == "yes":
        raise cgroups.CgroupError(f"cannot enforce node limits here: {reason}")
    return False, f"node limits not enforced ({reason}); processes run unlimited at this host's speed"


class LocalRunError(RuntimeError):
    """The run cannot start as asked (already running, a port taken); the message says what to do."""


def running_supervisor(run_dir: Path) -> int | None:
    """The pid of a live `seifer up --local` recorded in `run_dir` (not this process), or None."""
    state = runstate.read_state(run_dir)
    owner = (state or {}).get("supervisor", {})
    pid, ticks = owner.get("pid"), owner.get("start_ticks")
    if pid and ticks is not None and pid != os.getpid() and procs.is_running(pid, ticks):
        return int(pid)
    return None


def check_not_running(run_dir: Path, spec_path_hint: str) -> None:
    """Refuse to start over a live run of the same run directory (it would lose track of it)."""
    state = runstate.read_state(run_dir)
    owner = (state or {}).get("supervisor", {})
    pid, ticks = owner.get("pid"), owner.get("start_ticks")
    if pid and ticks is not None and pid != os.getpid() and procs.is_running(pid, ticks):
        raise LocalRunError(
            f"a local run is already recorded in {run_dir} (pid {pid}); stop it with "
            f"`seifer down --local {spec_path_hint}` or pass another --run-dir"
        )


def busy_ports(pods: list[LocalPod], address: str = "127.0.0.1") -> list[tuple[str, int]]:
    """(pod, port) pairs another program already holds on loopback: a readiness probe there would be
    answered by that program, so the run must not start."""
    taken = []
    for pod in pods:
        for port in pod.ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((address, port))
                except OSError:
                    taken.append((pod.name, port))
    return taken


def write_pod_files(pod: LocalPod, root: Path) -> None:
    """Lay out what the pod's volumes show (config, weight chunks, scratch dirs) under its root."""
    if root.exists():
        shutil.rmtree(root)
    for relative, content in pod.files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # owner-only, as a mounted Secret would be to the pod's user
        path.write_bytes(content)
    for relative in pod.empty_dirs:
        (root / relative).mkdir(parents=True, exist_ok=True)


def child_pythonpath() -> str:
    repo_root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (repo_root, os.environ.get("PYTHONPATH", "")) if p)


def process_specs(
    pods: list[LocalPod], emulator: netns.Emulator | None, groups: cgroups.Cgroups | None = None
) -> list[ProcessSpec]:
    specs = []
    for pod in pods:
        env = dict(pod.env)
        env["PYTHONPATH"] = child_pythonpath()
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # the cgroup join comes first: `ip netns exec` remounts /sys, hiding the cgroup files
        prefix = (groups.prefix(pod.name) if groups else ()) + (
            tuple(emulator.exec_prefix(pod.node)) if emulator else ()
        )
        specs.append(ProcessSpec(pod.name, pod.argv, env=env, prefix=prefix, ready_url=pod.ready_url))
    return specs


def host_calibration(release: Release, options: LocalOptions) -> Calibration:
    """One host core's speed on this model's blocks with the spec's backend (cached; measured once)."""
    spec, plan = release.spec, release.plan
    key = {
        "model_hash": plan.model_hash,
        "backend": spec.runtime.backend,
        "precision": spec.runtime.precision,
    }
    cached = None if options.recalibrate else cached_calibration(**key)
    if cached is not None:
        return cached
    folder = options.run_dir / "calibrate"
    manifests = [*release.manifests, *run_keys(release.spec)]
    pods = local_pods(manifests, lambda _node: "127.0.0.1", str(folder), options.python)
    configs, flops = [], []
    for stage in plan.stages:
        pod = next(p for p in pods if p.component == "stage" and p.name.endswith(f"-stage-{stage.index}"))
        write_pod_files(pod, folder / "pods" / pod.name)
        configs.append(Path(pod.argv[pod.argv.index("--config") + 1]))  # the container's own config
        flops.append(stage.flops)
    try:
        found, _cached = calibrate(
            configs,
            flops,
            **key,
            python=options.python,
            env={"PYTHONPATH": child_pythonpath()},
            refresh=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def plan_speed(
    release: Release, options: LocalOptions, say: Callable[[str], None]
) -> tuple[Calibration | None, speed.Dilation | None, dict[str, float]]:
    """Calibrate, choose k and the node quotas; (None, None, {}) when CPU speed is not emulated."""
    if not (options.limits and options.cpu_speed):
        if options.dilation not in (None, 1.0):
            say("time dilation needs CPU quotas per node (node limits); running in real time")
        return None, None, {}
    try:
        found = host_calibration(release, options)
    except (CalibrationError, OSError, StopIteration, ValueError) as err:
        say(f"CPU speed not emulated (calibration failed: {err}); nodes run at this host's speed")
        return None, None, {}
    say(found.describe())
    nodes = [release.spec.cluster.node(n) for n in sorted(pod_nodes(release))]
    dilation = speed.choose_dilation(nodes, found.flops_per_s, speed.host_cores(), options.dilation)
    say(dilation.describe())
    quotas = speed.node_quotas(nodes, found.flops_per_s, dilation.factor)
    for name in speed.slower_than_spec(nodes, found.flops_per_s, dilation.factor):
        say(f"warning: node {name} needs more than its cpus at k={dilation.factor:g}: slower than its spec")
    say(
        "CPU quotas (host cores): "
        + ", ".join(f"{n} {q:.3f}" for n, q in sorted(quotas.items()))
        + " (applied once every process is ready)"
    )
    return found, dilation, quotas


def pod_nodes(release: Release) -> set[str]:
    """Nodes that run a pod (the stages' and the dispatcher's)."""
    return {s.node for s in release.plan.stages} | {release.spec.dispatcher.node}


def run_keys(spec: Spec) -> list[dict[str, Any]]:
    """The key Secret of an encrypted pipeline, generated for this run (never written beside the spec)."""
    if not secrets.encrypted(spec):
        return []
    public, secret = zmq.curve_keypair()
    return [secrets.curve_secret(spec, public.decode(), secret.decode())]


@contextlib.contextmanager
def run_local(
    release: Release, options: LocalOptions, stream: TextIO | None = None
) -> Iterator[RunningPipeline]:
    """Start each Deployment of the release as a local process; yield once all are ready; stop all on exit."""
    spec = release.spec
    stream = stream or sys.stderr

    def say(message: str) -> None:
        print(message, file=stream, flush=True)

    options.run_dir.mkdir(parents=True, exist_ok=True)
    check_not_running(options.run_dir, spec.source_path or "SPEC")
    calibration, dilation, quotas = plan_speed(release, options, say)
    k = dilation.factor if dilation else 1.0
    with contextlib.ExitStack() as stack:
        emulator = None
        if options.emulate_network:
            config = netns.EmulatorConfig.from_cluster(spec.name, spec.cluster, rate_scale=1.0 / k)
            emulator = stack.enter_context(netns.Emulator(config))
        address_of = emulator.address_of if emulator else (lambda _node: "127.0.0.1")
        manifests = [*release.manifests, *run_keys(spec)]  # a fresh CURVE key pair for each local run
        pods = local_pods(manifests, address_of, str(options.run_dir), options.python, k)
        taken = [] if emulator else busy_ports(pods)
        if taken:
            listed = ", ".join(f"{port} ({name})" for name, port in taken)
            raise LocalRunError(
                f"ports already in use on 127.0.0.1: {listed}; another pipeline or program holds them: "
                "stop it (`seifer down --local SPEC`) or run with --emulate-network"
            )
        for pod in pods:
            write_pod_files(pod, options.run_dir / "pods" / pod.name)
        groups = None
        if options.limits:
            limits = [cgroups.PodLimit(p.name, p.node, p.memory_limit_bytes) for p in pods]
            groups = stack.enter_context(cgroups.Cgroups(spec.name, limits))
            say(
                "memory limits (from the manifests): "
                + ", ".join(f"{p.name} {_mib(p.memory_limit_bytes)}" for p in pods)
            )
        memory = {p.name: m for p in pods if groups and (m := groups.memory(p.name)) is not None}
        supervisor = stack.enter_context(
            Supervisor(
                options.run_dir,
                process_specs(pods, emulator, groups),
                policy=RestartPolicy(initial_backoff_s=0.5 * k, max_backoff_s=5.0 * k),
                pipeline=spec.name,
                netns=emulator is not None,
                memory=memory,
                on_event=say,
                cgroups=groups.directories if groups else (),
            )
        )
        supervisor.wait_ready(timeout_s=options.ready_timeout_s * k, stream=stream)
        if groups and quotas:
            groups.set_cpu(quotas)
        url = f"http://{address_of(spec.dispatcher.node)}:{spec.dispatcher.port}"
        yield RunningPipeline(
            url,
            tuple(pods),
            supervisor,
            emulator,
            groups,
            dilation,
            calibration,
            tuple(sorted(quotas.items())),
            tuple(manifests),
            address_of,
            options.run_dir,
            options.python,
        )


def apply_manifests(
    running: RunningPipeline,
    manifests: Sequence[dict[str, Any]],
    stream: TextIO | None = None,
    ready_timeout_s: float = 300.0,
) -> tuple[RunningPipeline, tuple[str, ...]]:
    """Bring a running pipeline to `manifests` (a new release's, without key Secrets) as Kubernetes would:
    each Deployment whose pod template changed gets its process replaced (Recreate, all at once), the rest
    keep running. Returns the pipeline as it now runs and the replaced Deployments (ready on return).

    Raises LocalRunError for what a running emulator cannot do: Deployments added or removed (a plan with
    another number of stages) or a replaced pod moved to another node while the network or node limits
    are emulated; stop the run and start it again for those.
    """
    assert running.run_dir is not None
    keys = [m for m in running.manifests if m.get("kind") == "Secret"]
    wanted = [m for m in manifests if m.get("kind") != "Secret"] + keys
    changes = apply.deployment_changes(running.manifests, wanted)
    if changes.added or changes.removed:
        raise LocalRunError(
            "the new release has other Deployments ("
            + ", ".join([f"+{n}" for n in changes.added] + [f"-{n}" for n in changes.removed])
            + "): a running local pipeline replaces pods but does not add or remove them; "
            "stop it (`seifer down --local SPEC`) and start it again"
        )
    if not changes.replaced:
        return dataclasses.replace(running, manifests=tuple(wanted)), ()
    pods = local_pods(wanted, running.address_of, str(running.run_dir), running.python, running.time_factor)
    by_name = {pod.name: pod for pod in pods}
    old_nodes = {pod.name: pod.node for pod in running.pods}
    replaced = [by_name[name] for name in changes.replaced]
    moved = [p for p in replaced if p.node != old_nodes.get(p.name)]
    if moved and (running.emulator is not None or running.cgroups is not None):
        raise LocalRunError(
            f"{moved[0].name} moves from node {old_nodes.get(moved[0].name)} to {moved[0].node}, which the "
            "running emulator (namespaces, node cgroups) cannot follow: stop it (`seifer down --local SPEC`) "
            "and start it again"
        )
    memory = {}
    if running.cgroups is not None:
        for pod in replaced:
            if pod.memory_limit_bytes is not None:
                running.cgroups.set_memory(pod.name, pod.memory_limit_bytes)
            if (found := running.cgroups.memory(pod.name)) is not None:
                memory[pod.name] = found
    running.supervisor.replace(
        process_specs(replaced, running.emulator, running.cgroups),
        prepare=lambda name: write_pod_files(by_name[name], running.run_dir / "pods" / name),  # type: ignore[operator]
        memory=memory,
    )
    running.supervisor.wait_ready(timeout_s=ready_timeout_s * running.time_factor, stream=stream)
    now = dataclasses.replace(running, pods=tuple(pods), manifests=tuple(wanted))
    return now, changes.replaced


def serve(running: RunningPipeline, say: Callable[[str], None], poll_s: float = 0.5) -> None:
    """Serve until stopped (a signal raises `Terminated`), applying every change another `seifer up --local`
    hands over (`apply.request_apply`) and answering it."""
    assert running.run_dir is not None
    while True:
        request = apply.take_request(running.run_dir)
        if request is None:
            time.sleep(poll_s)
            continue
        ident, manifests = request
        say("applying a changed release to the running pipeline")
        try:
            running, replaced = apply_manifests(running, manifests)
        except (LocalRunError, LocalPodError, cgroups.CgroupError, OSError) as error:
            say(f"not applied: {error}")
            apply.answer_request(running.run_dir, ident, False, str(error))
            continue
        except NotReady as error:
            say(f"applied, but not every replaced process became ready: {error}")
            apply.answer_request(running.run_dir, ident, False, str(error).splitlines()[0])
            continue
        message = (
            "replaced (Recreate): " + ", ".join(replaced)
            if replaced
            else "nothing changed: no pod template differs"
        )
        say(message)
        apply.answer_request(running.run_dir, ident, True, message, replaced)


def _mib(num_bytes: int | None) -> str:
    return "none" if num_bytes is None else f"{num_bytes / 2**20:.0f} MiB"
