"""The zfp stream's own header and sizes, computed without zfp, so a payload is checked before zfpy sees it.

zfpy trusts its input: a crafted or truncated stream, or a stream whose mode codes fewer bits per block
than a block's exponent needs, crashes the process (SIGSEGV or heap corruption). So the frame decoder
computes here, from the tensor the plan expects and the hop's configured codec, the exact header a
legitimate encoder writes and the size its stream can have, and refuses anything else.

The format (zfp 1.0, ``src/zfp.c``: ``zfp_write_header``, ``zfp_field_metadata``, ``zfp_stream_mode``,
``zfp_stream_maximum_size``): a bit stream of 64-bit little-endian words, written least significant bit
first. It starts with 32 bits of magic (``'z' 'f' 'p'`` and the codec version 5), then 52 bits of field
metadata (2 bits scalar type - 1, 2 bits dimensionality - 1, then the sizes - 1 with x the fastest axis:
48 bits in 1-D, 24 bits each in 2-D, 16 in 3-D, 12 in 4-D), then the mode: 12 bits for the common
configurations (fixed rate up to 2048 bits per block, fixed precision, fixed accuracy, reversible), else 64
bits. Blocks of 4^d values follow; the stream is padded to a whole word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ZFP_CODEC_VERSION = 5
MAGIC_BITS, META_BITS, SHORT_MODE_BITS, LONG_MODE_BITS = 32, 52, 12, 64
HEADER_MAX_BITS = MAGIC_BITS + META_BITS + LONG_MODE_BITS
WORD_BITS = 64
MIN_EXP = -1074  # ZFP_MIN_EXP
MAX_PREC = 64  # ZFP_MAX_PREC
MIN_BITS, MAX_BITS = 1, 16658  # ZFP_MIN_BITS, ZFP_MAX_BITS
SCALAR_TYPES = {"float32": 3, "float64": 4}  # zfp_type_float, zfp_type_double
EXPONENT_BITS = {"float32": 1 + 8, "float64": 1 + 11}  # sign + exponent: a fixed-rate block needs this
# What the decoder can read per block of a crafted stream (reversible mode's extra bits included): the
# padded copy handed to zfpy is this long, so no read runs past the end of our buffer.
_DECODE_BLOCK_EXTRA_BITS = {"float32": 1 + 1 + 8 + 5, "float64": 1 + 1 + 11 + 6}
_DIM_BITS = {1: 48, 2: 24, 3: 16, 4: 12}


class ZfpStreamError(ValueError):
    """A zfp configuration the runtime refuses, or a stream whose header is not the expected one."""


def field_dims(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The array zfpy is given (runtime/codecs.py): size-1 axes dropped, leading axes folded to 4-D."""
    dims = [n for n in shape if n != 1] or [1]
    if len(dims) > 4:
        dims = [math.prod(dims[:-3]), *dims[-3:]]
    return tuple(dims)


@dataclass(frozen=True)
class ZfpLayout:
    """What a legitimate stream for one tensor and one zfp configuration looks like."""

    header: int  # the header's value, as the little-endian integer of its first bits
    header_bits: int
    min_bytes: int
    max_bytes: int  # equal to min_bytes in fixed-rate mode: the size is exact
    decode_buffer_bytes: int  # how long the zero-padded copy handed to zfpy must be


def rate_block_bits(rate: float, ndims: int) -> int:
    """Bits per block zfp codes for a fixed ``rate`` (``zfp_stream_set_rate``, unaligned)."""
    return math.floor((1 << (2 * ndims)) * rate + 0.5)


def _mode(mode: str, dtype: str, ndims: int, parameter: float | int | None) -> tuple[int, int, int]:
    """(mode value, its width in bits, bits per block in fixed-rate mode or 0)."""
    if mode == "rate":
        bits = rate_block_bits(float(parameter or 0), ndims)
        if bits < EXPONENT_BITS[dtype]:
            least = EXPONENT_BITS[dtype] / (1 << 2 * ndims)
            raise ZfpStreamError(
                f"zfp rate {parameter} codes {bits} bits per {ndims}-D block of {dtype}; zfp needs at least "
                f"{EXPONENT_BITS[dtype]} (raise the rate to {least:g} or more)"
            )
        if bits <= 2048:
            return bits - 1, SHORT_MODE_BITS, bits
        return _long_mode(bits, bits, MAX_PREC), LONG_MODE_BITS, bits
    if mode == "precision":
        precision = int(parameter or 0)
        if not 1 <= precision <= MAX_PREC:
            raise ZfpStreamError(f"zfp precision must be 1-{MAX_PREC}, got {parameter}")
        if precision == MAX_PREC:  # zfp's defaults: "expert" mode, written in long form
            return _long_mode(MIN_BITS, MAX_BITS, MAX_PREC), LONG_MODE_BITS, 0
        return 2048 + precision - 1, SHORT_MODE_BITS, 0
    if mode == "reversible":
        return 2048 + 128, SHORT_MODE_BITS, 0
    if mode == "tolerance":
        tolerance = float(parameter or 0)
        if not (tolerance > 0 and math.isfinite(tolerance)):
            raise ZfpStreamError(f"zfp tolerance must be a positive finite number, got {parameter}")
        minexp = math.frexp(tolerance)[1] - 1
        if minexp < MIN_EXP or minexp > 843:
            raise ZfpStreamError(f"zfp tolerance {tolerance} is outside what a short zfp header can carry")
        return minexp - MIN_EXP + 2048 + 128 + 1, SHORT_MODE_BITS, 0
    raise ZfpStreamError(f"unknown zfp mode {mode!r}")


