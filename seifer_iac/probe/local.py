"""`seifer probe --local`: the probe processes of a real cluster, run on the emulated one.

The same `python -m runtime.probe` a Job runs is started inside the emulator's namespaces (one per node,
links shaped exactly as `seifer up --local --emulate-network` shapes them), so what it measures is what the
emulator gives a stage. Links: a receiver per node, then the schedule's rounds (each node in at most one
transfer per round), every transfer from the source's namespace to the target's address. Node speeds: each
node's probe runs in the node's cgroup under the CPU quota `seifer up --local` would give it (the host's
calibrated speed on this model's blocks; time dilation k when the host has too few cores), all nodes at
once as the emulated cluster runs them. Under dilation the lines are scaled back (rates x k, seconds / k).

The link probes run without a CPU quota: at a few Mbit/s a TCP transfer costs a node almost nothing, while
a quota would only stretch each probe process's start-up. Everything made here (namespaces, cgroups,
processes) is removed on exit, on SIGTERM/SIGINT and after a failure, by the emulator's and the cgroups'
own cleanup; the namespaces and cgroups carry the pipeline's name plus `-probe`, so a running
`seifer up --local` of the same spec is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from seifer_iac.local import cgroups, netns, speed
from seifer_iac.local.calibrate import Calibration
from seifer_iac.local.pods import local_pods
from seifer_iac.local.runner import (
    LocalOptions,
    child_pythonpath,
    host_calibration,
    run_keys,
    write_pod_files,
)
from seifer_iac.probe.bar import ProgressBar
from seifer_iac.probe.collect import all_pairs, probe_nodes
from seifer_iac.probe.jobs import speed_config, speed_stages
from seifer_iac.probe.schedule import Estimate, Pair, estimate, link_timeout_s, schedule
from seifer_iac.release import Release
from seifer_iac.spec.model import Cluster, Spec

PROBE_PORT = 5700  # every node has its own namespace: one port serves them all
START_SLACK_S = 15.0  # starting a probe process (a Python interpreter, in a namespace) on a busy host
SPEED_START_S = 10.0  # a speed probe loads the runtime and its partitions under the node's CPU quota


class LocalProbeError(RuntimeError):
    """The local probe cannot run here or as asked; the message says why and what to do."""


@dataclass(frozen=True)
class LocalProbeOptions:
    """What to measure and how hard: bytes per transfer, repeats, which pairs, node speeds or not."""

    work_dir: Path
    size: int = 2_000_000
    repeats: int = 5
    pairs: tuple[Pair, ...] | None = None  # None: every directed pair
    speeds: bool = True
    dilation: float | None = None  # None: chosen from the host's cores, as `seifer up --local` does
    recalibrate: bool = False
    min_seconds: float = 0.5  # least wall time of one speed repeat (at least 25 quota periods)
    connect_timeout_s: float = 10.0
    python: str = sys.executable


@dataclass(frozen=True)
class LocalProbeResult:
    """The probes' JSON lines (scaled back under dilation), and how they were made."""

    lines: tuple[str, ...]
    dilation: float
    calibration: Calibration | None
    quotas: tuple[tuple[str, float], ...]


def available() -> tuple[bool, str]:
    """Whether namespaces and cgroups can be made here (root); if not, why."""
    ok, reason = netns.available()
    if not ok:
        return False, reason
    return cgroups.available()


def probe_name(pipeline: str) -> str:
    """The emulator's and cgroups' name for a probe run: never the one `seifer up --local` uses."""
    return f"{pipeline}-probe"


def quota_period_s(cores: float | None) -> float:
    """The CFS period the emulator's cgroups give a node of `cores`, in seconds."""
    return cgroups.quota_period_us(cores) / 1e6


def repeat_seconds(cores: float | None, least: float) -> float:
    """A speed repeat spans at least 25 quota periods, so one period's worth of CPU shifts it by <= 4 %."""
    return max(least, 25 * quota_period_s(cores))


