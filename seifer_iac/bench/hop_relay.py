"""What a real stage process spends per request besides its layers, and how fast this host computes.

`seifer bench hops` (hop_measure.py) times the codecs in-process; a stage pays more than that: ZeroMQ's
I/O thread receives and sends every byte (TCP over loopback, plus CURVE's encryption when the hop is
encrypted, the spec's default), the relay loop decodes, checks and re-frames each message, and the backend
copies the tensor in and out. This module measures it on the runtime's own stage process
(`python -m runtime.stage`, LiteRT, one thread), fed by a local PUSH/PULL pair: partitions that do almost
nothing (ReLU, 2x2 max-pool, 2x nearest up-sampling, so input and output sizes differ), each stage's CPU
time per request from `/proc/<pid>/task/*/schedstat` (every thread, nanoseconds) less the partition's own
CPU time in this process, fitted as fixed + per input byte + per output byte.

All of it is CPU work, and on a slower node it takes longer: the planner scales these seconds by this
host's speed over the node's (`host_flops_per_s`, measured here as the emulator's calibration does: a
LiteRT fp32 ResNet-like block, CPU seconds per inference, lower quartile).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHANNELS = 16
PLAN_HASH = "test-plan"
VERSION = "1.0.0"


@dataclass(frozen=True)
class RelayCase:
    """One measured partition: its op and square input side (1 x side x side x 16 float32)."""

    op: str  # relu | pool | upsample
    side: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.side, self.side, CHANNELS)

    @property
    def output_shape(self) -> tuple[int, ...]:
        scale = {"relu": 1.0, "pool": 0.5, "upsample": 2.0}[self.op]
        side = int(self.side * scale)
        return (1, side, side, CHANNELS)


CASES = (
    RelayCase("relu", 4),
    RelayCase("relu", 128),
    RelayCase("relu", 256),
    RelayCase("pool", 256),
    RelayCase("upsample", 128),
)


def _nbytes(shape: Sequence[int]) -> int:
    return int(np.prod(shape)) * 4


def tflite_blob(case: RelayCase) -> bytes:
    """The case's one-op partition as a .tflite flatbuffer (TensorFlow converts; the stage runs LiteRT)."""
    import keras

    from seifer_iac.model.convert import convert

    inputs = keras.Input(shape=case.input_shape[1:], name="input")
    layer = {
        "relu": lambda: keras.layers.ReLU(name="relu"),
        "pool": lambda: keras.layers.MaxPooling2D(2, name="pool"),
        "upsample": lambda: keras.layers.UpSampling2D(2, name="upsample"),
    }[case.op]()
    return convert(keras.Model(inputs, layer(inputs), name=f"relay_{case.op}_{case.side}"), "fp32")


def thread_cpu_s(pid: int) -> float:
    """CPU seconds of every thread of a process (schedstat: nanoseconds, unlike /proc/<pid>/stat's ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                total += int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def runner_cpu_s(blob: bytes, shape: tuple[int, ...], repeat: int = 30) -> float:
    """The partition's own CPU seconds per call (median), as the stage's backend runs it."""
    from runtime.backends import litert_runner

    run = litert_runner(blob, 1)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run(x)
        times.append(time.process_time() - started)
    return float(np.median(times))


def feed(
    host: str,
    data_port: int,
    result_host: str,
    result_port: int,
    keys_dir: str | None,
    shape: Sequence[int],
    count: int,
    pid: int,
) -> float:
    """Send `count` frames through the stage (2 in flight); the stage's CPU seconds per frame."""
    import zmq

    from runtime.frames import Header, decode, encode
    from runtime.zmqopts import Curve, load_keys

    x = np.random.default_rng(1).standard_normal(tuple(shape)).astype(np.float32)
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    curve = Curve(ctx, load_keys(keys_dir)) if keys_dir else None
    try:
        if curve:
            curve.client(push)
            curve.server(pull)
        pull.bind(f"tcp://{result_host}:{result_port}")
        push.connect(f"tcp://{host}:{data_port}")

        def run(n: int, first_id: int) -> None:
            sent = got = 0
            while got < n:
                while sent < n and sent - got < 2:
                    header = Header(first_id + sent, 1, PLAN_HASH, VERSION, 1)
                    push.send_multipart(encode(header, x), copy=False)
                    sent += 1
                if not pull.poll(120_000):
                    raise TimeoutError("the stage returned nothing for 120 s")
                decode(pull.recv_multipart(copy=False))
                got += 1

        run(3, 1)  # connections, CURVE handshakes, first-touch allocations
        before = thread_cpu_s(pid)
        run(count, 100)
        return (thread_cpu_s(pid) - before) / count
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        if curve:
            curve.close()
        ctx.term()


