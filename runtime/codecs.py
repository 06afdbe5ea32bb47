"""Payload codecs for activations crossing a hop: none, lz4 and zfp (rate, precision, tolerance, reversible).

Pure functions over numpy arrays and byte buffers, no I/O, so the frame protocol and the benchmark share
them. Two facts shape this module:

* zfpy compresses at most 4-D arrays and an axis of size 1 (the batch axis at b=1) makes its output 2-4x
  bigger and 5x slower, so size-1 axes are squeezed before ZFP and the shape is restored from the frame
  header after decompression (the header carries the true shape, so the codec never has to).
* ZFP only handles float32/float64. A ZFP codec asked to carry any other dtype falls back to lz4 and says
  so in the returned (effective) spec, so the receiver always decodes with what was really used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import lz4.block
import numpy as np
import zfpy

from runtime.zfpstream import ZfpLayout, ZfpStreamError, check_header, field_dims, layout

CODEC_NAMES = ("none", "lz4", "zfp")
ZFP_MODES = ("rate", "precision", "tolerance", "reversible")
_ZFP_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

Buffer = bytes | bytearray | memoryview


class CodecError(ValueError):
    """A payload could not be compressed or decompressed with the given codec."""


@dataclass(frozen=True)
class CodecSpec:
    """One codec with its parameters, as in the stage config: only the chosen ZFP mode's parameter is set."""

    name: str = "none"
    mode: str | None = None
    rate: float | None = None
    precision: int | None = None
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.name not in CODEC_NAMES:
            raise CodecError(f"unknown codec {self.name!r}; expected one of {', '.join(CODEC_NAMES)}")
        if self.name != "zfp":
            if (self.mode, self.rate, self.precision, self.tolerance) != (None, None, None, None):
                raise CodecError(f"codec {self.name!r} takes no parameters")
            return
        if self.mode not in ZFP_MODES:
            raise CodecError(f"zfp mode must be one of {', '.join(ZFP_MODES)}, got {self.mode!r}")
        wanted = {"rate": self.rate, "precision": self.precision, "tolerance": self.tolerance}
        for key, value in wanted.items():
            if key == self.mode and (value is None or not (value > 0 and math.isfinite(value))):
                raise CodecError(f"zfp mode {self.mode!r} needs a positive, finite {key!r}")
            if key == "precision" and key == self.mode and value > 64:
                raise CodecError(f"zfp precision is at most 64, got {value}")
            if key != self.mode and value is not None:
                raise CodecError(f"zfp mode {self.mode!r} does not take {key!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodecSpec:
        """Build from the config / header form ``{"name": "zfp", "mode": "rate", "rate": 16}``."""
        if not isinstance(data, dict):
            raise CodecError("codec must be an object")
        unknown = set(data) - {"name", "mode", "rate", "precision", "tolerance"}
        if unknown:
            raise CodecError(f"unknown codec keys: {', '.join(sorted(unknown))}")
        precision = data.get("precision")
        if precision is not None and (isinstance(precision, bool) or not isinstance(precision, int)):
            raise CodecError("zfp precision must be an integer")
        for key in ("rate", "tolerance"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise CodecError(f"zfp {key} must be a number")
        return cls(
            name=data.get("name", "none"),
            mode=data.get("mode"),
            rate=None if data.get("rate") is None else float(data["rate"]),
            precision=precision,
            tolerance=None if data.get("tolerance") is None else float(data["tolerance"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The compact form, with unset parameters left out."""
        out: dict[str, Any] = {"name": self.name}
        for key in ("mode", "rate", "precision", "tolerance"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


NONE = CodecSpec("none")
LZ4 = CodecSpec("lz4")


def effective_spec(spec: CodecSpec, dtype: np.dtype) -> CodecSpec:
    """The codec really used for ``dtype``: ZFP on a non-float dtype falls back to lz4 (lossless)."""
    if spec.name == "zfp" and np.dtype(dtype) not in _ZFP_DTYPES:
        return LZ4
    return spec


def _zfp_view(array: np.ndarray) -> np.ndarray:
    """Drop size-1 axes and fold leading axes so zfpy sees 1-4 dims; the header keeps the real shape."""
    return np.ascontiguousarray(array.reshape(field_dims(array.shape)))


def zfp_layout(spec: CodecSpec, dtype: np.dtype, shape: tuple[int, ...]) -> ZfpLayout:
    """The zfp stream header and sizes for this codec and tensor; CodecError for a configuration zfp
    cannot code safely (e.g. a rate giving fewer bits per block than an exponent needs)."""
    parameter = {"rate": spec.rate, "precision": spec.precision, "tolerance": spec.tolerance}.get(
        spec.mode or ""
    )
    try:
        return layout(spec.mode or "", parameter, np.dtype(dtype).name, tuple(shape))
    except ZfpStreamError as exc:
        raise CodecError(str(exc)) from exc


def lz4_bound(nbytes: int) -> int:
    """LZ4's worst case for ``nbytes`` of input (LZ4_COMPRESSBOUND): incompressible data grows a little."""
    return nbytes + nbytes // 255 + 16


def payload_bounds(spec: CodecSpec, dtype: np.dtype, shape: tuple[int, ...]) -> tuple[int, int]:
    """(fewest, most) payload bytes a legitimate encoder writes for this effective codec and tensor.

    Exact for ``none`` and fixed-rate zfp; an upper bound for lz4 and the other zfp modes. A frame outside
    these bounds is refused before any decompressor runs.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if spec.name == "none" or nbytes == 0:
        return nbytes, nbytes
    if spec.name == "lz4":
        return 1, lz4_bound(nbytes)
    zfp = zfp_layout(spec, dtype, shape)
    return zfp.min_bytes, zfp.max_bytes


def compress(spec: CodecSpec, array: np.ndarray) -> tuple[CodecSpec, Buffer]:
    """Encode ``array`` (any shape); returns the effective spec and the payload.

    The ``none`` codec returns a memoryview of the array's own buffer (zero-copy, for zmq ``copy=False``).
    """
    spec = effective_spec(spec, array.dtype)
    contiguous = np.ascontiguousarray(array)
    if contiguous.size == 0:  # nothing to compress: every codec sends an empty tensor as none
        return NONE, b""
    if spec.name == "none":
        return spec, memoryview(contiguous.reshape(-1).view(np.uint8))
    if spec.name == "lz4":
        return spec, lz4.block.compress(memoryview(contiguous.reshape(-1).view(np.uint8)), store_size=False)
    zfp_layout(spec, contiguous.dtype, contiguous.shape)  # refuse what zfpy would code unsafely
    view = _zfp_view(contiguous)
    try:
        if spec.mode == "rate":
            payload = zfpy.compress_numpy(view, rate=spec.rate)
        elif spec.mode == "precision":
            payload = zfpy.compress_numpy(view, precision=spec.precision)
        elif spec.mode == "tolerance":
            payload = zfpy.compress_numpy(view, tolerance=spec.tolerance)
        else:
            payload = zfpy.compress_numpy(view)
    except (RuntimeError, ValueError, TypeError) as exc:  # zfpy raises RuntimeError for bad input
        raise CodecError(f"zfp compression failed: {exc}") from exc
    return spec, payload


def decompress(spec: CodecSpec, payload: Buffer, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Decode a payload into an array of ``dtype`` and ``shape``; raises CodecError on any mismatch.

    The ``none`` codec returns a read-only view over ``payload`` (no copy).
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    nbytes = count * dtype.itemsize
    if spec.name == "none":
        if len(memoryview(payload).cast("B")) != nbytes:
            raise CodecError(f"payload has {len(memoryview(payload).cast('B'))} bytes, shape needs {nbytes}")
        return np.frombuffer(payload, dtype=dtype, count=count).reshape(shape)
    if spec.name == "lz4":
        try:
            raw = lz4.block.decompress(payload, uncompressed_size=nbytes)
        except (lz4.block.LZ4BlockError, ValueError) as exc:
            raise CodecError(f"lz4 payload is corrupt: {exc}") from exc
        if len(raw) != nbytes:
            raise CodecError(f"lz4 payload decodes to {len(raw)} bytes, shape needs {nbytes}")
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    if dtype not in _ZFP_DTYPES:
        raise CodecError(f"zfp cannot carry dtype {dtype.name}")
    expected = zfp_layout(spec, dtype, shape)
    size = len(memoryview(payload).cast("B"))
    if not expected.min_bytes <= size <= expected.max_bytes:
        raise CodecError(
            f"zfp payload of {size} bytes; this tensor's stream has {expected.min_bytes}-{expected.max_bytes}"
        )
    mismatch = check_header(payload, expected)
    if mismatch:
        raise CodecError(mismatch)
    # zfp reads whole words and, on a crafted stream, up to its per-block bit budget: hand it a copy
    # padded with zeros to what it can read, so no read ever runs past the end of the buffer.
    padded = bytearray(expected.decode_buffer_bytes)
    padded[:size] = payload
    try:
        out = zfpy.decompress_numpy(bytes(padded))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CodecError(f"zfp payload is corrupt: {exc}") from exc
    if out.dtype != dtype or out.size != count:
        raise CodecError(
            f"zfp payload holds {out.size} x {out.dtype.name}, header says {count} x {dtype.name}"
        )
    return out.reshape(shape)
