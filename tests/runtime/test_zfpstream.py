"""The zfp stream header and sizes computed without zfp agree with what zfpy really writes."""

from __future__ import annotations

import numpy as np
import pytest
import zfpy

from runtime.codecs import CodecError, CodecSpec, compress
from runtime.zfpstream import ZfpStreamError, check_header, field_dims, layout

SHAPES = [(100,), (3,), (10, 10), (5, 7), (8, 8, 8), (3, 5, 7), (4, 4, 4, 4), (2, 3, 5, 7), (1, 1000)]
SHAPES += [(1, 2, 3, 4, 5, 6), (1, 14, 14, 96)]
MODES = [
    ("rate", 2.5, {"rate": 2.5}),
    ("rate", 12.7, {"rate": 12.7}),
    ("rate", 40, {"rate": 40}),  # more than 2048 bits per 3-D block: the long mode header
    ("precision", 1, {"precision": 1}),
    ("precision", 20, {"precision": 20}),
    ("precision", 64, {"precision": 64}),  # zfp's defaults: written as "expert" long mode
    ("tolerance", 1e-3, {"tolerance": 1e-3}),
    ("tolerance", 1e-30, {"tolerance": 1e-30}),
    ("reversible", None, {}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_header_and_size_match_real_zfpy_streams(shape: tuple[int, ...], dtype: str) -> None:
    rng = np.random.default_rng(len(shape))
    array = (rng.standard_normal(shape) * 1e3).astype(dtype).reshape(field_dims(shape))
    checked = 0
    for mode, parameter, kwargs in MODES:
        try:
            expected = layout(mode, parameter, dtype, shape)
        except ZfpStreamError:
            continue  # a rate too low for this dimensionality (tested below)
        stream = zfpy.compress_numpy(array, **kwargs)
        assert check_header(stream, expected) is None, (mode, parameter)
        assert expected.min_bytes <= len(stream) <= expected.max_bytes, (mode, parameter, len(stream))
        if mode == "rate":
            assert len(stream) == expected.min_bytes == expected.max_bytes
        assert expected.decode_buffer_bytes >= expected.max_bytes
        checked += 1
    assert checked >= 7


def test_header_fields_that_differ_are_named() -> None:
    stream = zfpy.compress_numpy(np.ones((64, 64), np.float32), rate=8)
    assert "field" in check_header(stream, layout("rate", 8, "float32", (1, 4096)))
    assert "field" in check_header(stream, layout("rate", 8, "float64", (64, 64)))
    assert "mode" in check_header(stream, layout("rate", 9, "float32", (64, 64)))
    assert "magic" in check_header(b"ZFP\x05" + stream[4:], layout("rate", 8, "float32", (64, 64)))
    assert "shorter" in check_header(stream[:5], layout("rate", 8, "float32", (64, 64)))


@pytest.mark.parametrize(
    ("rate", "shape"), [(0.01, (8, 8, 8)), (0.1, (8, 8, 8)), (2, (100,)), (0.5, (10, 10))]
)
def test_rates_that_would_crash_zfpy_are_refused(rate: float, shape: tuple[int, ...]) -> None:
    """zfpy corrupts its heap coding a block in fewer bits than its exponent (0.01 on 8x8x8 aborts)."""
    with pytest.raises(ZfpStreamError, match="raise the rate"):
        layout("rate", rate, "float32", shape)
    with pytest.raises(CodecError, match="raise the rate"):
        compress(CodecSpec("zfp", mode="rate", rate=rate), np.ones(shape, np.float32))


def test_bad_parameters_are_refused() -> None:
    for mode, parameter in (
        ("precision", 0),
        ("precision", 65),
        ("tolerance", 0.0),
        ("tolerance", float("nan")),
    ):
        with pytest.raises(ZfpStreamError):
            layout(mode, parameter, "float32", (8, 8))
    with pytest.raises(ZfpStreamError, match="cannot carry"):
        layout("rate", 8, "int32", (8, 8))
