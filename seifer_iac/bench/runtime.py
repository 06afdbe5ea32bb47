"""Runtime benchmarks (``seifer bench runtime`` calls ``run_benchmarks`` then ``to_markdown``).

Three questions, answered on loopback with the real processes (``python -m runtime.stage``):

1. What does one hop cost? A 1 MiB activation sent through one identity stage and back, against the
   same frames sent straight back to the sender (same encode/decode on the bench side), per codec.
2. What do the codecs buy on real activations? A ReLU conv layer's output on random input: ratio,
   compress / decompress MB/s and the worst absolute error, per codec and ZFP mode.
3. Chain against one process: requests/s of a small CNN split in 3 stage processes (pipelined over
   ZeroMQ, and through the HTTP dispatcher) against the unsplit model under ``tf.function``.

Absolute figures depend on the machine (and on how many cores other work leaves); the markdown notes
the core count.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from runtime.client import infer
from runtime.codecs import CodecSpec, compress, decompress
from runtime.frames import Decoded, Header, decode, encode
from seifer_iac.bench.localchain import ChainFiles, LocalChain, free_ports, write_chain

HOP_CODECS = (CodecSpec("none"), CodecSpec("lz4"), CodecSpec("zfp", mode="rate", rate=16))
TABLE_CODECS = (
    CodecSpec("none"),
    CodecSpec("lz4"),
    CodecSpec("zfp", mode="reversible"),
    CodecSpec("zfp", mode="rate", rate=16),
    CodecSpec("zfp", mode="rate", rate=8),
    CodecSpec("zfp", mode="precision", precision=16),
    CodecSpec("zfp", mode="tolerance", tolerance=1e-2),
    CodecSpec("zfp", mode="tolerance", tolerance=1e-3),
)


def codec_label(spec: CodecSpec) -> str:
    if spec.name != "zfp":
        return spec.name
    value = {"rate": spec.rate, "precision": spec.precision, "tolerance": spec.tolerance}.get(spec.mode or "")
    return f"zfp {spec.mode}" + ("" if value is None else f" {value:g}")


@dataclass(frozen=True)
class HopResult:
    codec: str
    direct_ms: float
    via_stage_ms: float
    overhead_ms: float
    wire_bytes: int


@dataclass(frozen=True)
class CodecResult:
    codec: str
    ratio: float
    compress_mbps: float
    decompress_mbps: float
    max_abs_error: float


@dataclass(frozen=True)
class ChainResult:
    label: str
    requests_per_second: float
    median_latency_ms: float


@dataclass(frozen=True)
class Results:
    activation_shape: tuple[int, ...]
    hops: tuple[HopResult, ...]
    codecs: tuple[CodecResult, ...]
    chain: tuple[ChainResult, ...]
    squeeze_size_ratio: float
    cores: int


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _identity_blob(shape: tuple[int, ...]) -> bytes:
    import keras

    from runtime.partition import dump_partition

    return dump_partition(keras.Sequential([keras.Input(shape[1:]), keras.layers.Identity()]))


class _Endpoint:
    """The bench's side of a chain: PUSH into stage 1 (or into itself) and PULL the results."""

    def __init__(self, push_port: int, pull_port: int) -> None:
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.bind(f"tcp://127.0.0.1:{pull_port}")
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.connect(f"tcp://127.0.0.1:{push_port}")

    def round_trip(self, header: Header, array: np.ndarray) -> np.ndarray:
        self.push.send_multipart(encode(header, array), copy=False)
        decoded = decode(self.pull.recv_multipart(copy=False))
        assert isinstance(decoded, Decoded), decoded
        return decoded.array

    def close(self) -> None:
        self.pull.close(0)
        self.push.close(0)
        self.ctx.term()


def bench_hops(work: Path, shape: tuple[int, ...], repeat: int) -> tuple[HopResult, ...]:
    """Per-hop overhead: round trip through one identity stage minus the direct loopback round trip.

    One identity stage per codec (a stage's outgoing codec is fixed by its config), all started together;
    direct and via-stage round trips are interleaved so load from other work hits both alike.
    """
    array = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    blob = _identity_blob(shape)
    tensor = {"name": "x", "shape": list(shape), "datatype": "FP32"}
    chains = []
    try:
        for codec in HOP_CODECS:
            files = write_chain(
                work / f"hop-{codec_label(codec).replace(' ', '-')}",
                [blob],
                input_spec=tensor,
                output_spec=tensor,
                codecs=[codec.to_dict(), codec.to_dict()],
                plan_hash="bench",
            )
            chain = LocalChain(files)
            chain.start_stage(1)
            chains.append(chain)
        results = []
        for codec, chain in zip(HOP_CODECS, chains, strict=True):
            chain.wait_stage_ready(1, timeout=300)
            port = free_ports(1)[0]
            direct = _Endpoint(port, port)  # frames straight back to ourselves
            via = _Endpoint(chain.files.data_ports[0], chain.files.result_port)
            header_direct = Header(1, 1, "bench", "1.0.0", 2, codec=codec)
            header = Header(1, 1, "bench", "1.0.0", 1, codec=codec)
            direct_ms, via_ms = [], []
            for index in range(repeat + 3):
                d = _median_ms(lambda: direct.round_trip(header_direct, array), 1)  # noqa: B023
                v = _median_ms(lambda: via.round_trip(header, array), 1)  # noqa: B023
                if index >= 3:  # warm-up
                    direct_ms.append(d)
                    via_ms.append(v)
            direct.close()
            via.close()
            wire = len(memoryview(encode(header, array)[1]).cast("B"))
            d_med, v_med = statistics.median(direct_ms), statistics.median(via_ms)
            results.append(HopResult(codec_label(codec), d_med, v_med, v_med - d_med, wire))
        return tuple(results)
    finally:
        for chain in chains:
            chain.close()


