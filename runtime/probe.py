"""`python -m runtime.probe serve|link|speed`: measure one link or one node, print ONE JSON line.

The same process runs as a Kubernetes Job on a real cluster (`seifer probe --render`) and inside the
emulator's namespaces and CPU quotas (`seifer probe --local`); `seifer_iac.probe.collect` turns the lines
into the measured-cluster file. Nothing here imports the plan-time package, and the link path imports
nothing but the standard library (it must start fast and run in the smallest image).

- `serve --port P`: the receiver of bulk transfers. Per connection, a transfer is a 12-byte header
  (magic `SFPB` + payload length, 64-bit big-endian), then the payload; when the last byte is in, the
  receiver answers with the same 12 bytes (the acknowledgement). A connection may carry many transfers.
  It is network-facing, so it bounds everything a peer controls: at most 32 connections served at once
  (more wait in the backlog), a header within `--idle-timeout`, a payload at 1000 B/s on average after
  that grace, at most 1 GiB declared; anything else is hung up on.
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

Failures (no route, refused, a timeout, a bad config, a bad or out-of-range argument) print the same keys
with `"error": "<one line>"` and exit 0, so a Job's log is collected like any other; nothing waits without
a timeout.

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
from typing import Any, NoReturn

from runtime.files import read_regular

PROBE_FORMAT = 1
MAGIC = b"SFPB"
HEADER = struct.Struct(">4sQ")
MAX_TRANSFER_BYTES = 1 << 30  # 1 GiB, as `seifer probe --bytes` allows: a longer one is not a probe (hang up)
MAX_CONNECTIONS = 32  # served at once; more wait in the listen backlog (threads and buffers stay bounded)
# A transfer must keep up at least this average rate (after an idle timeout's grace), so a sender that
# trickles a byte at a time (slowloris) cannot hold a connection for as long as its declared length allows.
MIN_RECEIVE_BYTES_PER_S = 1000
MAX_CONFIG_BYTES = 1 << 20  # speed.json lists a few partitions
MAX_THREADS = 1024  # a node's cpus: more is not a node, and the backend would try to start them all
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
    source: str | None, target: str | None, size: int | None, seconds: Sequence[float], error: str | None
) -> dict[str, Any]:
    """The link JSON object of the probe interface (docs/CONTRACTS.md); None only for bad arguments."""
    seconds = [round(s, 9) for s in seconds] if error is None else []
    rate = size * 8 / statistics.median(seconds) if seconds and size else None
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
    node: str | None,
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


def _settimeout(conn: socket.socket, deadline: float) -> None:
    """Arm the next receive to end by `deadline` (a TimeoutError when it has passed)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    conn.settimeout(left)


def _recv_exact(conn: socket.socket, size: int, deadline: float) -> bytes | None:
    """Exactly `size` bytes by `deadline`, or None when the peer closed first."""
    parts, got = [], 0
    while got < size:
        _settimeout(conn, deadline)
        part = conn.recv(size - got)
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _drain(conn: socket.socket, size: int, buffer: bytearray, deadline: float) -> bool:
    """Read and drop `size` bytes by `deadline`; False when the peer closed first."""
    view = memoryview(buffer)
    left = size
    while left:
        _settimeout(conn, deadline)
        got = conn.recv_into(view, min(left, len(buffer)))
        if not got:
            return False
        left -= got
    return True


def handle_connection(conn: socket.socket, idle_timeout_s: float) -> int:
    """Serve transfers on one connection until the peer closes; returns how many were acknowledged.

    Every wait has an end: a header must be complete `idle_timeout_s` after the previous transfer, and a
    payload must arrive at `MIN_RECEIVE_BYTES_PER_S` on average after that much grace; otherwise (or on
    anything that is not a probe header) the receiver hangs up.
    """
    buffer = bytearray(CHUNK)
    done = 0
    with conn:
        try:
            while True:
                started = time.monotonic()
                header = _recv_exact(conn, HEADER.size, started + idle_timeout_s)
                if header is None:
                    return done
                magic, size = HEADER.unpack(header)
                if magic != MAGIC or size > MAX_TRANSFER_BYTES:
                    return done  # not a probe: hang up
                if not _drain(conn, size, buffer, started + idle_timeout_s + size / MIN_RECEIVE_BYTES_PER_S):
                    return done
                conn.settimeout(idle_timeout_s)
                conn.sendall(header)
                done += 1
        except OSError:  # a reset, a timeout
            return done


