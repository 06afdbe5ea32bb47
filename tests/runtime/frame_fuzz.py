"""Property tests of ``frames.decode`` against hostile input, run as a script in a child process.

zfp (a C library) crashes the whole process on a stream it was not meant to read, so these properties
must not run inside pytest: ``test_frames.py`` runs ``python -m tests.runtime.frame_fuzz`` and a crash
(SIGSEGV, heap corruption abort) fails that test with the child's status instead of killing the runner.

Two families: arbitrary bytes, and structured mutations of valid zfp and lz4 frames whose CRC and length
are recomputed after the mutation, so the mutated payloads get past the checksum and reach the size and
zfp header checks (and, where those pass, the decompressor).
"""

from __future__ import annotations

import json
import sys
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.codecs import CodecSpec
from runtime.frames import MAGIC, Decoded, Expect, Header, Rejected, decode, encode

SHAPE = (1, 6, 5, 3)
CODECS = (
    CodecSpec("lz4"),
    CodecSpec("zfp", mode="rate", rate=8),
    CodecSpec("zfp", mode="rate", rate=0.5),
    CodecSpec("zfp", mode="precision", precision=12),
    CodecSpec("zfp", mode="precision", precision=64),
    CodecSpec("zfp", mode="tolerance", tolerance=1e-3),
    CodecSpec("zfp", mode="reversible"),
)
DTYPES = ("float32", "float64")
FUZZ = settings(
    max_examples=int(sys.argv[1]) if len(sys.argv) > 1 else 300,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def expect(codec: CodecSpec, dtype: str) -> Expect:
    return Expect("plan", "v1", 2, dtype, (-1, *SHAPE[1:]), codec, max_batch=2)


def valid(codec: CodecSpec, dtype: str, seed: int) -> tuple[dict, bytes]:
    array = np.random.default_rng(seed).standard_normal(SHAPE).astype(dtype) * 10.0 ** (seed % 7 - 3)
    head, payload = encode(Header(1, 1, "plan", "v1", 2, codec=codec), array)
    return json.loads(bytes(head[len(MAGIC) :])), bytes(payload)


def framed(meta: dict, payload: bytes) -> list[bytes]:
    meta = {**meta, "len": len(payload), "crc": zlib.crc32(payload)}
    return [MAGIC + json.dumps(meta).encode(), payload]


def check(frames: list[bytes], hop: Expect | None) -> None:
    out = decode(frames, hop)
    assert isinstance(out, Decoded | Rejected), out
    if isinstance(out, Decoded):
        assert out.array.shape == tuple(out.header.shape)


@FUZZ
@given(frames=st.lists(st.binary(max_size=600), max_size=3), codec=st.sampled_from(CODECS))
def arbitrary_bytes(frames: list[bytes], codec: CodecSpec) -> None:
    check(frames, expect(codec, "float32"))
    check(frames, None)


@FUZZ
@given(
    codec=st.sampled_from(CODECS),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 50),
    payload=st.binary(max_size=4000),
    claim=st.sampled_from(CODECS),
)
def any_payload_under_a_real_header(
    codec: CodecSpec, dtype: str, seed: int, payload: bytes, claim: CodecSpec
) -> None:
    """A valid header (own codec or another's claim), any payload, correct length and CRC."""
    meta, _ = valid(codec, dtype, seed)
    meta["codec"] = claim.to_dict()
    check(framed(meta, payload), expect(codec, dtype))
    check(framed(meta, payload), None)


@FUZZ
@given(
    codec=st.sampled_from(CODECS),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 50),
    flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 1 << 20)),
    extend=st.binary(max_size=64),
)
def mutated_streams(
    codec: CodecSpec, dtype: str, seed: int, flips: list[tuple[int, int]], cut: int | None, extend: bytes
) -> None:
    """Bit flips anywhere in a real stream (its zfp header included), truncation and extension."""
    meta, payload = valid(codec, dtype, seed)
    data = bytearray(payload)
    for where, mask in flips:
        if data:
            data[where % len(data)] ^= mask
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    data += extend
    check(framed(meta, bytes(data)), expect(codec, dtype))
    check(framed(meta, bytes(data)), None)


@FUZZ
@given(
    codec=st.sampled_from(CODECS),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 50),
    field=st.sampled_from(["shp", "dt", "codec", "stg", "plan"]),
    shape=st.lists(st.integers(0, 1 << 24), max_size=6),
    other=st.sampled_from(CODECS),
)
def mutated_headers(
    codec: CodecSpec, dtype: str, seed: int, field: str, shape: list[int], other: CodecSpec
) -> None:
    """A real stream behind a header that lies about its shape, dtype, codec or addressee."""
    meta, payload = valid(codec, dtype, seed)
    meta[field] = {
        "shp": shape,
        "dt": "float64" if dtype == "float32" else "float32",
        "codec": other.to_dict(),
        "stg": 3,
        "plan": "other",
    }[field]
    check(framed(meta, payload), expect(codec, dtype))
    check(framed(meta, payload), None)


@FUZZ
@given(
    donor=st.sampled_from(CODECS[1:]),
    codec=st.sampled_from(CODECS[1:]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 50),
    body=st.binary(min_size=0, max_size=2000),
)
def spliced_zfp_headers(donor: CodecSpec, codec: CodecSpec, dtype: str, seed: int, body: bytes) -> None:
    """The first 16 bytes (a real zfp header, another mode's or dtype's) followed by arbitrary bits."""
    _, donor_payload = valid(donor, "float64" if dtype == "float32" else dtype, seed)
    meta, payload = valid(codec, dtype, seed)
    spliced = donor_payload[:16] + body[: max(0, len(payload) - 16)]
    check(framed(meta, spliced), expect(codec, dtype))
    check(framed(meta, spliced), None)


def main() -> int:
    for prop in (
        arbitrary_bytes,
        any_payload_under_a_real_header,
        mutated_streams,
        mutated_headers,
        spliced_zfp_headers,
    ):
        prop()
        print(f"{prop.__name__}: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
