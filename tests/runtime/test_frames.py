from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.codecs import CodecSpec
from runtime.frames import MAGIC, REJECT_REASONS, Decoded, Expect, Header, Rejected, decode, encode

CODECS = [CodecSpec("none"), CodecSpec("lz4"), CodecSpec("zfp", mode="reversible")]


def header(**kw: object) -> Header:
    base = {"request_id": 42, "attempt": 1, "plan_hash": "abc123", "model_version": "1.0.0", "stage": 2}
    return Header(**{**base, **kw})  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(["float32", "float64", "float16", "int8", "int64", "uint8", "bool"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6),
    ),
    codec=st.sampled_from(CODECS),
    request_id=st.integers(0, 2**63 - 1),  # ids are below 2^63 (bounded in the header)
    attempt=st.integers(1, 100),
)
def test_round_trip(array: np.ndarray, codec: CodecSpec, request_id: int, attempt: int) -> None:
    frames = encode(header(request_id=request_id, attempt=attempt, codec=codec, deadline=12.5), array)
    out = decode(frames)
    assert isinstance(out, Decoded), out
    np.testing.assert_array_equal(out.array, array)
    assert out.array.dtype == array.dtype and out.array.shape == array.shape
    h = out.header
    assert (h.request_id, h.attempt, h.plan_hash, h.model_version, h.stage, h.deadline) == (
        request_id,
        attempt,
        "abc123",
        "1.0.0",
        2,
        12.5,
    )


def test_header_is_compact_and_reports_effective_codec() -> None:
    frames = encode(header(codec=CodecSpec("zfp", mode="rate", rate=8)), np.zeros((1, 3), np.int32))
    assert frames[0].startswith(MAGIC) and len(frames[0]) < 300
    meta = json.loads(bytes(frames[0][len(MAGIC) :]))
    assert meta["codec"] == {"name": "lz4"}  # zfp cannot carry int32


def test_decode_accepts_zmq_frames_and_memoryviews() -> None:
    import zmq

    frames = encode(header(), np.arange(6, dtype=np.float32).reshape(2, 3))
    as_zmq = [zmq.Frame(bytes(f)) for f in frames]
    assert isinstance(decode(as_zmq), Decoded)
    assert isinstance(decode([memoryview(bytes(f)) for f in frames]), Decoded)


def good_frames() -> list[bytes]:
    array = np.random.default_rng(0).standard_normal((1, 4, 4, 2)).astype(np.float32)
    return [bytes(f) for f in encode(header(codec=CodecSpec("lz4")), array)]


def with_meta(**changes: object) -> list[bytes]:
    head, payload = good_frames()
    meta = json.loads(head[len(MAGIC) :])
    meta.update(changes)
    return [MAGIC + json.dumps(meta).encode(), payload]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([], "frame_count"),
        ([b"hello"], "frame_count"),
        ([b"GET / HTTP/1.1\r\n", b""], "bad_magic"),
        ([b"SEIF\x02{}", b""], "bad_magic"),
        ([MAGIC + b"{not json", b""], "bad_header"),
        ([MAGIC + b"[1,2]", b""], "bad_header"),
        ([MAGIC + b"\xff\xfe", b""], "bad_header"),
        (with_meta(dt="complex128"), "bad_header"),
        (with_meta(shp=[-1, 4]), "bad_header"),
        (with_meta(shp=[1 << 20, 1 << 20]), "size"),
        (with_meta(id="x"), "bad_header"),
        (with_meta(att=True), "bad_header"),
        (with_meta(codec={"name": "gzip"}), "codec"),
        (with_meta(codec=[]), "bad_header"),
        (with_meta(dl=float("inf")), "bad_header"),
        (with_meta(id=1 << 70), "bad_header"),
        (with_meta(dl="soon"), "bad_header"),
        (with_meta(shp=[2, 4, 4, 2]), "codec"),
        (with_meta(codec={"name": "none"}), "size"),
        ([good_frames()[0], good_frames()[1][:-5]], "truncated"),
        ([good_frames()[0], good_frames()[1][:-1] + b"\x00"], "checksum"),
        ([good_frames()[0][:20], good_frames()[1]], "bad_header"),
        ([MAGIC + b"{}" + b" " * 20000, b""], "bad_header"),
        ([MAGIC + b"[" * 4000, b""], "bad_header"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(frames: list[bytes], reason: str) -> None:
    out = decode(frames)
    assert isinstance(out, Rejected), out
    assert out.reason == reason, out
    assert out.reason in REJECT_REASONS


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(st.binary(max_size=300), max_size=4))
def test_random_bytes_never_raise(frames: list[bytes]) -> None:
    assert isinstance(decode(frames), Rejected)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 10_000), which=st.integers(0, 1), flip=st.integers(0, 10_000))
