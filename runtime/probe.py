"""`python -m runtime.probe serve|link|speed`: measure one link or one node, print ONE JSON line.

The same process runs as a Kubernetes Job on a real cluster (`seifer probe --render`) and inside the
emulator's namespaces and CPU quotas (`seifer probe --local`); `seifer_iac.probe.collect` turns the lines
into the measured-cluster file. Nothing here imports the plan-time package, and the link path imports
nothing but the standard library (it must start fast and run in the smallest image).

- `serve --port P`: the receiver of bulk transfers. Per connection, a transfer is a 12-byte header
  (magic `SFPB` + payload length, 64-bit big-endian), then the payload; when the last byte is in, the
  receiver answers with the same 12 bytes (the acknowledgement). A connection may carry many transfers.
- `link`: sends `--bytes` N bytes `--repeats` R times on one connection, back to back (after one untimed
  transfer of up to 128 KiB), and times each from its first byte sent to the acknowledgement.
  `bitsPerSecond` is 8 N / the median time: PAYLOAD bits per second, what the runtime's frames get. A link
  that counts whole frames (a Wi-Fi or Ethernet rate, an HTB class of the emulator) delivers about 94-96 %
  of its rate as TCP payload (66 bytes of headers per 1448), so the figure is that much below the link's
  nominal rate, as a stage would see it.
- `speed`: loads the partitions a probe config names (`DIR/speed.json`, below) with the spec's backend
  (`runtime.backends.load_runner`, exactly as a stage loads them) and times each on zeros, called again and
  again for at least `--min-seconds` (default 1 s: many periods of a CPU quota) as a stage calls it; a
  repeat's pass is the sum of the partitions' WALL seconds per call, which is what a node with a CPU limit
  or a slow core really gives. `flopsPerSecond` is the profile's FLOPs of one pass over the median pass.

Failures (no route, refused, a timeout, a bad config) print the same keys with `"error": "<one line>"` and
exit 0, so a Job's log is collected like any other; nothing waits without a timeout.

The speed probe's DIR (docs/CONTRACTS.md): `speed.json` = {"seiferProbe": 1, "node": ..., "backend":
{"name", "precision", "threads"}, "partitions": [{"config": "stage-1.json", "flops": N}, ...]}, each config
a stage's own config (relative to DIR), its weight chunks in its `weights.dir`, as a stage pod mounts them.
"""

from __future__ import annotations

import argparse
import errno
import functools
import hashlib
import json
import socket
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROBE_FORMAT = 1
MAGIC = b"SFPB"
HEADER = struct.Struct(">4sQ")
MAX_TRANSFER_BYTES = 1 << 34  # 16 GiB: a length beyond it is not a probe (the receiver hangs up)
CHUNK = 256 * 1024
# An untimed first transfer takes what an idle link saved up (a token bucket's burst; the emulator's HTB
# lets a 64 KiB GSO packet through on credit, which made a first 300 kB transfer at 8 Mbit/s 26 % "faster"
# than the link) and TCP's slow start, so every timed repeat sees the link's steady rate.
WARM_UP_BYTES = 128 * 1024
CONFIG_NAME = "speed.json"
DATATYPES = {"FP32": "float32", "FP16": "float16", "INT8": "int8", "UINT8": "uint8", "INT32": "int32"}
# errors that mean "no path there" (the route says so): retrying cannot help, so a missing link fails at once
NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}


class ProbeError(Exception):
    """What went wrong, in one line (it becomes the JSON line's `error`)."""


# ------------------------------------------------------------------------------------------------- output


def link_result(
    source: str, target: str, size: int, seconds: Sequence[float], error: str | None
) -> dict[str, Any]:
    """The link JSON object of the probe interface (docs/CONTRACTS.md)."""
    seconds = [round(s, 9) for s in seconds] if error is None else []
    rate = size * 8 / statistics.median(seconds) if seconds else None
    return {
        "seiferProbe": PROBE_FORMAT,
        "kind": "link",
        "from": source,
        "to": target,
        "bytes": size,
        "seconds": seconds,
        "bitsPerSecond": rate,
        "error": error,
    }