def serve(port: int, host: str = "0.0.0.0", count: int | None = None, idle_timeout_s: float = 300.0) -> int:
    """Accept connections (each in its own thread) until killed, or until `count` connections that carried
    at least one transfer are done (a bare connect, such as a kubelet's TCP check, does not count)."""
    listener = socket.create_server((host, port), backlog=64)
    listener.settimeout(0.2)
    lock = threading.Lock()
    served = [0]
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def worker(conn: socket.socket) -> None:
        try:
            if handle_connection(conn, idle_timeout_s):
                with lock:
                    served[0] += 1
        finally:
            slots.release()

    with listener:
        while count is None or served[0] < count:
            if not slots.acquire(timeout=0.2):
                continue  # all slots busy: the next connection waits in the backlog
            try:
                conn, _ = listener.accept()
            except OSError as error:  # no connection yet, or one reset before it was accepted
                slots.release()
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    time.sleep(0.2)  # out of descriptors or memory for now: never a crash
                continue
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # reset already
                conn.close()
                slots.release()
                continue
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
        data = json.loads(read_regular(path, MAX_CONFIG_BYTES))
    except OSError as err:
        raise ProbeError(f"cannot read {path}: {err.strerror or err}") from None
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, nested past the parser's depth
        raise ProbeError(f"{path} is not JSON: {one_line(err)}") from None
    where = str(path)
    if _field(data, "seiferProbe", int, where) != PROBE_FORMAT:
        raise ProbeError(f"{where}.seiferProbe: this probe reads format {PROBE_FORMAT}")
    backend = _field(data, "backend", dict, where)
    name = _field(backend, "name", str, f"{where}.backend")
    if name not in ("litert", "tensorflow"):
        raise ProbeError(f"{where}.backend.name: {name!r} is not litert or tensorflow")
    threads = backend.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ProbeError(f"{where}.backend.threads: {threads!r} is not a whole number, 1 to {MAX_THREADS}")
    precision = backend.get("precision", "fp32")
    if not isinstance(precision, str):
        raise ProbeError(f"{where}.backend.precision: {precision!r} has the wrong type")
    parts = _field(data, "partitions", list, where)
    if not parts:
        raise ProbeError(f"{where}.partitions: empty (no partition fits this node?)")
    for index, part in enumerate(parts):
        at = f"{where}.partitions[{index}]"
        name = _field(part, "config", str, at)
        if Path(name).name != name or name in ("", ".", ".."):
            raise ProbeError(f"{at}.config: {name[:80]!r} is not a file name in {directory}")
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


class _ArgumentParser(argparse.ArgumentParser):
    """A bad argument raises ProbeError instead of printing usage and exiting 2: `link` and `speed` report
    it in their JSON line (a Job's log is all anyone reads of them)."""

    def error(self, message: str) -> NoReturn:
        raise ProbeError(f"bad arguments: {message}")


def _bounded(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a number of `kind` within [low, high] (NaN and infinity are not)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {noun}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]} is not from {low} to {high}")
        return value

    return parse


PORT = _bounded(int, 1, 65535)
SECONDS = _bounded(float, 0.001, 7 * 86400.0)  # a week: anything longer is a typo, not a slow link
REPEATS = _bounded(int, 1, 1000)


def parser() -> argparse.ArgumentParser:
    top = _ArgumentParser(prog="python -m runtime.probe", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    srv = commands.add_parser("serve", help="receive bulk transfers (until killed or --count connections)")
    srv.add_argument("--port", type=PORT, required=True)
    srv.add_argument("--host", default="0.0.0.0")
    srv.add_argument(
        "--count",
        type=_bounded(int, 1, 1 << 31),
        default=None,
        help="exit after this many connections with a transfer are done",
    )
    srv.add_argument("--idle-timeout", type=SECONDS, default=300.0, help="drop a silent connection after S s")
    link = commands.add_parser("link", help="time bulk transfers to a receiver; print one JSON line")
    link.add_argument("--from", dest="source", required=True)
    link.add_argument("--to", dest="target", required=True)
    link.add_argument("--host", required=True)
    link.add_argument("--port", type=PORT, required=True)
    link.add_argument("--bytes", dest="size", type=_bounded(int, 1, MAX_TRANSFER_BYTES), default=4_000_000)
    link.add_argument("--repeats", type=REPEATS, default=5)
    link.add_argument("--connect-timeout", type=SECONDS, default=30.0, help="seconds to reach the receiver")
    link.add_argument("--timeout", type=SECONDS, default=120.0, help="seconds one transfer may take")
    spd = commands.add_parser("speed", help="time the model's partitions on this node; print one JSON line")
    spd.add_argument("--node", required=True)
    spd.add_argument("--config", required=True, help="directory holding speed.json and the stage configs")
    spd.add_argument("--repeats", type=REPEATS, default=5)
    spd.add_argument(
        "--min-seconds",
        type=_bounded(float, 0.0, 3600.0),
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
        config = read_speed_config(Path(args.config))
        backend = config["backend"]["name"]
        precision = str(config["backend"].get("precision", "fp32"))
        flops, seconds = measure_speed(Path(args.config), config, args.repeats, args.min_seconds)
    except ProbeError as err:
        error = one_line(err)
    except Exception as err:  # a backend's own failure (a broken flatbuffer): still one line, never a trace
        error = f"{type(err).__name__}: {one_line(err)}"
    _print(speed_result(args.node, backend, precision, flops, seconds, error))


def _given(argv: Sequence[str], option: str) -> str | None:
    """The value of `option` in argv as written (`--from A` or `--from=A`), for a line about bad arguments."""
    for index, word in enumerate(argv):
        if word == option and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(option + "="):
            return word[len(option) + 1 :]
    return None


def bad_arguments(argv: Sequence[str], error: str) -> int:
    """`link` and `speed` print their JSON line with the error (exit 0, as any failure); `serve` has no
    line to print, so it says so on stderr and exits 2."""
    command = argv[0] if argv else None
    if command == "link":
        _print(link_result(_given(argv, "--from"), _given(argv, "--to"), None, [], error))
        return 0
    if command == "speed":
        _print(speed_result(_given(argv, "--node"), None, None, None, [], error))
        return 0
    who = "probe receiver" if command == "serve" else "python -m runtime.probe"
    print(f"{who}: {error} (see --help)", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except ProbeError as error:
        return bad_arguments(argv, one_line(error))
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