def test_truncated_or_flipped_real_frames_never_raise(cut: int, which: int, flip: int) -> None:
    frames = [bytearray(f) for f in good_frames()]
    target = frames[which]
    if target:
        target[flip % len(target)] ^= 0x5A
    frames[which] = target[: cut % (len(target) + 1)]
    out = decode([bytes(f) for f in frames])
    assert isinstance(out, Decoded | Rejected)


HOP = Expect("abc123", "1.0.0", 2, "float32", (-1, 4, 4, 2), CodecSpec("lz4"), max_batch=2)


def test_round_trip_against_the_hops_expectation() -> None:
    for batch in (1, 2):
        array = np.random.default_rng(batch).standard_normal((batch, 4, 4, 2)).astype(np.float32)
        out = decode(encode(header(codec=CodecSpec("lz4")), array), HOP)
        assert isinstance(out, Decoded), out
        np.testing.assert_array_equal(out.array, array)


@pytest.mark.parametrize(
    ("kw", "array", "reason"),
    [
        ({"plan_hash": "other"}, np.zeros((1, 4, 4, 2), np.float32), "plan_hash"),
        ({"model_version": "2"}, np.zeros((1, 4, 4, 2), np.float32), "model_version"),
        ({"stage": 3}, np.zeros((1, 4, 4, 2), np.float32), "wrong_stage"),
        ({"deadline": 5.0}, np.zeros((1, 4, 4, 2), np.float32), "expired"),
        ({}, np.zeros((3, 4, 4, 2), np.float32), "tensor"),  # batch beyond maxBatch
        ({}, np.zeros((1, 4, 4, 3), np.float32), "tensor"),
        ({}, np.zeros((1, 4, 4, 2), np.float64), "tensor"),
        ({"codec": CodecSpec("none")}, np.zeros((1, 4, 4, 2), np.float32), "codec"),
        ({"codec": CodecSpec("zfp", mode="reversible")}, np.zeros((1, 4, 4, 2), np.float32), "codec"),
    ],
)
def test_frames_outside_the_hops_expectation_are_refused(kw: dict, array: np.ndarray, reason: str) -> None:
    out = decode(encode(header(**{"codec": CodecSpec("lz4"), **kw}), array), HOP, not_after=10.0)
    assert isinstance(out, Rejected) and out.reason == reason, out


def test_a_declared_huge_tensor_is_refused_without_allocating_it() -> None:
    """The issue's attack: 6 MB of lz4 declaring a 1.5 GiB tensor made a stage allocate 3 GiB."""
    payload = lz4.block.compress(bytes(6 << 20), store_size=False)
    meta = {"id": 1, "att": 1, "plan": "abc123", "ver": "1.0.0", "stg": 2, "dt": "float32"}
    meta.update(shp=[1, 1 << 14, 1 << 14, 2], codec={"name": "lz4"})
    meta.update(len=len(payload), crc=zlib.crc32(payload))
    frames = [MAGIC + json.dumps(meta).encode(), payload]
    tracemalloc.start()
    for hop in (HOP, replace(HOP, plan_hash="foreign")):
        out = decode(frames, hop)
        assert isinstance(out, Rejected) and out.reason in ("tensor", "plan_hash")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


