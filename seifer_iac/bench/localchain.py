"""Start a whole chain (k stage processes + a dispatcher) on loopback, for tests and the benchmark.

Writes the weight chunks and the config files exactly as the manifests would, then runs the container
commands (``python -m runtime.stage --config ...``), so what is tested is what is deployed. Every child
is killed in ``close()`` (also on error), and each one logs to its own file in the work directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runtime.client import wait_ready
from runtime.weights import write_chunks


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on loopback (bound to port 0 together, then released)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass(frozen=True)
class ChainFiles:
    """Where one chain's configs live and which ports it uses."""

    directory: Path
    stage_configs: tuple[Path, ...]
    dispatcher_config: Path
    http_port: int
    result_port: int
    data_ports: tuple[int, ...]
    stage_http_ports: tuple[int, ...]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stage_url(self, stage: int) -> str:
        return f"http://127.0.0.1:{self.stage_http_ports[stage - 1]}"


def write_chain(
    directory: str | Path,
    blobs: Sequence[bytes],
    *,
    input_spec: dict[str, Any],
    output_spec: dict[str, Any],
    codecs: Sequence[dict[str, Any]],
    model_name: str = "tiny",
    model_version: str = "1.0.0",
    plan_hash: str = "test-plan",
    queue_depth: int = 2,
    chunk_size: int = 64 * 1024,
    tensors: Sequence[dict[str, Any]] | None = None,
    backend: dict[str, Any] | None = None,
    **dispatcher: Any,
) -> ChainFiles:
    """Write chunks and configs for ``len(blobs)`` stages; ``codecs[0]`` is the dispatcher's, ``codecs[i]``
    stage i's outgoing codec. ``tensors[0]`` is stage 1's input, ``tensors[i]`` stage i's output (default:
    the input spec, then the output spec for every stage). ``backend`` is every stage's backend object
    (default tensorflow, for Keras partition blobs). Extra keyword arguments are camelCase dispatcher keys
    (deadlineSeconds...)."""
    directory = Path(directory)
    stages = len(blobs)
    if len(codecs) != stages + 1:
        raise ValueError(f"need {stages + 1} codecs (dispatcher + each stage), got {len(codecs)}")
    tensors = list(tensors) if tensors is not None else [input_spec, *([output_spec] * stages)]
    if len(tensors) != stages + 1:
        raise ValueError(f"need {stages + 1} tensors (the input + each stage's output), got {len(tensors)}")
    backend = backend or {"name": "tensorflow"}
    ports = free_ports(2 + 2 * stages)
    http_port, result_port = ports[0], ports[1]
    data_ports, stage_http = tuple(ports[2 : 2 + stages]), tuple(ports[2 + stages :])
    common = {
        "pipeline": model_name,
        "stages": stages,
        "modelName": model_name,
        "modelVersion": model_version,
        "planHash": plan_hash,
        "queueDepth": queue_depth,
    }
    stage_paths = []
    for index, blob in enumerate(blobs, start=1):
        weights = write_chunks(blob, directory / f"weights-{index}", chunk_size, prefix=f"stage{index}")
        last = index == stages
        config = {
            "role": "stage",
            "stage": index,
            **common,
            "listen": {
                "dataPort": data_ports[index - 1],
                "httpPort": stage_http[index - 1],
                "address": "127.0.0.1",
            },
            "next": {"host": "127.0.0.1", "port": result_port if last else data_ports[index]},
            "codec": codecs[index],
            "weights": weights,
            "backend": backend,
            "input": tensors[index - 1],
            "output": tensors[index],
        }
        path = directory / f"stage-{index}.json"
        path.write_text(json.dumps(config, indent=1))
        stage_paths.append(path)
    config = {
        "role": "dispatcher",
        **common,
        "listen": {"httpPort": http_port, "resultPort": result_port, "address": "127.0.0.1"},
        "first": {"host": "127.0.0.1", "port": data_ports[0]},
        "input": input_spec,
        "output": output_spec,
        "codec": codecs[0],
        "deadlineSeconds": 10.0,
        "maxAttempts": 3,
        "maxInFlight": 64,
        **dispatcher,
    }
    dispatcher_path = directory / "dispatcher.json"
    dispatcher_path.write_text(json.dumps(config, indent=1))
    return ChainFiles(
        directory, tuple(stage_paths), dispatcher_path, http_port, result_port, data_ports, stage_http
    )


def rewrite_dispatcher(files: ChainFiles, **changes: Any) -> ChainFiles:
    """Change camelCase keys of the dispatcher config in place (e.g. a shorter deadline for a restart)."""
    config = json.loads(files.dispatcher_config.read_text())
    config.update(changes)
    files.dispatcher_config.write_text(json.dumps(config, indent=1))
    return replace(files)


class LocalChain:
    """The processes of one chain; a context manager that always kills its children."""

    def __init__(self, files: ChainFiles, env: dict[str, str] | None = None) -> None:
        self.files = files
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, key: str, module: str, config: Path) -> None:
        log = open(self.files.directory / f"{key}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self.procs[key] = subprocess.Popen(
                [sys.executable, "-m", module, "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        finally:
            log.close()

    def start_stage(self, stage: int) -> None:
        self._spawn(f"stage-{stage}", "runtime.stage", self.files.stage_configs[stage - 1])

    def start_dispatcher(self) -> None:
        self._spawn("dispatcher", "runtime.dispatcher", self.files.dispatcher_config)

    def start(self, timeout: float = 120.0) -> LocalChain:
        """Start every stage and the dispatcher, and wait until all report ready."""
        for stage in range(1, len(self.files.stage_configs) + 1):
            self.start_stage(stage)
        self.start_dispatcher()
        self.wait_all_ready(timeout)
        return self

    def wait_all_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for stage in range(1, len(self.files.stage_configs) + 1):
            self._wait(f"stage-{stage}", self.files.stage_url(stage), deadline)
        self._wait("dispatcher", self.files.url, deadline)

    def _wait(self, key: str, url: str, deadline: float) -> None:
        proc = self.procs.get(key)
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.returncode}: {self.log(key)[-2000:]}")
            if wait_ready(
                url, timeout=min(1.0, max(0.0, deadline - time.monotonic())), raise_on_timeout=False
            ):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{key} not ready at {url}: {self.log(key)[-2000:]}")

    def wait_stage_ready(self, stage: int, timeout: float = 120.0) -> None:
        self._wait(f"stage-{stage}", self.files.stage_url(stage), time.monotonic() + timeout)

    def wait_dispatcher_ready(self, timeout: float = 60.0) -> None:
        self._wait("dispatcher", self.files.url, time.monotonic() + timeout)

    def log(self, key: str) -> str:
        path = self.files.directory / f"{key}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one child (``stage-2``, ``dispatcher``) and reap it."""
        proc = self.procs.pop(key)
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        """SIGTERM every child at once, then reap them (SIGKILL whoever is still alive after 10 s)."""
        procs = list(self.procs.values())
        self.procs.clear()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def set_stage_codec(self, stage: int, codec: dict[str, Any]) -> None:
        """Rewrite one stage's outgoing codec in its config (takes effect when the stage is restarted)."""
        path = self.files.stage_configs[stage - 1]
        config = json.loads(path.read_text())
        config["codec"] = codec
        path.write_text(json.dumps(config, indent=1))

    def __enter__(self) -> LocalChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