@dataclass(frozen=True)
class Link:
    """Where the stage and the feeder run: loopback, or two emulated nodes joined by a shaped link."""

    bits_per_s: float | None  # None: loopback

    @property
    def label(self) -> str:
        return "loopback" if self.bits_per_s is None else f"emulated link {self.bits_per_s / 1e6:g} Mbit/s"


def _emulator(link: Link) -> Any:
    from seifer_iac.local import netns

    limits = (
        netns.PairLimit("feeder", "stage", link.bits_per_s),
        netns.PairLimit("stage", "feeder", link.bits_per_s),
    )
    config = netns.EmulatorConfig(f"hoprelay-{os.getpid()}", ("feeder", "stage"), limits, host_access=False)
    return netns.Emulator(config)


def measure_case(case: RelayCase, blob: bytes, encryption: str, count: int, work: Path, link: Link) -> float:
    """CPU seconds a stage process spends per request on `case`, less its partition's compute."""
    import contextlib
    import json
    import subprocess
    import sys

    from runtime.zmqopts import generate_keys, write_keys
    from seifer_iac.bench.localchain import write_chain

    directory = Path(tempfile.mkdtemp(prefix=f"{case.op}{case.side}-{encryption}-", dir=work))
    keys = write_keys(directory / "keys", generate_keys()) if encryption == "curve" else None
    tensor = [
        {"name": "input", "shape": list(case.input_shape), "datatype": "FP32"},
        {"name": case.op, "shape": list(case.output_shape), "datatype": "FP32"},
    ]
    files = write_chain(
        directory,
        [blob],
        input_spec=tensor[0],
        output_spec=tensor[1],
        codecs=[{"name": "none"}, {"name": "none"}],
        tensors=tensor,
        backend={"name": "litert", "precision": "fp32", "threads": 1},
        plan_hash=PLAN_HASH,
        model_version=VERSION,
        curve_keys=keys,
    )
    with contextlib.ExitStack() as stack:
        stage_host = feeder_host = "127.0.0.1"
        stage_prefix: list[str] = []
        feeder_prefix: list[str] = []
        if link.bits_per_s is not None:
            emulator = stack.enter_context(_emulator(link))
            stage_host, feeder_host = emulator.address_of("stage"), emulator.address_of("feeder")
            stage_prefix, feeder_prefix = emulator.exec_prefix("stage"), emulator.exec_prefix("feeder")
            config = json.loads(files.stage_configs[0].read_text())
            config["listen"]["address"] = stage_host
            config["next"]["host"] = feeder_host
            files.stage_configs[0].write_text(json.dumps(config))
        log = directory / "stage.log"
        with open(log, "wb") as out:
            stage = subprocess.Popen(
                [
                    *stage_prefix,
                    sys.executable,
                    "-m",
                    "runtime.stage",
                    "--config",
                    str(files.stage_configs[0]),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )
        stack.callback(_stop, stage)
        _wait_ready(stage, [*stage_prefix], f"http://{stage_host}:{files.stage_http_ports[0]}", log)
        argv = [
            *feeder_prefix, sys.executable, "-m", "seifer_iac.bench.hop_relay", "feed", stage_host,
            str(files.data_ports[0]), feeder_host, str(files.result_port), str(keys or ""),
            ",".join(map(str, case.input_shape)), str(count), str(stage.pid),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"relay feeder failed: {done.stderr.strip().splitlines()[-1:]}")
        spent = float(done.stdout.strip().splitlines()[-1])
    return spent - runner_cpu_s(blob, case.input_shape)


def _stop(proc: Any) -> None:
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except Exception:  # whatever happened, leave no process behind
            proc.kill()
            proc.wait(timeout=10)


def _wait_ready(proc: Any, prefix: list[str], url: str, log: Path, timeout_s: float = 120.0) -> None:
    """Poll the stage's readiness from inside its node (the host is not on the emulated network)."""
    import subprocess
    import sys

    probe = (
        "import sys; from runtime.client import wait_ready; "
        "sys.exit(0 if wait_ready(sys.argv[1], timeout=1.0, raise_on_timeout=False) else 1)"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"relay stage exited: {log.read_text(errors='replace')[-1500:]}")
        if subprocess.run([*prefix, sys.executable, "-c", probe, url], check=False).returncode == 0:
            return
    raise TimeoutError(f"relay stage not ready at {url}: {log.read_text(errors='replace')[-1500:]}")


def fit_relay(rows: Sequence[tuple[int, int, float]]) -> dict[str, float]:
    """Least squares of seconds = fixed + a * input bytes + b * output bytes, in relative error (so the tiny
    tensor's point fixes the fixed cost rather than the 4 MiB points' noise); each clipped at zero."""
    a = np.array([[1.0, i, o] for i, o, _ in rows])
    y = np.array([s for _, _, s in rows])
    weight = 1.0 / np.maximum(y, 1e-6)
    (fixed, per_in, per_out), *_ = np.linalg.lstsq(a * weight[:, None], y * weight, rcond=None)
    return {
        "fixed_s": float(max(fixed, 0.0)),
        "in_s_per_byte": float(max(per_in, 0.0)),
        "out_s_per_byte": float(max(per_out, 0.0)),
    }


def measure_relay(
    link: Link,
    count: int = 20,
    encryptions: Sequence[str] = ("none", "curve"),
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per encryption: the fitted stage relay cost and the measured points it was fitted to."""
    blobs = {case: tflite_blob(case) for case in CASES}
    out: dict[str, Any] = {"link": link.label}
    with tempfile.TemporaryDirectory(prefix="seifer-relay-") as work:
        for encryption in encryptions:
            rows = []
            for case in CASES:
                spent = measure_case(case, blobs[case], encryption, count, Path(work), link)
                in_b, out_b = _nbytes(case.input_shape), _nbytes(case.output_shape)
                what = f"{encryption:5} {case.op:8} in {in_b:>8} B, out {out_b:>8} B"
                say(f"  relay {what}: {spent * 1e3:.3f} ms")
                rows.append((in_b, out_b, spent))
            out[encryption] = {**fit_relay(rows), "points": [list(r) for r in rows]}
    return out


def host_flops_per_s(repeat: int = 15) -> tuple[float, str]:
    """One core's FLOP/s on ResNet50 (random weights; LiteRT fp32, one thread, CPU seconds per inference,
    lower quartile): the emulator's calibration (seifer_iac/local/calibrate.py) of the research's model,
    so a node's quota and the planner's scaling of these costs use the same figure. (FLOP/s, what)."""
    import keras

    from runtime.backends import litert_runner
    from seifer_iac.model.convert import convert
    from seifer_iac.model.profiler import profile_model

    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    flops = sum(b.flops for b in profile_model(model).blocks)
    run = litert_runner(convert(model, "fp32"), 1)
    x0 = np.random.default_rng(0).uniform(-1.0, 1.0, (1, 224, 224, 3)).astype(np.float32)
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run(x0)
        times.append(time.process_time() - started)
    return flops / float(
        np.quantile(times, 0.25)
    ), "ResNet50, LiteRT fp32, 1 thread, CPU time (lower quartile)"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m seifer_iac.bench.hop_relay feed HOST PORT RESULT_HOST RESULT_PORT KEYS SHAPE COUNT PID`:
    the feeder, run inside the emulated feeder node; prints the stage's CPU seconds per frame."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 9 or args[0] != "feed":
        print(main.__doc__, file=sys.stderr)
        return 2
    _, host, port, result_host, result_port, keys, shape, count, pid = args
    spent = feed(
        host, int(port), result_host, int(result_port), keys or None,
        [int(n) for n in shape.split(",")], int(count), int(pid),
    )  # fmt: skip
    print(spent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
