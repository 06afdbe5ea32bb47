"""A small process supervisor for `seifer up --local`: what the kubelet does for pods, for local processes.

It starts named processes (each in its own process group, optionally behind a netns exec prefix), sends
each one's output to a log file in the run directory, restarts a process that dies (exponential backoff,
reset after a stable run, restart count kept, like CrashLoopBackOff), waits for readiness by polling HTTP
URLs with a one-line-per-process display, and stops everything (SIGTERM to each group, SIGKILL after a
grace period). A state file in the run directory (pids, process-group start times, the supervisor's own
pid) lets a separate `seifer down --local` stop a run started by another process, and `stop_recorded`
never signals a recycled pid: it checks each process's kernel start time first (`procs`, `runstate`).
A process in a memory cgroup (`cgroups.PodMemory`) that the kernel kills at its limit is reported as
`OOMKilled` (status, state file, an event line naming the pod, node, limit and measured peak), restarted with
the same backoff as any failure, and counted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from seifer_iac.local import runstate
from seifer_iac.local.cgroups import PodMemory, vm_hwm_bytes
from seifer_iac.local.procs import proc_start_ticks, signal_group
from seifer_iac.local.progress import Progress
from seifer_iac.local.signals import SignalScoped, shielded, terminate_as_exception

LOG_DIR = "logs"
OOM_KILLED = "OOMKilled"
POLL_S = 0.1


class NotReady(TimeoutError):
    """Some processes did not become ready in time; the message names them with the tail of their logs."""


@dataclass(frozen=True)
class ProcessSpec:
    """One process to keep running. `env` is added to the inherited environment; `prefix` is prepended to
    argv (e.g. `Emulator.exec_prefix(node)`); `ready_url` answers 2xx once the process serves. Without a
    URL a process counts as ready once it has stayed up `min_uptime_s` (so a crash loop never looks ready)."""

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    prefix: tuple[str, ...] = ()
    ready_url: str | None = None
    min_uptime_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"process name {self.name!r} must be non-empty and contain no '/'")
        if not self.argv:
            raise ValueError(f"process {self.name!r} has an empty argv")
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "prefix", tuple(self.prefix))
        env = self.env.items() if isinstance(self.env, Mapping) else self.env
        object.__setattr__(self, "env", tuple(sorted((str(k), str(v)) for k, v in env)))

    @property
    def command(self) -> tuple[str, ...]:
        return self.prefix + self.argv


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff before restart n: initial * factor**(n-1), capped; a run of `reset_after_s` resets it."""

    restart: bool = True
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    factor: float = 2.0
    reset_after_s: float = 10.0


@dataclass(frozen=True)
class ProcessStatus:
    """A snapshot of one supervised process."""

    name: str
    pid: int | None
    running: bool
    ready: bool
    restarts: int
    last_exit: int | None
    log: str
    reason: str | None = None  # why it last ended: "OOMKilled" or "Error"
    oom_kills: int = 0
    message: str | None = None

    @property
    def phase(self) -> str:
        if self.ready and self.running:
            return "ready"
        if self.running:
            return "starting"
        if self.reason == OOM_KILLED:
            return OOM_KILLED
        return "restarting" if self.last_exit is not None else "pending"


@dataclass
class _Slot:
    """Mutable per-process bookkeeping, only touched under the supervisor's lock."""

    spec: ProcessSpec
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    start_ticks: int | None = None
    started_at: float = 0.0
    restarts: int = 0
    ready: bool = False
    last_exit: int | None = None
    backoff_s: float = 0.0
    restart_at: float | None = None
    history: list[int] = field(default_factory=list)
    memory: PodMemory | None = None
    oom_base: int = 0
    oom_kills: int = 0
    hwm: int = 0
    reason: str | None = None
    message: str | None = None


