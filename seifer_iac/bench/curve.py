"""What CURVE costs on one hop: 1 MiB messages over loopback ZeroMQ, encrypted and in clear.

Two figures per mode, from the same sockets a stage uses (PUSH -> PULL, the runtime's socket options):
the median round trip of one 1 MiB message to an echo peer and back (two hops), and the throughput of a
stream of them through one hop. CURVE's cost is the difference; it is paid in libzmq's I/O threads, so it
adds latency per hop and caps a hop's throughput, without holding Python's GIL. Also runnable as
``python -m seifer_iac.bench.curve``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import zmq

from runtime import zmqopts

MIB = 1 << 20


@dataclass(frozen=True)
class CurveHopResult:
    mode: str  # "none" or "curve"
    round_trip_ms: float  # median, 1 MiB there and back (two hops)
    stream_mb_s: float  # a stream of 1 MiB messages there and back (pipelined: about one hop's rate)


def _sockets(ctx: zmq.Context, curve: zmqopts.Curve | None) -> tuple[zmq.Socket, zmq.Socket]:
    pull = zmqopts.configure(ctx.socket(zmq.PULL), 4, 1000)
    push = zmqopts.configure(ctx.socket(zmq.PUSH), 4, 1000)
    if curve is not None:
        curve.server(pull)
        curve.client(push)
    return pull, push


def measure(mode: str, repeat: int = 30, stream: int = 60, size: int = MIB) -> CurveHopResult:
    """Round trip and stream throughput of ``size``-byte messages with ``mode`` none or curve."""
    keys = zmqopts.generate_keys()
    ctx = zmq.Context()
    curve = zmqopts.Curve(ctx, keys) if mode == "curve" else None
    a_pull, a_push = _sockets(ctx, curve)
    b_pull, b_push = _sockets(ctx, curve)
    stop = threading.Event()
    try:
        a_port = a_pull.bind_to_random_port("tcp://127.0.0.1")
        b_port = b_pull.bind_to_random_port("tcp://127.0.0.1")
        a_push.connect(f"tcp://127.0.0.1:{b_port}")
        b_push.connect(f"tcp://127.0.0.1:{a_port}")

        def echo() -> None:
            while not stop.is_set():
                if b_pull.poll(50):
                    b_push.send(b_pull.recv(copy=False), copy=False)

        thread = threading.Thread(target=echo, daemon=True)
        thread.start()
        payload = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8).tobytes()
        a_push.send(payload)  # the first message also waits for both handshakes
        a_pull.recv()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            a_push.send(payload, copy=False)
            a_pull.recv(copy=False)
            times.append(time.perf_counter() - start)
        start, received = time.perf_counter(), 0
        for _ in range(stream):  # the echo sends each back: count a hop's worth at the far end
            a_push.send(payload, copy=False)
            while a_pull.poll(0):
                a_pull.recv(copy=False)
                received += 1
        while received < stream:
            a_pull.recv(copy=False)
            received += 1
        elapsed = time.perf_counter() - start
        stop.set()
        thread.join(5)
        return CurveHopResult(mode, statistics.median(times) * 1000, stream * size / 1e6 / elapsed)
    finally:
        stop.set()
        for sock in (a_pull, a_push, b_pull, b_push):
            sock.close(0)
        if curve is not None:
            curve.close()
        ctx.term()


def run(repeat: int = 30, stream: int = 60) -> tuple[CurveHopResult, ...]:
    return tuple(measure(mode, repeat, stream) for mode in ("none", "curve"))


def to_markdown(results: Sequence[CurveHopResult]) -> str:
    """A small table: per mode the round trip and the stream rate, and CURVE's cost per 1 MiB hop."""
    by_mode = {r.mode: r for r in results}
    lines = [
        "### Encryption: ZeroMQ CURVE on a 1 MiB hop (loopback)",
        "",
        "| encryption | round trip, 2 hops (median ms) | stream there and back (MB/s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r.mode} | {r.round_trip_ms:.2f} | {r.stream_mb_s:.0f} |" for r in results]
    if {"none", "curve"} <= set(by_mode):
        extra = (by_mode["curve"].round_trip_ms - by_mode["none"].round_trip_ms) / 2
        lines += ["", f"CURVE adds about {extra:.2f} ms per 1 MiB hop (half the round-trip difference)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seifer_iac.bench.curve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeat", type=int, default=30, help="round trips per mode (default 30)")
    args = parser.parse_args(argv)
    print(to_markdown(run(args.repeat, 2 * args.repeat)), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