def scaled_line(document: dict[str, Any], factor: float) -> dict[str, Any]:
    """A probe's result under dilation k, as the spec's cluster would give it: rates x k, seconds / k."""
    if factor == 1.0:
        return document
    out = dict(document)
    out["seconds"] = [s / factor for s in document.get("seconds") or []]
    for key in ("bitsPerSecond", "flopsPerSecond"):
        if isinstance(document.get(key), (int, float)):
            out[key] = document[key] * factor
    return out


def failed_link(source: str, target: str, size: int, error: str) -> dict[str, Any]:
    """The link line a probe process that died or hung would have printed."""
    return {
        "seiferProbe": 1, "kind": "link", "from": source, "to": target, "bytes": size, "seconds": [],
        "bitsPerSecond": None, "error": error,
    }  # fmt: skip


def failed_speed(node: str, backend: str, precision: str, error: str) -> dict[str, Any]:
    return {
        "seiferProbe": 1, "kind": "speed", "node": node, "backend": backend, "precision": precision,
        "flops": None, "seconds": [], "flopsPerSecond": None, "error": error,
    }  # fmt: skip


def last_json(text: str) -> dict[str, Any] | None:
    """The last line of a probe's output that is a JSON object."""
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            found = json.loads(line)
            if isinstance(found, dict):
                return found
    return None


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else ""
    return ""


class Processes:
    """The probe processes started so far; `close()` ends every one still running (TERM, then KILL)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[str]] = []

    def start(self, name: str, argv: Sequence[str], stdout: bool = True) -> subprocess.Popen[str]:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": child_pythonpath(), "TF_CPP_MIN_LOG_LEVEL": "2"}
        with open(self.logs / f"{name}.log", "w") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                start_new_session=True,  # a Ctrl-C on the terminal reaches only us; we end them
            )
        self.running.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen[str], deadline: float) -> str | None:
        """Its stdout once it exits, or None when it is still running at `deadline` (then it is killed)."""
        try:
            out, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop(proc)
            return None
        finally:
            if proc.poll() is not None and proc in self.running:
                self.running.remove(proc)
        return out

    def stop(self, proc: subprocess.Popen[str]) -> None:
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.communicate(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc in self.running:
            self.running.remove(proc)

    def close(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


def _probe_argv(python: str, *args: str) -> list[str]:
    return [python, "-m", "runtime.probe", *args]


def plan_estimate(
    cluster: Cluster, rounds: Sequence[Sequence[Pair]], options: LocalProbeOptions, factor: float
) -> Estimate:
    """The schedule's time from the spec's rates (under dilation k, k times longer); pairs without a rate
    fail at once here (an unreachable route), so they cost only the process's start."""
    return estimate(
        rounds,
        lambda a, b: cluster.bandwidth(a, b) / factor,
        options.size,
        options.repeats,
        assumed_bits_per_s=1e12,
    )


def speed_configs(release: Release, work_dir: Path, nodes: Sequence[str], python: str) -> dict[str, Path]:
    """Per node the speed probe's DIR, as the Job mounts it: `speed.json` and each fitting stage's own config
    (`stage-<i>.json`, the stage pod's config as the local runner writes it, weight chunks beside it)."""
    spec = release.spec
    root = work_dir / "speed"
    pods = local_pods([*release.manifests, *run_keys(spec)], lambda _n: "127.0.0.1", str(root), python)
    configs: dict[int, bytes] = {}
    for stage in release.plan.stages:
        pod = next(p for p in pods if p.component == "stage" and p.name.endswith(f"-stage-{stage.index}"))
        write_pod_files(pod, root / "pods" / pod.name)
        configs[stage.index] = Path(pod.argv[pod.argv.index("--config") + 1]).read_bytes()
    directories = {}
    for node in nodes:
        stages = speed_stages(spec, release.plan, node)
        if not stages:
            continue
        directory = root / "nodes" / node
        directory.mkdir(parents=True, exist_ok=True)
        for stage in stages:
            (directory / f"stage-{stage.index}.json").write_bytes(configs[stage.index])
        document = speed_config(spec, node, stages)  # the Job's speed.json, byte for byte
        (directory / "speed.json").write_text(json.dumps(document, sort_keys=True, indent=2) + "\n")
        directories[node] = directory
    return directories


