"""Sans-IO frame protocol between dispatcher and stages (h11 style: pure functions, no sockets).

A message is two ZeroMQ frames:

* frame 0, the header: the 5 bytes ``b"SEIF\\x01"`` (magic + protocol version) followed by a compact JSON
  object (about 200 bytes). JSON, not struct: the plan hash and model version are strings of any length,
  the header stays readable in a packet capture and new optional keys do not break old readers, and its
  cost (tens of microseconds) is noise next to an activation of hundreds of KiB crossing a Wi-Fi link.
  The magic rejects foreign traffic before any parsing.
* frame 1, the payload: the activation encoded with the codec named in the header. The header records the
  payload's length and CRC32, so a truncated or corrupted payload is rejected before any decompressor
  (zfp trusts its input) sees it; CRC32 runs at about 3 GB/s, 0.3 ms per MiB.

The receiver decodes against an ``Expect`` built from its own config, never from the frame: a frame of
another plan, version or stage is refused before its payload is looked at, and the tensor, codec and
payload size a hop accepts are what the plan computed for that hop (runtime/zfpstream.py checks a zfp
stream's own header too), so no crafted frame makes a stage allocate more than its tensor or hands a
decompressor bytes it has not checked.

``decode`` never raises: anything malformed, foreign or truncated becomes ``Rejected(reason, detail)``
with ``reason`` from a small fixed set, usable as a metrics label.

Rollouts: the dispatcher sends its input frames *version-free* (empty plan and version) unless its config
pins a version; stage 1 accepts those (the input is the model's own, the same for every version, and its
tensor is checked as always) and stamps its own plan and version on what it sends on, so every later hop
still refuses activations of another chain. A *notice* is a third kind of message: one frame,
``b"SEIN\x01"`` + a small JSON object, that a stage sends on when it is stopped on purpose (SIGTERM: a
rollout or a rescheduling replaces it) and every stage relays unchanged, so it reaches the dispatcher,
which then holds requests while the chain changes instead of refusing them (runtime/dispatcher.py).
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from runtime.codecs import (
    NONE,
    Buffer,
    CodecError,
    CodecSpec,
    compress,
    decompress,
    effective_spec,
    payload_bounds,
)
from runtime.config import TensorSpec

MAGIC = b"SEIF\x01"
NOTICE_MAGIC = b"SEIN\x01"
MAX_NOTICE_BYTES = 512
UNBOUND = ""  # plan and version of a version-free input frame (configs require non-empty ones)
NOTICE_KINDS = ("leaving",)
MAX_HEADER_BYTES = 4 * 1024  # a real header is about 200 bytes
MAX_PAYLOAD_BYTES = 1 << 31  # without an expectation (tools), a tensor larger than 2 GiB is refused
DTYPES = (
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
)
REJECT_REASONS = (
    "frame_count",
    "bad_magic",
    "bad_header",
    "plan_hash",
    "model_version",
    "wrong_stage",
    "expired",
    "tensor",
    "codec",
    "size",
    "truncated",
    "checksum",
    "run_error",
)


@dataclass(frozen=True)
class Header:
    """What travels with every activation.

    ``stage`` is the index of the stage that must process the payload (the dispatcher sends 1, stage i
    sends i+1, so the dispatcher receives stages+1). ``deadline`` is a Unix time after which nobody
    wants the result any more (0 = none); stages drop work well past it (allowing for clock skew) instead
    of computing it.
    ``dtype``/``shape``/``codec`` describe the payload and are filled in by ``encode``.
    """

    request_id: int
    attempt: int
    plan_hash: str
    model_version: str
    stage: int
    dtype: str = "float32"
    shape: tuple[int, ...] = ()
    codec: CodecSpec = field(default_factory=lambda: NONE)
    deadline: float = 0.0


@dataclass(frozen=True)
class Expect:
    """What one hop accepts, from its config: who may send (plan, version, stage index) and what (the
    tensor the plan computes for the hop, coded with the hop's configured codec).

    ``-1`` as the first axis of ``shape`` admits a batch of 1 to ``max_batch``; the batch is otherwise
    fixed by the shape. The payload's size is then known (exactly for ``none`` and fixed-rate zfp, as a
    bound for lz4 and the other zfp modes) before a byte of it is decoded.
    """

    plan_hash: str | None  # None: any (a version-free dispatcher accepts every chain's results)
    model_version: str | None
    stage: int
    dtype: str
    shape: tuple[int, ...]
    codec: CodecSpec
    max_batch: int = 1
    accept_unbound: bool = False  # stage 1: also accept version-free input frames (UNBOUND plan and version)

    def shape_error(self, shape: tuple[int, ...]) -> str | None:
        expected = self.shape
        if len(shape) != len(expected):
            return f"tensor of shape {list(shape)}; this hop carries {list(expected)}"
        for axis, (got, want) in enumerate(zip(shape, expected, strict=True)):
            if axis == 0 and want == -1:
                if not 1 <= got <= self.max_batch:
                    return f"batch of {got}; this hop admits 1 to {self.max_batch}"
            elif got != want:
                return f"tensor of shape {list(shape)}; this hop carries {list(expected)}"
        return None

    def codec_for(self, dtype: str, shape: tuple[int, ...]) -> CodecSpec:
        """The codec an honest sender used: the configured one as effective for the dtype (and none for
        an empty tensor, which has nothing to compress)."""
        if 0 in shape:
            return NONE
        return effective_spec(self.codec, np.dtype(dtype))


def expect_tensor(
    plan_hash: str | None,
    model_version: str | None,
    stage: int,
    tensor: TensorSpec,
    codec: CodecSpec,
    max_batch: int,
    accept_unbound: bool = False,
) -> Expect:
    """The expectation of a hop that carries ``tensor`` (from a stage or dispatcher config)."""
    return Expect(
        plan_hash, model_version, stage, tensor.dtype, tensor.shape, codec, max_batch, accept_unbound
    )


@dataclass(frozen=True)
class Decoded:
    header: Header
    array: np.ndarray


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str = ""


def encode(header: Header, array: np.ndarray) -> list[Buffer]:
    """Frames for ``array``: dtype, shape and the effective codec are taken from the array, not the caller.

    The payload of the ``none`` codec is a view of ``array`` (send it with zmq ``copy=False``).
    """
    array = np.asarray(array)
    if array.dtype.name not in DTYPES:
        raise ValueError(f"dtype {array.dtype.name} cannot be framed; supported: {', '.join(DTYPES)}")
    codec, payload = compress(header.codec, array)
    view = memoryview(payload).cast("B") if not isinstance(payload, bytes) else payload
    meta = {
        "id": header.request_id,
        "att": header.attempt,
        "plan": header.plan_hash,
        "ver": header.model_version,
        "stg": header.stage,
        "dt": array.dtype.name,
        "shp": list(array.shape),
        "codec": codec.to_dict(),
        "dl": header.deadline,
        "len": len(view),
        "crc": zlib.crc32(view),
    }
    return [MAGIC + json.dumps(meta, separators=(",", ":")).encode(), view]


def _as_bytes_view(frame: Any) -> memoryview:
    view = frame.buffer if hasattr(frame, "buffer") else memoryview(frame)
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(raw: memoryview) -> dict[str, Any] | Rejected:
    """The header's fields, type-checked; nothing about the payload is looked at yet."""
    try:
        meta = json.loads(bytes(raw[len(MAGIC) :]))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejected("bad_header", f"header is not JSON: {type(exc).__name__}")
    if not isinstance(meta, dict):
        return Rejected("bad_header", "header is not a JSON object")
    missing = {"id", "att", "plan", "ver", "stg", "dt", "shp", "codec", "len", "crc"} - set(meta)
    if missing:
        return Rejected("bad_header", f"header lacks {', '.join(sorted(missing))}")
    ints = ("id", "att", "stg", "len", "crc")
    if not all(_is_int(meta[k]) and 0 <= meta[k] < 1 << 63 for k in ints):
        return Rejected("bad_header", "id, att, stg, len and crc must be integers in [0, 2^63)")
    if not isinstance(meta["plan"], str) or not isinstance(meta["ver"], str):
        return Rejected("bad_header", "plan and ver must be strings")
    deadline = meta.get("dl", 0.0)
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not math.isfinite(deadline):
        return Rejected("bad_header", "dl must be a finite number")
    if meta["dt"] not in DTYPES:
        return Rejected("bad_header", "unsupported dtype")
    shape = meta["shp"]
    if not isinstance(shape, list) or len(shape) > 32 or not all(_is_int(n) and n >= 0 for n in shape):
        return Rejected("bad_header", "shp must be a list of at most 32 non-negative integers")
    if not isinstance(meta["codec"], dict):
        return Rejected("bad_header", "codec must be an object")
    return meta


