"""Parse the spec's human units once, with errors that say what would have been right.

Each parser returns a value or raises UnitError whose message completes the sentence
'<field>: "<text>" ...', so the loader can name the field.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"(?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+)"

_SIZE_UNITS = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_BANDWIDTH_UNITS = {
    "bps": 1,
    "kbps": 1e3,
    "Kbps": 1e3,
    "Mbps": 1e6,
    "Gbps": 1e9,
    "B/s": 8,
    "KB/s": 8e3,
    "kB/s": 8e3,
    "MB/s": 8e6,
    "GB/s": 8e9,
    "KiB/s": 8 * 1024,
    "MiB/s": 8 * 1024**2,
    "GiB/s": 8 * 1024**3,
}
_DURATION_UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0}
_FLOPS_UNITS = {"FLOPS": 1, "KFLOPS": 1e3, "MFLOPS": 1e6, "GFLOPS": 1e9, "TFLOPS": 1e12}


# Bounds that keep every later sum and product finite and exact (sizes stay below 2**53, so a float holds
# them exactly); anything outside is a typo, not a device.
MAX_SIZE_BYTES = 2**53  # 8 PiB
MIN_BITS_PER_S, MAX_BITS_PER_S = 1.0, 1e15  # 1 bps .. 1 Pbps
MIN_FLOPS, MAX_FLOPS = 1.0, 1e18  # 1 FLOP/s .. 1 EFLOP/s


def shown(value: object, limit: int = 40) -> str:
    """A value quoted in a message: cut short and on one line (a 5 MB string or a newline in a node name
    is still one line to read), control characters written as escapes."""
    text = str(value)[: limit + 1]
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UnitError(ValueError):
    """A value that does not parse; str() is the tail of a field message."""


def _split(text: str) -> tuple[float, str] | None:
    match = re.fullmatch(_NUMBER + r"\s*(?P<unit>[A-Za-z/]*)", text.strip())
    if not match:
        return None
    return float(match.group("num")), match.group("unit")


def _positive(value: float, text: object, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UnitError(f'"{shown(text)}" must be a positive {what}')
    return value


def _within(value: float, text: object, what: str, low: float, high: float, allowed: str) -> float:
    _positive(value, text, what)
    if not low <= value <= high:
        raise UnitError(f'"{shown(text)}" is outside the {what}s SEIFER plans for ({allowed})')
    return value


def check_bandwidth(bits_per_s: float, text: object) -> float:
    return _within(bits_per_s, text, "bandwidth", MIN_BITS_PER_S, MAX_BITS_PER_S, "1bps to 1000000Gbps")


def check_flops(flops_per_s: float, text: object) -> float:
    return _within(flops_per_s, text, "speed", MIN_FLOPS, MAX_FLOPS, "1FLOPS to 1000000000GFLOPS")


def _size(count: float, text: object) -> int:
    if abs(count) > MAX_SIZE_BYTES:
        raise UnitError(f'"{shown(text)}" is larger than 8 PiB; write a size a device can have')
    return round(count)


def parse_size(value: object) -> int:
    """Bytes from an integer or a Kubernetes quantity ("512Mi", "1Gi", "300M")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnitError(f'"{shown(value)}" is not a size; write bytes or a quantity like 512Mi or 1Gi')
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise UnitError(f'"{shown(value)}" is not a finite size')
        return _size(value, value)
    parsed = _split(value)
    if parsed is None or parsed[1] not in _SIZE_UNITS:
        hint = ""
        if parsed and parsed[1].lower().endswith("b"):
            hint = " (sizes are in bytes: 512Mi, not 512Mb or 512MB)"
        raise UnitError(f'"{shown(value)}" is not a size; use Ki, Mi, Gi (or k, M, G){hint}')
    number, unit = parsed
    if not math.isfinite(number * _SIZE_UNITS[unit]):
        raise UnitError(f'"{shown(value)}" is not a finite size')
    return _size(number * _SIZE_UNITS[unit], value)


def parse_bandwidth(value: object) -> float:
    """Bits per second from a number (bits/s) or "6.5Mbps", "1Gbps", "2MB/s"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnitError(f'"{shown(value)}" is not a bandwidth; write it like 6.5Mbps or 1Gbps')
    if isinstance(value, (int, float)):
        return check_bandwidth(float(value), value)
    parsed = _split(value)
    if parsed is None or parsed[1] not in _BANDWIDTH_UNITS:
        raise UnitError(
            f'"{shown(value)}" is not a bandwidth; use bps, Kbps, Mbps, Gbps (bits) or KB/s, MB/s (bytes)'
        )
    number, unit = parsed
    return check_bandwidth(number * _BANDWIDTH_UNITS[unit], value)


def parse_duration(value: object) -> float:
    """Seconds from a number or "2s", "500ms", "1m"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnitError(f'"{shown(value)}" is not a duration; write it like 2s or 500ms')
    if isinstance(value, (int, float)):
        return _positive(float(value), value, "duration")
    parsed = _split(value)
    if parsed is None or parsed[1] not in _DURATION_UNITS:
        raise UnitError(f'"{shown(value)}" is not a duration; use ms, s or m (like 2s or 500ms)')
    number, unit = parsed
    return _positive(number * _DURATION_UNITS[unit], value, "duration")


def parse_flops(value: object) -> float:
    """FLOP/s from "12GFLOPS" (absolute speed)."""
    parsed = _split(value) if isinstance(value, str) else None
    if parsed is None or parsed[1] not in _FLOPS_UNITS:
        raise UnitError(
            f'"{shown(value)}" is not a compute speed; use a relative number like 1.5 or e.g. 12GFLOPS'
        )
    number, unit = parsed
    return check_flops(number * _FLOPS_UNITS[unit], value)


def format_bytes(count: float) -> str:
    """Binary units for people: 40.2 MiB."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


def format_bandwidth(bits_per_s: float) -> str:
    if math.isinf(bits_per_s):
        return "local"
    for unit, size in (("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3)):
        if bits_per_s >= size:
            return f"{bits_per_s / size:.3g} {unit}"
    return f"{bits_per_s:.3g} bps"