def speed_result(
    node: str,
    backend: str | None,
    precision: str | None,
    flops: int | None,
    seconds: Sequence[float],
    error: str | None,
) -> dict[str, Any]:
    """The speed JSON object of the probe interface (docs/CONTRACTS.md)."""
    ok = bool(seconds) and error is None and flops is not None
    seconds = [round(s, 9) for s in seconds] if ok else []
    return {
        "seiferProbe": PROBE_FORMAT,
        "kind": "speed",
        "node": node,
        "backend": backend,
        "precision": precision,
        "flops": flops,
        "seconds": seconds,
        "flopsPerSecond": flops / statistics.median(seconds) if ok and flops is not None else None,
        "error": error,
    }


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:500]


# ----------------------------------------------------------------------------------------------- receiver


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    """Exactly `size` bytes, or None when the peer closed first."""
    parts, got = [], 0
    while got < size:
        part = conn.recv(size - got)
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _drain(conn: socket.socket, size: int, buffer: bytearray) -> bool:
    """Read and drop `size` bytes; False when the peer closed first."""
    view = memoryview(buffer)
    left = size
    while left:
        got = conn.recv_into(view, min(left, len(buffer)))
        if not got:
            return False
        left -= got
    return True


def handle_connection(conn: socket.socket, idle_timeout_s: float) -> int:
    """Serve transfers on one connection until the peer closes; returns how many were acknowledged."""
    buffer = bytearray(CHUNK)
    done = 0
    conn.settimeout(idle_timeout_s)
    with conn:
        try:
            while True:
                header = _recv_exact(conn, HEADER.size)
                if header is None:
                    return done
                magic, size = HEADER.unpack(header)
                if magic != MAGIC or size > MAX_TRANSFER_BYTES:
                    return done  # not a probe: hang up
                if not _drain(conn, size, buffer):
                    return done
                conn.sendall(header)
                done += 1
        except OSError:
            return done


def serve(port: int, host: str = "0.0.0.0", count: int | None = None, idle_timeout_s: float = 300.0) -> int:
    """Accept connections (each in its own thread) until killed, or until `count` connections that carried
    at least one transfer are done (a bare connect, such as a kubelet's TCP check, does not count)."""
    listener = socket.create_server((host, port), backlog=64)
    listener.settimeout(0.2)
    lock = threading.Lock()
    served = [0]

    def worker(conn: socket.socket) -> None:
        if handle_connection(conn, idle_timeout_s):
            with lock:
                served[0] += 1

    with listener:
        while count is None or served[0] < count:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=worker, args=(conn,), daemon=True).start()
    return 0


# ------------------------------------------------------------------------------------------------- sender


def connect(host: str, port: int, timeout_s: float) -> socket.socket:
    """A connection within `timeout_s`: retried while refused (the receiver may start later, as a Job
    does), given up at once when the route says there is no path (a missing link)."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            why = f": {one_line(last)}" if last else ""
            raise ProbeError(f"cannot connect to {host}:{port} within {timeout_s:g} s{why}")
        try:
            conn = socket.create_connection((host, port), timeout=left)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn
        except OSError as err:
            if err.errno in NO_ROUTE:
                raise ProbeError(f"no route to {host}:{port} ({err.strerror or err})") from None
            if isinstance(err, TimeoutError):
                last = err
                continue
            last = err
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _send_all(conn: socket.socket, data: memoryview, deadline: float) -> None:
    while data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        sent = conn.send(data)
        data = data[sent:]


def timed_transfer(conn: socket.socket, size: int, payload: bytes, timeout_s: float) -> float:
    """Send one transfer of `size` bytes; seconds from its first byte to the receiver's acknowledgement."""
    header = HEADER.pack(MAGIC, size)
    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    try:
        _send_all(conn, memoryview(header), deadline)
        left = size
        view = memoryview(payload)
        while left:
            piece = view[: min(left, len(payload))]
            _send_all(conn, piece, deadline)
            left -= len(piece)
        got = b""
        while len(got) < HEADER.size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            conn.settimeout(remaining)
            part = conn.recv(HEADER.size - len(got))
            if not part:
                raise ProbeError("the receiver closed the connection before acknowledging")
            got += part
    except TimeoutError:
        raise ProbeError(f"a transfer of {size} bytes took longer than {timeout_s:g} s") from None
    elapsed = time.perf_counter() - start
    if got != header:
        raise ProbeError("the receiver's acknowledgement does not match the transfer (not a probe receiver?)")
    return elapsed