def real_activation(seed: int = 0) -> np.ndarray:
    """A ReLU conv layer's output (1 x 56 x 56 x 64 float32, ~0.8 MB) on random input: realistic sparsity."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((112, 112, 3)),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        ]
    )
    x = np.random.default_rng(seed).random((1, 112, 112, 3), dtype=np.float32)
    return np.asarray(model.predict_on_batch(x))


def bench_codecs(activation: np.ndarray, repeat: int) -> tuple[tuple[CodecResult, ...], float]:
    """Ratio, speed and error per codec; plus the ZFP ratio without squeezing the batch axis."""
    import zfpy

    mb = activation.nbytes / 1e6
    results = []
    for spec in TABLE_CODECS:
        _, payload = compress(spec, activation)
        back = decompress(spec, payload, activation.dtype, activation.shape)
        c_ms = _median_ms(lambda s=spec: compress(s, activation), repeat)
        d_ms = _median_ms(
            lambda s=spec, p=payload: decompress(s, p, activation.dtype, activation.shape), repeat
        )
        size = len(memoryview(payload).cast("B"))
        error = float(np.max(np.abs(back.astype(np.float64) - activation)))
        results.append(
            CodecResult(
                codec_label(spec), activation.nbytes / size, mb / (c_ms / 1000), mb / (d_ms / 1000), error
            )
        )
    squeezed = len(zfpy.compress_numpy(activation.reshape(activation.shape[1:]), rate=16))
    unsqueezed = len(zfpy.compress_numpy(activation, rate=16))
    return tuple(results), squeezed / unsqueezed


def _cnn_split() -> tuple[tuple[bytes, ...], Callable[[np.ndarray], np.ndarray], tuple[int, ...]]:
    import keras
    import tensorflow as tf

    from runtime.partition import dump_partition

    keras.utils.set_random_seed(3)
    shape = (1, 64, 64, 3)

    def block(inp: tuple[int, ...], filters: int, strides: int) -> Any:
        return keras.Sequential(
            [
                keras.Input(inp),
                keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu"),
                keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            ]
        )

    s1, s2 = block((64, 64, 3), 32, 1), block((64, 64, 32), 64, 2)
    s3 = keras.Sequential(
        [
            keras.Input((32, 32, 64)),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(100),
        ]
    )
    inp = keras.Input(shape[1:])
    full = keras.Model(inp, s3(s2(s1(inp))))
    compiled = tf.function(lambda x: full(x, training=False))
    return tuple(dump_partition(m) for m in (s1, s2, s3)), lambda x: compiled(x).numpy(), shape


def bench_chain(work: Path, requests: int, window: int = 4) -> tuple[ChainResult, ...]:
    """Unsplit model in this process vs the same model as a 3-stage chain (ZeroMQ pipelined, and HTTP)."""
    blobs, reference, shape = _cnn_split()
    xs = [np.random.default_rng(i).random(shape, dtype=np.float32) for i in range(requests)]
    for x in xs[:3]:
        reference(x)
    start = time.perf_counter()
    latencies = [_median_ms(lambda x=x: reference(x), 1) for x in xs]
    one = ChainResult(
        "unsplit, one process (tf.function)",
        requests / (time.perf_counter() - start),
        statistics.median(latencies),
    )
    files = write_chain(
        work / "chain",
        blobs,
        input_spec={"name": "x", "shape": list(shape), "datatype": "FP32"},
        output_spec={"name": "y", "shape": [1, 100], "datatype": "FP32"},
        codecs=[{"name": "lz4"}] * 4,
        plan_hash="bench",
        queue_depth=window,
        maxInFlight=64,
    )
    with LocalChain(files) as chain:
        for stage in (1, 2, 3):
            chain.start_stage(stage)
        for stage in (1, 2, 3):
            chain.wait_stage_ready(stage, timeout=300)
        zmq_result = _pipelined(files, xs, window)
        chain.start_dispatcher()
        chain.wait_dispatcher_ready(60)
        http_result = _http(files, xs, window)
    return one, zmq_result, http_result


def _pipelined(files: ChainFiles, xs: Sequence[np.ndarray], window: int) -> ChainResult:
    endpoint = _Endpoint(files.data_ports[0], files.result_port)
    codec = CodecSpec("lz4")
    for i in range(3):
        endpoint.round_trip(Header(10**9 + i, 1, "bench", "1.0.0", 1, codec=codec), xs[i])
    sent_at: dict[int, float] = {}
    latencies = []
    start = time.perf_counter()
    for i, x in enumerate(xs[:window]):
        sent_at[i] = time.perf_counter()
        endpoint.push.send_multipart(encode(Header(i, 1, "bench", "1.0.0", 1, codec=codec), x), copy=False)
    next_index = window
    for _ in range(len(xs)):
        decoded = decode(endpoint.pull.recv_multipart(copy=False))
        assert isinstance(decoded, Decoded), decoded
        latencies.append((time.perf_counter() - sent_at[decoded.header.request_id]) * 1000)
        if next_index < len(xs):
            sent_at[next_index] = time.perf_counter()
            header = Header(next_index, 1, "bench", "1.0.0", 1, codec=codec)
            endpoint.push.send_multipart(encode(header, xs[next_index]), copy=False)
            next_index += 1
    elapsed = time.perf_counter() - start
    endpoint.close()
    return ChainResult(
        f"3-stage chain, ZeroMQ, {window} in flight", len(xs) / elapsed, statistics.median(latencies)
    )


def _http(files: ChainFiles, xs: Sequence[np.ndarray], window: int) -> ChainResult:
    infer(files.url, "tiny", xs[0], input_name="x")

    def timed(x: np.ndarray) -> float:
        return _median_ms(lambda: infer(files.url, "tiny", x, input_name="x"), 1)

    start = time.perf_counter()
    with ThreadPoolExecutor(window) as pool:
        latencies = list(pool.map(timed, xs))
    elapsed = time.perf_counter() - start
    return ChainResult(
        f"3-stage chain via HTTP dispatcher (binary tensors), {window} clients",
        len(xs) / elapsed,
        statistics.median(latencies),
    )


def run_benchmarks(quick: bool = False, work: Path | None = None) -> Results:
    """All three benchmarks; ``quick`` uses fewer repetitions (for CI smoke runs)."""
    repeat, requests = (10, 60) if quick else (50, 300)
    with tempfile.TemporaryDirectory(prefix="seifer-bench-") as tmp:
        base = work or Path(tmp)
        hops = bench_hops(base, (1, 256, 256, 4), repeat)  # 1 MiB of float32
        activation = real_activation()
        codecs, unsqueezed = bench_codecs(activation, repeat)
        chain = bench_chain(base, requests)
    return Results(tuple(activation.shape), hops, codecs, chain, unsqueezed, os.cpu_count() or 1)


def _speed(codec: str, mbps: float) -> str:
    return "zero-copy" if codec == "none" else f"{mbps:.0f}"


def to_markdown(results: Results) -> str:
    """The tables of docs/benchmarks.md."""
    lines = [
        f"Machine: {platform.machine()}, {results.cores} cores (shared), Python {platform.python_version()}.",
        "",
        "### Per-hop overhead, 1 MiB float32 activation (1 x 256 x 256 x 4), loopback, identity stage",
        "",
        "| codec | wire bytes | direct round trip (ms) | via one stage (ms) | per-hop overhead (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {h.codec} | {h.wire_bytes} | {h.direct_ms:.2f} | {h.via_stage_ms:.2f} | {h.overhead_ms:.2f} |"
        for h in results.hops
    ]
    shape = " x ".join(map(str, results.activation_shape))
    lines += [
        "",
        f"### Codecs on a real activation (ReLU conv output {shape} float32, random input)",
        "",
        "| codec | ratio | compress MB/s | decompress MB/s | max abs error |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c.codec} | {c.ratio:.2f} | {_speed(c.codec, c.compress_mbps)} "
        f"| {_speed(c.codec, c.decompress_mbps)} | {c.max_abs_error:.2g} |"
        for c in results.codecs
    ]
    lines += [
        "",
        f"ZFP rate 16 with the batch axis squeezed is {results.squeeze_size_ratio:.2f}x the size of ZFP on "
        "the unsqueezed 4-D array (why the codec squeezes size-1 axes).",
        "",
        "### Chain against one process (small CNN, 64 x 64 x 3 input, 3 stages, lz4 on every hop)",
        "",
        "| setup | requests/s | median latency (ms) |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {c.label} | {c.requests_per_second:.1f} | {c.median_latency_ms:.2f} |" for c in results.chain
    ]
    return "\n".join(lines) + "\n"