def _say_nothing(_message: str) -> None:
    return None


@contextlib.contextmanager
def _emulated(
    spec: Spec, factor: float, quotas: dict[str, float], want_cgroups: bool
) -> Iterator[tuple[netns.Emulator, cgroups.Cgroups | None]]:
    name = probe_name(spec.name)
    config = netns.EmulatorConfig.from_cluster(name, spec.cluster, host_access=False, rate_scale=1.0 / factor)
    with netns.Emulator(config) as emulator:
        if not want_cgroups:
            yield emulator, None
            return
        pods = [cgroups.PodLimit(node, node, None) for node in spec.cluster.node_names]
        with cgroups.Cgroups(name, pods) as groups:
            groups.set_cpu(quotas)
            yield emulator, groups


def probe_local(
    spec: Spec,
    release: Release | None,
    options: LocalProbeOptions,
    *,
    say: Callable[[str], None] = _say_nothing,
    progress: IO[str] | None = None,
) -> LocalProbeResult:
    """Measure the emulated cluster's links (and, given the release, node speeds on its partitions); the
    probes' JSON lines, scaled back."""
    if options.speeds and release is None:
        raise ValueError("node speeds are measured on the release's partitions: give the release")
    cluster = spec.cluster
    nodes = probe_nodes(spec)  # as on a cluster: a node the runtime image has no build for is not probed
    pairs = options.pairs if options.pairs is not None else all_pairs(spec)
    rounds = schedule(nodes, pairs)
    calibration, quotas = None, {}
    factor = options.dilation or 1.0
    if options.speeds and release is not None:
        calibration = host_calibration(
            release,
            LocalOptions(run_dir=options.work_dir, python=options.python, recalibrate=options.recalibrate),
        )
        say(calibration.describe())
        chosen = [cluster.node(n) for n in nodes]
        dilation = speed.choose_dilation(
            chosen, calibration.flops_per_s, speed.host_cores(), options.dilation
        )
        say(dilation.describe())
        factor = dilation.factor
        quotas = speed.node_quotas(chosen, calibration.flops_per_s, factor)
        for name in speed.slower_than_spec(chosen, calibration.flops_per_s, factor):
            say(f"warning: node {name} needs more than its cpus at k={factor:g}: it will measure slower")
    found = plan_estimate(cluster, rounds, options, factor)
    speed_s = 0.0
    if release is not None and options.speeds:
        per_repeat = max(
            len(speed_stages(spec, release.plan, n)) * repeat_seconds(quotas.get(n), options.min_seconds)
            for n in nodes
        )
        speed_s = (SPEED_START_S + options.repeats * per_repeat) * factor
    say(
        f"estimate: links: {found.describe('no route in the emulator: each fails at once')}"
        + (f"; node speeds: {len(nodes)} nodes at once, about {speed_s:.0f} s" if options.speeds else "")
    )
    out = progress or sys.stderr
    bar = ProgressBar(out, found.transfers + (len(nodes) if options.speeds else 0), "probes")
    lines: list[dict[str, Any]] = []
    processes = Processes(options.work_dir / "logs")
    with (
        _emulated(spec, factor, quotas, options.speeds) as (emulator, groups),
        contextlib.closing(processes),
    ):
        lines += _run_links(emulator, rounds, cluster, options, factor, processes, bar)
        if release is not None and groups is not None:
            lines += _run_speeds(release, emulator, groups, quotas, options, factor, processes, bar, nodes)
    return LocalProbeResult(
        tuple(json.dumps(scaled_line(line, factor), sort_keys=True) for line in lines),
        factor,
        calibration,
        tuple(sorted(quotas.items())),
    )