def measure_link(
    host: str, port: int, size: int, repeats: int, connect_timeout_s: float, timeout_s: float
) -> list[float]:
    """Seconds of each of `repeats` transfers of `size` bytes on one connection."""
    payload = hashlib.shake_256(b"seifer-probe").digest(min(max(size, 1), CHUNK))  # incompressible
    with connect(host, port, connect_timeout_s) as conn:
        timed_transfer(conn, min(size, WARM_UP_BYTES), payload, timeout_s)  # untimed: see WARM_UP_BYTES
        return [timed_transfer(conn, size, payload, timeout_s) for _ in range(repeats)]


# -------------------------------------------------------------------------------------------------- speed


def _field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ProbeError(f"{where}: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProbeError(f"{where}.{key}: {value!r} has the wrong type")
    return value


def read_speed_config(directory: Path) -> dict[str, Any]:
    """DIR/speed.json, checked field by field (errors name the file and field)."""
    path = directory / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ProbeError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ProbeError(f"{path} is not JSON: {one_line(err)}") from None
    where = str(path)
    if _field(data, "seiferProbe", int, where) != PROBE_FORMAT:
        raise ProbeError(f"{where}.seiferProbe: this probe reads format {PROBE_FORMAT}")
    backend = _field(data, "backend", dict, where)
    name = _field(backend, "name", str, f"{where}.backend")
    if name not in ("litert", "tensorflow"):
        raise ProbeError(f"{where}.backend.name: {name!r} is not litert or tensorflow")
    threads = backend.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ProbeError(f"{where}.backend.threads: {threads!r} is not a whole number of at least 1")
    parts = _field(data, "partitions", list, where)
    if not parts:
        raise ProbeError(f"{where}.partitions: empty (no partition fits this node?)")
    for index, part in enumerate(parts):
        at = f"{where}.partitions[{index}]"
        _field(part, "config", str, at)
        if _field(part, "flops", int, at) <= 0:
            raise ProbeError(f"{at}.flops: must be positive")
    return data


def load_partition_runner(directory: Path, part: dict[str, Any], backend: Any) -> tuple[Any, Any]:
    """(runner, zero input) of one partition: its stage config read and its weight chunks verified exactly
    as the stage process does, then loaded by `backend` (the node's threads, the spec's precision)."""
    import numpy as np

    from runtime.backends import BackendError, load_runner
    from runtime.config import ConfigError, StageConfig, load_config
    from runtime.weights import WeightsError, read_weights

    path = directory / part["config"]
    try:
        config = load_config(path)
        if not isinstance(config, StageConfig):
            raise ProbeError(f"{path}: a stage config is needed, not a {config.role} config")
        run = load_runner(backend, read_weights(config.weights))
    except (ConfigError, WeightsError, BackendError) as err:
        raise ProbeError(f"{path.name}: {one_line(err)}") from None
    shape = [1 if n is None or n < 0 else int(n) for n in config.input.shape]
    shape[0] = 1
    return run, np.zeros(shape, dtype=DATATYPES.get(config.input.datatype, "float32"))


def timed_repeat(one_pass: Callable[[], object], min_seconds: float) -> float:
    """Wall seconds per call over as many calls as fill `min_seconds`.

    Counted by the clock, not by a pass count fixed in advance: under a CPU quota a pass count sized from
    one call can fit inside a single quota period and never be throttled. A quota's granularity (one
    period's worth of CPU) still shifts a repeat by up to period / min_seconds, so a repeat must span many
    periods: 20 ms in the emulator, 100 ms for a Kubernetes CPU limit (use --min-seconds 2 or more there).
    """
    count = 0
    start = time.perf_counter()
    while True:
        one_pass()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / count


def measure_speed(
    directory: Path, config: dict[str, Any], repeats: int, min_seconds: float
) -> tuple[int, list[float]]:
    """(FLOPs of one pass over the config's partitions, wall seconds of one pass per repeat).

    Each partition is loaded, warmed up, timed `repeats` times (called again and again, as a stage process
    calls it, its weights warm in the caches) and released before the next is loaded, so the probe's peak
    memory is the largest partition's; repeat r's pass is the sum of the partitions' r-th times per call.
    """
    import gc

    from runtime.config import BackendConfig

    backend = config["backend"]
    chosen = BackendConfig(
        name=backend["name"],
        precision=str(backend.get("precision", "fp32")),
        threads=int(backend.get("threads", 1)),
    )
    seconds = [0.0] * repeats
    for part in config["partitions"]:
        run, zeros = load_partition_runner(directory, part, chosen)
        run(zeros)  # warm: the first call pays for lazy allocations
        for index in range(repeats):
            seconds[index] += timed_repeat(functools.partial(run, zeros), min_seconds)
        del run
        gc.collect()
    flops = sum(int(part["flops"]) for part in config["partitions"])
    return flops, seconds


# ---------------------------------------------------------------------------------------------------- cli


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m runtime.probe", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    srv = commands.add_parser("serve", help="receive bulk transfers (until killed or --count connections)")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--host", default="0.0.0.0")
    srv.add_argument(
        "--count", type=int, default=None, help="exit after this many connections with a transfer are done"
    )
    srv.add_argument("--idle-timeout", type=float, default=300.0, help="drop a silent connection after S s")
    link = commands.add_parser("link", help="time bulk transfers to a receiver; print one JSON line")
    link.add_argument("--from", dest="source", required=True)
    link.add_argument("--to", dest="target", required=True)
    link.add_argument("--host", required=True)
    link.add_argument("--port", type=int, required=True)
    link.add_argument("--bytes", dest="size", type=int, default=4_000_000)
    link.add_argument("--repeats", type=int, default=5)
    link.add_argument("--connect-timeout", type=float, default=30.0, help="seconds to reach the receiver")
    link.add_argument("--timeout", type=float, default=120.0, help="seconds one transfer may take")
    spd = commands.add_parser("speed", help="time the model's partitions on this node; print one JSON line")
    spd.add_argument("--node", required=True)
    spd.add_argument("--config", required=True, help="directory holding speed.json and the stage configs")
    spd.add_argument("--repeats", type=int, default=5)
    spd.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="least wall time per partition and repeat (many CPU-quota periods)",
    )
    return top


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, sort_keys=True), flush=True)