def _identity(meta: dict[str, Any], expect: Expect, not_after: float | None) -> Rejected | None:
    unbound = expect.accept_unbound and meta["plan"] == UNBOUND and meta["ver"] == UNBOUND
    if not unbound and expect.plan_hash is not None and meta["plan"] != expect.plan_hash:
        return Rejected("plan_hash", f"frame plan {meta['plan'][:12]!r} != {expect.plan_hash[:12]!r}")
    if not unbound and expect.model_version is not None and meta["ver"] != expect.model_version:
        return Rejected("model_version", f"frame version {meta['ver'][:40]!r} != {expect.model_version!r}")
    if meta["stg"] != expect.stage:
        return Rejected("wrong_stage", f"frame is for stage {meta['stg']}, this hop is {expect.stage}")
    deadline = float(meta.get("dl", 0.0))
    if not_after is not None and deadline and deadline < not_after:
        return Rejected("expired", f"request {meta['id']} passed its deadline")
    return None


def _trusting(meta: dict[str, Any]) -> Expect | Rejected:
    """Without a hop's config (tools, tests): the header's own claims, bounded in size, become the
    expectation, so the payload is still checked against them before it is decoded."""
    shape = tuple(meta["shp"])
    if math.prod(shape) * np.dtype(meta["dt"]).itemsize > MAX_PAYLOAD_BYTES:
        return Rejected("size", f"tensor {list(shape)} exceeds {MAX_PAYLOAD_BYTES} bytes")
    try:
        codec = CodecSpec.from_dict(meta["codec"])
    except CodecError as exc:
        return Rejected("codec", str(exc))
    return Expect(meta["plan"], meta["ver"], meta["stg"], meta["dt"], shape, codec)


