"""`seifer bench hops`: measure what one hop costs the runtime, for the planner's cost model.

With the runtime's own frame codec (`runtime.frames.encode/decode`, which call `runtime.codecs`):

- per codec, encode and decode time of a ReLU-like float32 activation (standard normal, negatives zeroed,
  as after a ReLU) at 64 KiB, 256 KiB, 1 MiB and 4 MiB, median of repeats, fitted as a + b * raw bytes;
  the planner keeps the slopes b (seconds per raw byte);
- the fixed cost of a hop: encode, ZeroMQ PUSH -> PULL over loopback TCP and decode of a 16-value tensor
  (median), plus the codecs' intercepts (the mean of their a), which is what every frame pays whatever
  its size.

With `relay` (hop_relay.py), also what a real stage process spends per request besides its layers, across
an emulated link (root) or loopback, and this host's FLOP/s, which the planner scales the costs by.
The result is the JSON document `seifer_iac/planner/hop_costs.py` reads.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

SIZES = (64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024)
COMMAND = "sudo seifer bench hops --write seifer_iac/planner/hop_costs.json"


def _codecs() -> dict[str, Any]:
    from runtime.codecs import CodecSpec

    return {
        "none": CodecSpec("none"),
        "lz4": CodecSpec("lz4"),
        "zfp/rate": CodecSpec("zfp", mode="rate", rate=16),
        "zfp/precision": CodecSpec("zfp", mode="precision", precision=16),
        "zfp/tolerance": CodecSpec("zfp", mode="tolerance", tolerance=1e-3),
        "zfp/reversible": CodecSpec("zfp", mode="reversible"),
    }


def _least_s(fn: Callable[[], Any], repeat: int) -> float:
    """The least of `repeat` timings: the cost itself, without what other work on the machine adds."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def activation(raw_bytes: int, seed: int = 0) -> np.ndarray:
    """A (1, h, w, 16) float32 tensor of `raw_bytes`, ReLU-like (about half zeros)."""
    values = raw_bytes // 4
    side = int(np.sqrt(values // 16))
    x = np.random.default_rng(seed).standard_normal((1, side, values // 16 // side, 16)).astype(np.float32)
    return np.maximum(x, 0.0)


def _fit(sizes: list[int], seconds: list[float]) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.array(sizes, dtype=float), np.array(seconds), 1)
    return float(max(intercept, 0.0)), float(max(slope, 0.0))


def measure_codecs(repeat: int) -> dict[str, dict[str, float]]:
    from runtime.frames import Header, decode, encode

    out = {}
    for key, spec in _codecs().items():
        header = Header(1, 1, "bench", "1", 1, codec=spec)
        sizes, enc, dec = [], [], []
        for size in SIZES:
            array = activation(size)
            frames = [bytes(memoryview(f).cast("B")) for f in encode(header, array)]
            sizes.append(array.nbytes)
            enc.append(_least_s(lambda a=array, h=header: encode(h, a), repeat))
            dec.append(_least_s(lambda f=frames: decode(f), repeat))
        enc_a, enc_b = _fit(sizes, enc)
        dec_a, dec_b = _fit(sizes, dec)
        out[key] = {
            "encode_s_per_byte": enc_b,
            "decode_s_per_byte": dec_b,
            "encode_intercept_s": enc_a,
            "decode_intercept_s": dec_a,
            "encode_1mib_ms": enc[2] * 1e3,
            "decode_1mib_ms": dec[2] * 1e3,
        }
    return out


def measure_socket_hop(repeat: int) -> float:
    """Encode, send over loopback TCP (PUSH -> PULL), receive and decode a 16-value tensor: median s."""
    import zmq

    from runtime.frames import Header, decode, encode

    header = Header(1, 1, "bench", "1", 1)
    array = np.zeros((1, 16), dtype=np.float32)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    try:
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push.connect(f"tcp://127.0.0.1:{port}")

        def hop() -> None:
            push.send_multipart(encode(header, array), copy=False)
            decode(pull.recv_multipart(copy=False))

        return _least_s(hop, repeat * 20)
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()


def measure(
    repeat: int = 15, relay_link: Any = None, relay_count: int = 20, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Codec and loopback-hop figures; with `relay_link` (a hop_relay.Link) also the stage relay costs
    and this host's FLOP/s."""
    codecs = measure_codecs(repeat)
    socket_s = measure_socket_hop(repeat)
    figures: dict[str, Any] = {
        "command": COMMAND,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {_cpu_name()}, Python {platform.python_version()}",
        "fixed_s": socket_s,
        "socket_hop_s": socket_s,
        "codecs": codecs,
    }
    if relay_link is not None:
        from seifer_iac.bench.hop_relay import host_flops_per_s, measure_relay

        flops, how = host_flops_per_s()
        say(f"  host speed {flops / 1e9:.1f} GFLOP/s per core ({how})")
        figures["host_flops_per_s"] = flops
        figures["host_flops_how"] = how
        figures["relay"] = measure_relay(relay_link, relay_count, say=say)
    return figures


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def to_markdown(figures: dict[str, Any]) -> str:
    lines = [
        f"Measured {figures['measured']} on {figures['machine']} with `{figures['command']}`.",
        "",
        f"Fixed cost per hop: {figures['fixed_s'] * 1e3:.3f} ms (a 16-value tensor framed, sent over loopback"
        " TCP, received and decoded).",
        "",
        "| codec | encode ms/MiB | decode ms/MiB | encode 1 MiB (ms) | decode 1 MiB (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, row in figures["codecs"].items():
        lines.append(
            f"| {key} | {row['encode_s_per_byte'] * 2**20 * 1e3:.3f}"
            f" | {row['decode_s_per_byte'] * 2**20 * 1e3:.3f}"
            f" | {row['encode_1mib_ms']:.3f} | {row['decode_1mib_ms']:.3f} |"
        )
    relay = figures.get("relay")
    if relay:
        lines += [
            "",
            f"Stage relay ({relay['link']}; a runtime.stage process, CPU per request less its layers), at"
            f" {figures['host_flops_per_s'] / 1e9:.1f} GFLOP/s per core ({figures['host_flops_how']}); a node"
            " of speed s pays it x that / s:",
            "",
            "| encryption | fixed ms | per input MiB ms | per output MiB ms |",
            "|---|---:|---:|---:|",
        ]
        for key, row in relay.items():
            if isinstance(row, dict):
                lines.append(
                    f"| {key} | {row['fixed_s'] * 1e3:.3f} | {row['in_s_per_byte'] * 2**20 * 1e3:.3f}"
                    f" | {row['out_s_per_byte'] * 2**20 * 1e3:.3f} |"
                )
    return "\n".join(lines)