def _long_mode(minbits: int, maxbits: int, maxprec: int) -> int:
    """The 64-bit mode of ``zfp_stream_mode`` (minexp is always ZFP_MIN_EXP here)."""
    value = MIN_EXP + 16495
    value = (value << 7) + maxprec - 1
    value = (value << 15) + maxbits - 1
    value = (value << 15) + minbits - 1
    return (value << 12) + 0xFFF


def _metadata(dims: tuple[int, ...], dtype: str) -> int:
    meta = 0
    for n in dims:  # numpy's last axis is zfp's x, the fastest, in the lowest bits
        if not 1 <= n <= 1 << _DIM_BITS[len(dims)]:
            raise ZfpStreamError(f"axis of {n} values does not fit a {len(dims)}-D zfp header")
    for n in dims:
        meta = (meta << _DIM_BITS[len(dims)]) + n - 1
    if len(dims) == 1:
        meta &= (1 << 48) - 1
    meta = (meta << 2) + len(dims) - 1
    return (meta << 2) + SCALAR_TYPES[dtype] - 1


def layout(mode: str, parameter: float | int | None, dtype: str, shape: tuple[int, ...]) -> ZfpLayout:
    """The header and size bounds of the stream zfpy writes for a ``dtype`` tensor of ``shape``."""
    if dtype not in SCALAR_TYPES:
        raise ZfpStreamError(f"zfp cannot carry {dtype}")
    dims = field_dims(shape)
    mode_value, mode_bits, rate_bits = _mode(mode, dtype, len(dims), parameter)
    header_bits = MAGIC_BITS + META_BITS + mode_bits
    magic = int.from_bytes(b"zfp" + bytes([ZFP_CODEC_VERSION]), "little")
    header = magic | (_metadata(dims, dtype) << MAGIC_BITS) | (mode_value << (MAGIC_BITS + META_BITS))
    blocks = math.prod(-(-n // 4) for n in dims)
    values = 1 << (2 * len(dims))
    intprec = 32 if dtype == "float32" else 64
    if rate_bits:
        exact = _words_bytes(header_bits + blocks * rate_bits)
        return ZfpLayout(header, header_bits, exact, exact, exact + 2 * WORD_BITS // 8)
    precision = min(int(parameter), intprec) if mode == "precision" else intprec
    reversible_bits = 1 + 1 + (8 if dtype == "float32" else 11) + (5 if dtype == "float32" else 6)
    block_max = (reversible_bits if mode == "reversible" else EXPONENT_BITS[dtype]) + values - 1
    block_max += values * precision
    decode_block = _DECODE_BLOCK_EXTRA_BITS[dtype] + intprec * (values + 1) + values
    return ZfpLayout(
        header,
        header_bits,
        _words_bytes(header_bits),
        _words_bytes(HEADER_MAX_BITS + blocks * block_max),
        _words_bytes(HEADER_MAX_BITS + blocks * decode_block) + 2 * WORD_BITS // 8,
    )


def _words_bytes(bits: int) -> int:
    return -(-bits // WORD_BITS) * WORD_BITS // 8


def check_header(payload: bytes | memoryview, expected: ZfpLayout) -> str | None:
    """None if the stream starts with exactly the expected header, else what differs (for the log)."""
    head = bytes(payload[: _words_bytes(expected.header_bits)])
    if len(head) * 8 < expected.header_bits:
        return f"zfp stream of {len(head)} bytes is shorter than its header"
    value = int.from_bytes(head, "little") & ((1 << expected.header_bits) - 1)
    if value == expected.header:
        return None
    fields = (("magic", 0, MAGIC_BITS), ("field (type, dims)", MAGIC_BITS, META_BITS))
    for name, start, width in (*fields, ("mode", MAGIC_BITS + META_BITS, expected.header_bits - 84)):
        mask = (1 << width) - 1
        if (value >> start) & mask != (expected.header >> start) & mask:
            return f"zfp stream's {name} differs from what this hop expects"
    return "zfp stream header differs from what this hop expects"