def test_zfp_crash_frames_are_refused_in_a_child_process() -> None:
    """A crafted zfp stream (a real header over 64 bytes of noise) sent to an lz4 hop, to a zfp hop of
    another shape and to a zfp hop with the frame's own claims: refused each time, and no crash."""
    code = """
import json, zlib, numpy as np, zfpy
from runtime.codecs import CodecSpec
from runtime.frames import MAGIC, Expect, decode
stream = zfpy.compress_numpy(np.ones((64, 64), np.float32), rate=8)[:16] + bytes(range(64))
meta = {"id": 1, "att": 1, "plan": "x", "ver": "v", "stg": 1, "dt": "float32", "shp": [64, 64],
        "codec": {"name": "zfp", "mode": "rate", "rate": 8.0}, "len": len(stream), "crc": zlib.crc32(stream)}
frames = [MAGIC + json.dumps(meta).encode(), stream]
rate8 = CodecSpec("zfp", mode="rate", rate=8)
for hop in (Expect("x", "v", 1, "float32", (64, 64), CodecSpec("lz4")),
            Expect("x", "v", 1, "float32", (1, 4096), rate8),
            Expect("x", "v", 1, "float32", (64, 64), rate8), None):
    out = decode(frames, hop)
    print(type(out).__name__, getattr(out, "reason", ""))
# a whole, real 64x64 stream claimed as [1, 4096]: the same length, but its zfp header says 2-D 64x64
real = zfpy.compress_numpy(np.ones((64, 64), np.float32), rate=8)
meta.update(shp=[1, 4096], len=len(real), crc=zlib.crc32(real))
out = decode([MAGIC + json.dumps(meta).encode(), real], Expect("x", "v", 1, "float32", (1, 4096), rate8))
print(type(out).__name__, getattr(out, "reason", ""), out.detail)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[:4] == ["Rejected codec", "Rejected tensor", "Rejected size", "Rejected size"], lines
    assert lines[4].startswith("Rejected codec") and "field" in lines[4], lines


def test_property_fuzz_in_a_child_process() -> None:
    """Hypothesis over arbitrary bytes and mutated zfp/lz4 frames (tests/runtime/frame_fuzz.py), in a
    child so a crash in zfp fails this test instead of killing pytest."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.runtime.frame_fuzz", "200"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert done.returncode == 0, f"fuzz child exited {done.returncode}: {done.stderr[-3000:]}"
    assert done.stdout.count(": ok") == 5, done.stdout


def test_garbage_payload_behind_valid_header_is_rejected_not_crashing() -> None:
    """zfp trusts its input: garbage must be stopped by the length/CRC check before it gets there."""
    array = np.ones((8, 8), np.float32)
    head, payload = encode(header(codec=CodecSpec("zfp", mode="rate", rate=8)), array)
    for _ in range(50):
        noise = os.urandom(len(payload))
        assert isinstance(decode([head, noise]), Rejected)


def test_not_framable_dtype() -> None:
    with pytest.raises(ValueError, match="cannot be framed"):
        encode(header(), np.zeros(2, np.complex64))


def test_a_notice_round_trips_and_is_never_an_activation() -> None:
    from runtime.frames import Notice, decode_notice, encode_notice

    notice = Notice("leaving", 2, "plan-a", "1.0.0")
    frames = encode_notice(notice)
    assert len(frames) == 1 and decode_notice(frames) == notice
    assert decode(frames).reason == "frame_count"  # an activation reader refuses it
    activation = encode(Header(1, 1, "plan-a", "1.0.0", 1), np.zeros((1, 4), np.float32))
    assert decode_notice(activation) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"SEIN\x01not json",
        b'SEIN\x01{"kind": "leaving"}',
        b'SEIN\x01{"kind": "arriving", "stg": 1, "plan": "p", "ver": "v"}',
        b'SEIN\x01{"kind": "leaving", "stg": 0, "plan": "p", "ver": "v"}',
        b'SEIN\x01{"kind": "leaving", "stg": 1, "plan": 5, "ver": "v"}',
        b'SEIN\x01{"kind": "leaving", "stg": 1, "plan": "p", "ver": "' + b"v" * 600 + b'"}',
    ],
)
def test_a_malformed_notice_is_rejected(raw: bytes) -> None:
    from runtime.frames import decode_notice

    refused = decode_notice([raw])
    assert isinstance(refused, Rejected) and refused.reason == "bad_header"


def test_version_free_input_is_accepted_only_where_the_hop_allows_it() -> None:
    from runtime.frames import UNBOUND

    frames = encode(Header(1, 1, UNBOUND, UNBOUND, 1), np.zeros((1, 4), np.float32))
    strict = Expect("plan-a", "1.0.0", 1, "float32", (1, 4), CodecSpec("none"))
    assert decode(frames, strict).reason == "plan_hash"
    assert isinstance(decode(frames, replace(strict, accept_unbound=True)), Decoded)
    # half-bound frames are foreign, not version-free
    half = encode(Header(1, 1, UNBOUND, "1.0.0", 1), np.zeros((1, 4), np.float32))
    assert decode(half, replace(strict, accept_unbound=True)).reason == "plan_hash"
    # a version-free dispatcher takes results of any chain, but still only its tensor
    anyone = Expect(None, None, 1, "float32", (1, 4), CodecSpec("none"))
    other = encode(Header(1, 1, "plan-b", "2.0.0", 1), np.zeros((1, 4), np.float32))
    assert isinstance(decode(other, anyone), Decoded)
    assert decode(encode(Header(1, 1, "p", "v", 1), np.zeros((1, 5), np.float32)), anyone).reason == "tensor"
