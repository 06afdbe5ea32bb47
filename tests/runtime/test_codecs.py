from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.codecs import CodecError, CodecSpec, compress, decompress, effective_spec

LOSSLESS = [CodecSpec("none"), CodecSpec("lz4"), CodecSpec("zfp", mode="reversible")]
DTYPES = ["float32", "float64", "float16", "int8", "int32", "int64", "uint8", "bool"]


def roundtrip(spec: CodecSpec, array: np.ndarray) -> tuple[CodecSpec, np.ndarray, int]:
    used, payload = compress(spec, array)
    return used, decompress(used, payload, array.dtype, array.shape), len(memoryview(payload).cast("B"))


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=5),
    ),
    spec=st.sampled_from(LOSSLESS),
)
def test_lossless_codecs_round_trip_any_shape_and_dtype(array: np.ndarray, spec: CodecSpec) -> None:
    used, back, _ = roundtrip(spec, array)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    if array.dtype.kind != "f" or array.dtype.itemsize == 2:
        assert used.name != "zfp"  # zfp only carries float32/float64; others fall back to lz4


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(["float32", "float64"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=6),
        elements=st.floats(-100, 100, width=32),
    ),
    tolerance=st.sampled_from([1e-1, 1e-2, 1e-3]),
)
def test_zfp_tolerance_mode_respects_its_bound(array: np.ndarray, tolerance: float) -> None:
    _, back, _ = roundtrip(CodecSpec("zfp", mode="tolerance", tolerance=tolerance), array)
    assert back.shape == array.shape
    assert float(np.max(np.abs(back.astype(np.float64) - array))) <= tolerance


@pytest.mark.parametrize(
    "spec",
    [CodecSpec("zfp", mode="rate", rate=16), CodecSpec("zfp", mode="precision", precision=20)],
)
def test_zfp_rate_and_precision_are_close(spec: CodecSpec) -> None:
    array = np.random.default_rng(0).standard_normal((1, 16, 16, 8)).astype(np.float32)
    _, back, size = roundtrip(spec, array)
    assert size < array.nbytes
    assert float(np.max(np.abs(back - array))) < 1e-2


def test_zfp_squeezes_size_one_axes() -> None:
    """A batch axis of 1 must not reach zfpy: same bytes as the squeezed array, shape restored."""
    import zfpy

    rng = np.random.default_rng(1)
    array = np.maximum(rng.standard_normal((1, 32, 32, 16)), 0).astype(np.float32)
    _, payload = compress(CodecSpec("zfp", mode="tolerance", tolerance=1e-3), array)
    unsqueezed = zfpy.compress_numpy(array, tolerance=1e-3)
    assert bytes(payload) == zfpy.compress_numpy(array.reshape(32, 32, 16), tolerance=1e-3)
    assert len(payload) < len(unsqueezed)
    back = decompress(CodecSpec("zfp", mode="tolerance", tolerance=1e-3), payload, array.dtype, array.shape)
    assert back.shape == (1, 32, 32, 16)


def test_zfp_handles_more_than_four_dims_and_scalars() -> None:
    spec = CodecSpec("zfp", mode="reversible")
    for shape in [(2, 3, 2, 2, 2, 3), (), (1, 1, 1)]:
        array = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
        _, back, _ = roundtrip(spec, array)
        np.testing.assert_array_equal(back, array)


def test_none_codec_is_zero_copy() -> None:
    array = np.ones((4, 4), np.float32)
    _, payload = compress(CodecSpec("none"), array)
    assert isinstance(payload, memoryview) and np.shares_memory(np.frombuffer(payload, np.float32), array)


def test_effective_spec_falls_back_for_integers() -> None:
    assert effective_spec(CodecSpec("zfp", mode="rate", rate=8), np.dtype("int32")).name == "lz4"
    assert effective_spec(CodecSpec("zfp", mode="rate", rate=8), np.dtype("float32")).name == "zfp"


@pytest.mark.parametrize(
    "data",
    [
        {"name": "gzip"},
        {"name": "zfp"},
        {"name": "zfp", "mode": "rate"},
        {"name": "zfp", "mode": "rate", "rate": 8, "tolerance": 0.1},
        {"name": "lz4", "mode": "rate"},
        {"name": "zfp", "mode": "precision", "precision": 1.5},
        {"name": "zfp", "mode": "tolerance", "tolerance": -1},
        {"name": "none", "level": 3},
        "lz4",
    ],
)
def test_bad_codec_specs_are_refused(data: object) -> None:
    with pytest.raises(CodecError):
        CodecSpec.from_dict(data)  # type: ignore[arg-type]


def test_codec_spec_dict_round_trip() -> None:
    for data in [
        {"name": "none"},
        {"name": "lz4"},
        {"name": "zfp", "mode": "rate", "rate": 16.0},
        {"name": "zfp", "mode": "reversible"},
        {"name": "zfp", "mode": "precision", "precision": 12},
    ]:
        assert CodecSpec.from_dict(data).to_dict() == data


@pytest.mark.parametrize("spec", [CodecSpec("lz4"), CodecSpec("zfp", mode="tolerance", tolerance=0.1)])
def test_corrupt_payloads_raise_codec_error(spec: CodecSpec) -> None:
    array = np.random.default_rng(2).standard_normal((16, 16)).astype(np.float32)
    _, payload = compress(spec, array)
    with pytest.raises(CodecError):
        decompress(spec, bytes(payload)[: len(payload) // 3], array.dtype, (32, 32))
    with pytest.raises(CodecError):
        decompress(CodecSpec("none"), payload, array.dtype, array.shape)
