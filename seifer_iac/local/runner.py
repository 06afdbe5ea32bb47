"""`seifer up --local`: a release's manifests as supervised local processes, optionally on an emulated
network.

Order matters for leaving nothing behind: the emulator (namespaces) wraps the supervisor (processes), so
processes stop before their namespaces go, whatever ended the run (Ctrl-C, SIGTERM from `seifer down`, an
error while starting).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import zmq

from seifer_iac.local import netns, procs, runstate
from seifer_iac.local.pods import LocalPod, local_pods
from seifer_iac.local.supervisor import ProcessSpec, RestartPolicy, Supervisor
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


@dataclass(frozen=True)
class RunningPipeline:
    """What a caller needs of a started pipeline: where to send requests, and the processes to poke."""

    dispatcher_url: str
    pods: tuple[LocalPod, ...]
    supervisor: Supervisor
    emulator: netns.Emulator | None

    def stage_process(self, index: int) -> str:
        return next(p.name for p in self.pods if p.name.endswith(f"-stage-{index}"))


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


class LocalRunError(RuntimeError):
    """The run cannot start as asked (already running, a port taken); the message says what to do."""


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


def process_specs(pods: list[LocalPod], emulator: netns.Emulator | None) -> list[ProcessSpec]:
    repo_root = str(Path(__file__).resolve().parents[2])
    specs = []
    for pod in pods:
        env = dict(pod.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root, os.environ.get("PYTHONPATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        prefix = tuple(emulator.exec_prefix(pod.node)) if emulator else ()
        specs.append(ProcessSpec(pod.name, pod.argv, env=env, prefix=prefix, ready_url=pod.ready_url))
    return specs


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
    options.run_dir.mkdir(parents=True, exist_ok=True)
    check_not_running(options.run_dir, spec.source_path or "SPEC")
    with contextlib.ExitStack() as stack:
        emulator = None
        if options.emulate_network:
            config = netns.EmulatorConfig.from_cluster(spec.name, spec.cluster)
            emulator = stack.enter_context(netns.Emulator(config))
        address_of = emulator.address_of if emulator else (lambda _node: "127.0.0.1")
        manifests = [*release.manifests, *run_keys(spec)]  # a fresh CURVE key pair for each local run
        pods = local_pods(manifests, address_of, str(options.run_dir), options.python)
        taken = [] if emulator else busy_ports(pods)
        if taken:
            listed = ", ".join(f"{port} ({name})" for name, port in taken)
            raise LocalRunError(
                f"ports already in use on 127.0.0.1: {listed}; another pipeline or program holds them: "
                "stop it (`seifer down --local SPEC`) or run with --emulate-network"
            )
        for pod in pods:
            write_pod_files(pod, options.run_dir / "pods" / pod.name)
        supervisor = stack.enter_context(
            Supervisor(
                options.run_dir,
                process_specs(pods, emulator),
                policy=RestartPolicy(initial_backoff_s=0.5, max_backoff_s=5.0),
                pipeline=spec.name,
                netns=emulator is not None,
            )
        )
        supervisor.wait_ready(timeout_s=options.ready_timeout_s, stream=stream)
        url = f"http://{address_of(spec.dispatcher.node)}:{spec.dispatcher.port}"
        yield RunningPipeline(url, tuple(pods), supervisor, emulator)