def decode(
    frames: Sequence[Any], expect: Expect | None = None, not_after: float | None = None
) -> Decoded | Rejected:
    """Check one message against what this hop expects, then decode it; never raises.

    The order is the defence: frame count and header size, magic, header fields, then identity (plan,
    version, stage, deadline not before ``not_after``), then the tensor (dtype, shape, batch) and codec
    against ``expect``, then the payload's length against the size the plan computes for that tensor and
    codec, its CRC, and for zfp the stream's own header. Only then does a decompressor see a byte.
    ``expect=None`` (tools and tests only) takes the header's own claims as the expectation.
    """
    try:
        if len(frames) != 2:
            return Rejected("frame_count", f"expected 2 frames, got {len(frames)}")
        raw, payload = _as_bytes_view(frames[0]), _as_bytes_view(frames[1])
        if bytes(raw[: len(MAGIC)]) != MAGIC:
            return Rejected("bad_magic", "not a SEIFER frame (or another protocol version)")
        if len(raw) > MAX_HEADER_BYTES:
            return Rejected("bad_header", f"header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}")
        meta = _parse_header(raw)
        if isinstance(meta, Rejected):
            return meta
        if expect is None:
            trusted = _trusting(meta)
            if isinstance(trusted, Rejected):
                return trusted
            expect = trusted
        refused = _identity(meta, expect, not_after)
        if refused:
            return refused
        shape, dtype = tuple(meta["shp"]), meta["dt"]
        if dtype != expect.dtype:
            return Rejected("tensor", f"tensor of {dtype}; this hop carries {expect.dtype}")
        wrong_shape = expect.shape_error(shape)
        if wrong_shape:
            return Rejected("tensor", wrong_shape)
        codec = expect.codec_for(dtype, shape)
        if meta["codec"] != codec.to_dict():
            return Rejected(
                "codec", f"frame codec {meta['codec']}; this hop is configured for {codec.to_dict()}"
            )
        try:
            fewest, most = payload_bounds(codec, np.dtype(dtype), shape)
        except CodecError as exc:
            return Rejected("codec", str(exc))
        if len(payload) != meta["len"]:
            return Rejected("truncated", f"payload has {len(payload)} bytes, header says {meta['len']}")
        if not fewest <= len(payload) <= most:
            return Rejected("size", f"payload of {len(payload)} bytes; this tensor takes {fewest}-{most}")
        if zlib.crc32(payload) != meta["crc"]:
            return Rejected("checksum", "payload CRC32 does not match the header")
        header = Header(
            request_id=meta["id"],
            attempt=meta["att"],
            plan_hash=meta["plan"],
            model_version=meta["ver"],
            stage=meta["stg"],
            dtype=dtype,
            shape=shape,
            codec=codec,
            deadline=float(meta.get("dl", 0.0)),
        )
        try:
            array = decompress(codec, payload, np.dtype(dtype), shape)
        except CodecError as exc:
            return Rejected("codec", str(exc))
        return Decoded(header, array)
    except Exception as exc:  # a bug here must cost one frame, not the process
        return Rejected("bad_header", f"{type(exc).__name__}: {exc}")