def run_link(args: argparse.Namespace) -> None:
    seconds: list[float] = []
    error = None
    try:
        if args.size < 1 or args.repeats < 1:
            raise ProbeError("--bytes and --repeats must be at least 1")
        seconds = measure_link(
            args.host, args.port, args.size, args.repeats, args.connect_timeout, args.timeout
        )
    except ProbeError as err:
        error = one_line(err)
    except (OSError, ValueError) as err:
        error = f"transfer to {args.host}:{args.port} failed: {one_line(err)}"
    _print(link_result(args.source, args.target, args.size, seconds, error))


def run_speed(args: argparse.Namespace) -> None:
    backend, precision, flops, seconds, error = None, None, None, [], None
    try:
        if args.repeats < 1 or not args.min_seconds >= 0:
            raise ProbeError("--repeats must be at least 1 and --min-seconds not negative")
        config = read_speed_config(Path(args.config))
        backend = config["backend"]["name"]
        precision = str(config["backend"].get("precision", "fp32"))
        flops, seconds = measure_speed(Path(args.config), config, args.repeats, args.min_seconds)
    except ProbeError as err:
        error = one_line(err)
    except Exception as err:  # a backend's own failure (a broken flatbuffer): still one line, never a trace
        error = f"{type(err).__name__}: {one_line(err)}"
    _print(speed_result(args.node, backend, precision, flops, seconds, error))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "link":
        run_link(args)
        return 0
    if args.command == "speed":
        run_speed(args)
        return 0
    try:
        return serve(args.port, args.host, args.count, args.idle_timeout)
    except OSError as err:
        print(
            f"probe receiver: cannot listen on {args.host}:{args.port}: {err.strerror or err}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