class Supervisor(SignalScoped):
    """Runs `specs` until closed. Use as a context manager: exit stops every process, whatever happened.

    SIGTERM/SIGINT inside the block raise `Terminated` (see `signals`), so `seifer down --local` can stop a
    foreground `seifer up --local` by signalling the pid in the state file.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        specs: Sequence[ProcessSpec],
        *,
        policy: RestartPolicy | None = None,
        grace_s: float = 5.0,
        pipeline: str | None = None,
        netns: bool = False,
        memory: Mapping[str, PodMemory] | None = None,
        on_event: Callable[[str], None] | None = None,
        cgroups: Sequence[str] = (),
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"process names must be unique: {names}")
        self.run_dir = Path(run_dir)
        self.policy = policy or RestartPolicy()
        self.grace_s = grace_s
        self.pipeline = pipeline
        self.netns = netns
        self.cgroups = tuple(cgroups)
        self.on_event = on_event
        memory = memory or {}
        self._slots = {
            spec.name: _Slot(
                spec=spec, log=self.run_dir / LOG_DIR / f"{spec.name}.log", memory=memory.get(spec.name)
            )
            for spec in specs
        }
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._signals = terminate_as_exception()

    # lifecycle -------------------------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return runstate.state_path(self.run_dir)

    def start(self) -> None:
        """Start every process, write the state file and begin watching for deaths."""
        (self.run_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
        with self._lock:
            for slot in self._slots.values():
                self._spawn(slot)
            self._write_state()
        self._monitor = threading.Thread(target=self._watch, name="seifer-supervisor", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after the grace period, remove the state file."""
        with shielded():
            self._stopping.set()
            if self._monitor is not None and self._monitor is not threading.current_thread():
                self._monitor.join(timeout=5.0)
            with self._lock:
                live = [slot for slot in self._slots.values() if slot.popen is not None]
                self._terminate(live)
                for slot in live:
                    assert slot.popen is not None
                    slot.last_exit = slot.popen.returncode
                    slot.popen = None
                    slot.ready = False
                self.state_path.unlink(missing_ok=True)

    def _terminate(self, live: Sequence[_Slot]) -> None:
        """As the kubelet stops pods: SIGTERM together, the grace period, then SIGKILL to the leader if
        stuck and to any child left in the group. The caller holds the lock."""
        for slot in live:
            self._signal(slot, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for slot in live:
            assert slot.popen is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for slot in live:
            self._signal(slot, signal.SIGKILL)
            assert slot.popen is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.popen.wait(timeout=5.0)

    def close(self) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until a signal (SIGTERM/SIGINT raise `Terminated` inside the `with` block)."""
        while not self._stopping.is_set():
            time.sleep(0.5)

    # process handling -----------------------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        spec = slot.spec
        env = {**os.environ, **dict(spec.env)}
        with slot.log.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"=== {stamp} start #{slot.restarts}: {' '.join(spec.command)}\n".encode())
            log.flush()
            slot.popen = subprocess.Popen(
                spec.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
        slot.start_ticks = proc_start_ticks(slot.popen.pid)
        slot.started_at = time.monotonic()
        slot.ready = False
        slot.restart_at = None
        slot.hwm = 0
        if slot.memory is not None:
            slot.oom_base = slot.memory.oom_kills()
            slot.memory.reset_peak()

    def _signal(self, slot: _Slot, sig: int) -> None:
        if slot.popen is None:
            return
        if slot.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(slot.popen.pid, sig)
        else:
            signal_group(slot.popen.pid, slot.start_ticks, sig)

    def _watch(self) -> None:
        """Monitor thread: notice deaths, reap the dead process's group, restart after the backoff."""
        while not self._stopping.wait(POLL_S):
            with self._lock:
                if self._stopping.is_set():
                    return
                changed = False
                now = time.monotonic()
                for slot in self._slots.values():
                    changed |= self._tend(slot, now)
                if changed:
                    self._write_state()

    def _tend(self, slot: _Slot, now: float) -> bool:
        if slot.popen is not None:
            code = slot.popen.poll()
            if code is None:
                if slot.memory is not None:
                    slot.hwm = max(slot.hwm, vm_hwm_bytes(slot.popen.pid) or 0)
                return False
            signal_group(slot.popen.pid, slot.start_ticks, signal.SIGKILL)  # orphans of the dead process
            self._explain_exit(slot, code)
            slot.last_exit = code
            slot.history.append(code)
            slot.popen = None
            slot.ready = False
            if not self.policy.restart:
                return True
            ran = now - slot.started_at
            if ran >= self.policy.reset_after_s or slot.backoff_s == 0:
                slot.backoff_s = self.policy.initial_backoff_s
            else:
                slot.backoff_s = min(self.policy.max_backoff_s, slot.backoff_s * self.policy.factor)
            slot.restart_at = now + slot.backoff_s
            with slot.log.open("ab") as log:
                log.write(f"=== exited with {code}; restart in {slot.backoff_s:.1f}s\n".encode())
            return True
        if slot.restart_at is not None and now >= slot.restart_at:
            slot.restarts += 1
            try:
                self._spawn(slot)
            except OSError as err:  # e.g. the binary vanished: keep backing off instead of losing the thread
                slot.popen = None
                slot.last_exit = 127
                slot.backoff_s = min(self.policy.max_backoff_s, slot.backoff_s * self.policy.factor)
                slot.restart_at = now + slot.backoff_s
                with slot.log.open("ab") as log:
                    log.write(f"=== cannot start: {err}; retry in {slot.backoff_s:.1f}s\n".encode())
            return True
        return False

    def _explain_exit(self, slot: _Slot, code: int) -> None:
        """OOMKilled when the pod's memory cgroup counted a kill since the start; say so once per kill."""
        memory = slot.memory
        if memory is not None and memory.oom_kills() > slot.oom_base:
            slot.reason, slot.oom_kills = OOM_KILLED, slot.oom_kills + 1
            slot.message = oom_message(slot.spec.name, memory, memory.peak_bytes(), slot.hwm)
            with slot.log.open("ab") as log:
                log.write(f"=== {slot.message}\n".encode())
            if self.on_event is not None:
                self.on_event(slot.message)
        else:
            slot.reason = "Error" if code != 0 else "Completed"
            slot.message = None

    def replace(
        self,
        specs: Sequence[ProcessSpec],
        prepare: Callable[[str], None] | None = None,
        memory: Mapping[str, PodMemory] | None = None,
    ) -> None:
        """Recreate, as a Deployment does when its pod template changes: stop the named processes together
        (SIGTERM, the grace period, then SIGKILL), `prepare(name)` each (write its new files), then start
        each with its new spec as a new pod (restart count 0, not ready until its probe answers)."""
        with self._lock:
            slots = [self._slots[spec.name] for spec in specs]  # KeyError: not a process of this run
            self._terminate([slot for slot in slots if slot.popen is not None])
            for spec, slot in zip(specs, slots, strict=True):
                slot.spec, slot.popen, slot.ready = spec, None, False
                slot.restarts, slot.history, slot.backoff_s, slot.restart_at = 0, [], 0.0, None
                slot.last_exit, slot.reason, slot.message, slot.oom_kills = None, None, None, 0
                if memory is not None and spec.name in memory:
                    slot.memory = memory[spec.name]
                with slot.log.open("ab") as log:
                    log.write(b"=== replaced: its pod template changed (Recreate)\n")
                if prepare is not None:
                    prepare(spec.name)
                self._spawn(slot)
            self._write_state()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the named process's group (fault injection: it will be restarted like a pod)."""
        with self._lock:
            slot = self._slots[name]
            if slot.popen is None:
                raise ProcessLookupError(f"process {name!r} is not running")
            os.killpg(slot.popen.pid, sig)

    # readiness and status -------------------------------------------------------------------------------

    def status(self) -> tuple[ProcessStatus, ...]:
        with self._lock:
            return tuple(
                ProcessStatus(
                    name=name,
                    pid=slot.popen.pid if slot.popen is not None else None,
                    running=slot.popen is not None and slot.popen.poll() is None,
                    ready=slot.ready,
                    restarts=slot.restarts,
                    last_exit=slot.last_exit,
                    log=str(slot.log),
                    reason=slot.reason,
                    oom_kills=slot.oom_kills,
                    message=slot.message,
                )
                for name, slot in self._slots.items()
            )

    def log_path(self, name: str) -> Path:
        return self._slots[name].log

    def wait_ready(
        self, timeout_s: float = 60.0, *, stream: IO[str] | None = None, interval_s: float = 0.2
    ) -> tuple[ProcessStatus, ...]:
        """Poll each `ready_url` until all answer 2xx (a process without one is ready once running).

        Shows one line per process on `stream` (stderr by default): redrawn in place on a terminal, only
        changes otherwise. Raises NotReady with the laggards and the tail of their logs on timeout.
        """
        out = sys.stderr if stream is None else stream
        display = Progress(out)
        deadline = time.monotonic() + timeout_s
        while True:
            self._probe_all()
            snapshot = self.status()
            display.show(snapshot)
            if all(s.ready for s in snapshot):
                display.done()
                return snapshot
            if time.monotonic() >= deadline:
                display.done()
                lagging = [s for s in snapshot if not s.ready]
                raise NotReady(
                    f"not ready after {timeout_s:.0f}s: "
                    + "; ".join(f"{s.name} ({s.phase}, restarts {s.restarts})" for s in lagging)
                    + "".join(f"\n--- {s.name} log tail ---\n{_tail(Path(s.log))}" for s in lagging)
                )
            time.sleep(interval_s)

    def _probe_all(self) -> None:
        with self._lock:
            pending = [
                (slot, slot.popen.pid, time.monotonic() - slot.started_at)
                for slot in self._slots.values()
                if not slot.ready and slot.popen is not None and slot.popen.poll() is None
            ]
        for slot, pid, uptime in pending:
            url = slot.spec.ready_url
            ok = _http_ok(url) if url else uptime >= slot.spec.min_uptime_s
            with self._lock:
                if ok and slot.popen is not None and slot.popen.pid == pid:
                    slot.ready = True

    # state file -----------------------------------------------------------------------------------------

    def _write_state(self) -> None:
        state = {
            "version": 1,
            "pipeline": self.pipeline,
            "netns": self.netns,
            "cgroups": list(self.cgroups),
            "run_dir": str(self.run_dir.resolve()),
            "supervisor": {"pid": os.getpid(), "start_ticks": proc_start_ticks(os.getpid())},
            "grace_s": self.grace_s,
            "processes": {
                name: {
                    "pid": slot.popen.pid if slot.popen is not None else None,
                    "start_ticks": slot.start_ticks,
                    "restarts": slot.restarts,
                    "last_reason": slot.reason,
                    "oom_kills": slot.oom_kills,
                    "argv": list(slot.spec.command),
                    "log": str(slot.log),
                }
                for name, slot in self._slots.items()
            },
        }
        runstate.write_state(self.run_dir, state)


def _mib(num_bytes: int) -> str:
    return f"{num_bytes / 2**20:.0f} MiB"


def oom_message(name: str, memory: PodMemory, peak: int | None, hwm: int) -> str:
    """One line a user can act on: which pod, on which node, its limit, and the peak measured."""
    limit = "no limit" if memory.limit_bytes is None else f"memory limit {_mib(memory.limit_bytes)}"
    measured = [f"cgroup peak {_mib(peak)}"] if peak else []
    measured += [f"process resident peak {_mib(hwm)}"] if hwm else []
    return (
        f"{OOM_KILLED}: {name} on node {memory.node} went over its {limit} "
        f"({', '.join(measured) or 'peak not measured'}); restarting with backoff. Raise the stage's memory "
        "in the plan (runtime.memoryOverhead) or give the node more memory"
    )


def _http_ok(url: str) -> bool:
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local URLs: never a proxy
        with opener.open(url, timeout=1.0) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