def reply_header(
    header: Header,
    stage: int,
    codec: CodecSpec,
    plan_hash: str | None = None,
    model_version: str | None = None,
) -> Header:
    """The header a stage sends on: same request, attempt and deadline; next stage; its own codec; and its
    own plan and version when given (stage 1 stamps a version-free input frame with them)."""
    return replace(
        header,
        stage=stage,
        codec=codec,
        plan_hash=header.plan_hash if plan_hash is None else plan_hash,
        model_version=header.model_version if model_version is None else model_version,
    )


@dataclass(frozen=True)
class Notice:
    """A stage telling the dispatcher, through the stages after it, that it is stopping on purpose."""

    kind: str
    stage: int
    plan_hash: str
    model_version: str


def encode_notice(notice: Notice) -> list[bytes]:
    """One frame: the notice magic and a compact JSON object."""
    meta = {"kind": notice.kind, "stg": notice.stage, "plan": notice.plan_hash, "ver": notice.model_version}
    return [NOTICE_MAGIC + json.dumps(meta, separators=(",", ":")).encode()]


def decode_notice(frames: Sequence[Any]) -> Notice | Rejected | None:
    """A notice, ``Rejected`` for a malformed one, or None when the message is not a notice (an activation
    goes on to ``decode``); never raises."""
    try:
        if len(frames) != 1:
            return None
        raw = _as_bytes_view(frames[0])
        if bytes(raw[: len(NOTICE_MAGIC)]) != NOTICE_MAGIC:
            return None
        if len(raw) > MAX_NOTICE_BYTES:
            return Rejected("bad_header", f"notice of {len(raw)} bytes exceeds {MAX_NOTICE_BYTES}")
        meta = json.loads(bytes(raw[len(NOTICE_MAGIC) :]))
        if not isinstance(meta, dict) or set(meta) != {"kind", "stg", "plan", "ver"}:
            return Rejected("bad_header", "a notice has exactly kind, stg, plan and ver")
        if meta["kind"] not in NOTICE_KINDS or not _is_int(meta["stg"]) or not 0 < meta["stg"] < 1 << 16:
            return Rejected("bad_header", "notice kind or stage out of range")
        if not isinstance(meta["plan"], str) or not isinstance(meta["ver"], str):
            return Rejected("bad_header", "notice plan and ver must be strings")
        return Notice(meta["kind"], meta["stg"], meta["plan"], meta["ver"])
    except Exception as exc:  # malformed JSON, bad UTF-8: one dropped message, never the process
        return Rejected("bad_header", f"notice: {type(exc).__name__}")