def _run_links(
    emulator: netns.Emulator,
    rounds: Sequence[Sequence[Pair]],
    cluster: Cluster,
    options: LocalProbeOptions,
    factor: float,
    processes: Processes,
    bar: ProgressBar,
) -> list[dict[str, Any]]:
    def rate(a: str, b: str) -> float:
        return cluster.bandwidth(a, b) / factor

    targets = sorted({b for r in rounds for _, b in r}, key=cluster.node_names.index)
    for node in targets:
        address = emulator.address_of(node)
        argv = _probe_argv(options.python, "serve", "--port", str(PROBE_PORT), "--host", address)
        processes.start(f"serve-{node}", [*emulator.exec_prefix(node), *argv], stdout=False)
    results: list[dict[str, Any]] = []
    remaining = [
        estimate(rounds[i + 1 :], rate, options.size, options.repeats, assumed_bits_per_s=1e12).seconds
        for i in range(len(rounds))
    ]
    for pairs in rounds:
        started = []
        longest = 0.0
        for source, target in pairs:
            timeout = link_timeout_s(cluster.bandwidth(source, target) / factor, options.size)
            argv = _probe_argv(
                options.python, "link", "--from", source, "--to", target,
                "--host", emulator.address_of(target), "--port", str(PROBE_PORT),
                "--bytes", str(options.size), "--repeats", str(options.repeats),
                "--connect-timeout", str(options.connect_timeout_s), "--timeout", f"{timeout:.1f}",
            )  # fmt: skip
            proc = processes.start(f"link-{source}-{target}", [*emulator.exec_prefix(source), *argv])
            started.append((source, target, proc))
            longest = max(longest, options.connect_timeout_s + (options.repeats + 1) * timeout)  # + warm-up
        deadline = time.monotonic() + longest + START_SLACK_S
        left = remaining.pop(0)
        for source, target, proc in started:
            out = processes.finish(proc, deadline)
            line = last_json(out) if out is not None else None
            if line is None:
                why = "did not finish in time" if out is None else "printed no result"
                tail = _tail(processes.logs / f"link-{source}-{target}.log")
                line = failed_link(
                    source, target, options.size, f"probe process {why}" + (f": {tail}" if tail else "")
                )
            results.append(line)
            bar.step(f"{source} -> {target}", left)
    return results


def _run_speeds(
    release: Release,
    emulator: netns.Emulator,
    groups: cgroups.Cgroups,
    quotas: dict[str, float],
    options: LocalProbeOptions,
    factor: float,
    processes: Processes,
    bar: ProgressBar,
    nodes: Sequence[str],
) -> list[dict[str, Any]]:
    spec = release.spec
    directories = speed_configs(release, options.work_dir, nodes, options.python)
    started = []
    results = []
    longest = 0.0
    for node in nodes:
        if node not in directories:
            results.append(
                failed_speed(
                    node, spec.runtime.backend, spec.runtime.precision, "no partition fits its memory"
                )
            )
            bar.step(f"speed of {node}")
            continue
        least = repeat_seconds(quotas.get(node), options.min_seconds)
        longest = max(longest, least * len(speed_stages(release.spec, release.plan, node)))
        argv = _probe_argv(
            options.python, "speed", "--node", node, "--config", str(directories[node]),
            "--repeats", str(options.repeats), "--min-seconds", f"{least:g}",
        )  # fmt: skip
        # the cgroup join comes first: `ip netns exec` remounts /sys, hiding the cgroup files
        prefix = [*groups.prefix(node), *emulator.exec_prefix(node)]
        started.append((node, processes.start(f"speed-{node}", [*prefix, *argv])))
    # generous: start-up and loading under the quota, then the repeats, all k times slower
    budget = (60.0 + options.repeats * (longest + 2.0) * 4) * factor
    deadline = time.monotonic() + budget
    for node, proc in started:
        out = processes.finish(proc, deadline)
        line = last_json(out) if out is not None else None
        if line is None:
            why = f"did not finish in {budget:.0f} s" if out is None else "printed no result"
            tail = _tail(processes.logs / f"speed-{node}.log")
            line = failed_speed(
                node, spec.runtime.backend, spec.runtime.precision,
                f"probe process {why}" + (f": {tail}" if tail else ""),
            )  # fmt: skip
        results.append(line)
        bar.step(f"speed of {node}")
    return results
