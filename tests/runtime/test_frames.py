from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.codecs import CodecSpec
from runtime.frames import MAGIC, REJECT_REASONS, Decoded, Header, Rejected, decode, encode

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
    request_id=st.integers(0, 2**63),
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
        (with_meta(shp=[1 << 20, 1 << 20]), "bad_header"),
        (with_meta(id="x"), "bad_header"),
        (with_meta(att=True), "bad_header"),
        (with_meta(codec={"name": "gzip"}), "bad_header"),
        (with_meta(dl="soon"), "bad_header"),
        (with_meta(shp=[2, 4, 4, 2]), "codec"),
        (with_meta(codec={"name": "none"}), "codec"),
        ([good_frames()[0], good_frames()[1][:-5]], "truncated"),
        ([good_frames()[0], good_frames()[1][:-1] + b"\x00"], "checksum"),
        ([good_frames()[0][:20], good_frames()[1]], "bad_header"),
        ([MAGIC + b"{}" + b" " * 20000, b""], "bad_header"),
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
