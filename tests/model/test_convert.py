"""Keras partitions -> LiteRT flatbuffers: the same bytes every time, precise at fp32, one clear error."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from runtime.backends import litert_runner
from runtime.partition import dump_partition
from seifer_iac.model.convert import cached_convert, convert
from seifer_iac.model.errors import ModelError
from seifer_iac.model.split import partition_blobs, split_model

from .small_models import small_model

ROOT = Path(__file__).resolve().parents[2]
CONVERT_IN_A_FRESH_PROCESS = """
import hashlib, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from small_models import small_model
from seifer_iac.model.split import split_model
from seifer_iac.model.convert import convert
part = split_model(small_model(), [3])[1]
print(hashlib.sha256(convert(part, {precision!r})).hexdigest())
"""


@pytest.fixture(scope="module")
def parts():
    return split_model(small_model(), [3])


def _inputs(shape, n=16):
    return np.random.default_rng(1).standard_normal((n, *shape[1:])).astype(np.float32)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_conversion_gives_the_same_bytes_in_another_process(parts, precision):
    here = hashlib.sha256(convert(parts[1], precision)).hexdigest()
    code = CONVERT_IN_A_FRESH_PROCESS.format(
        root=str(ROOT), tests=str(ROOT / "tests" / "model"), precision=precision
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout.split()[-1]
    assert here == there


def test_fp32_flatbuffers_chained_equal_the_unsplit_keras_model_within_1e_4(parts):
    full = small_model()
    x = _inputs((1, 32, 32, 3))
    expected = np.asarray(full.predict_on_batch(x))
    y = x
    for part in parts:
        y = litert_runner(convert(part, "fp32"))(y)  # batch of 16: runs sample by sample
    assert y.shape == expected.shape
    assert float(np.abs(y - expected).max()) <= 1e-4


def _dense_model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((256,), name="features")
    x = keras.layers.Dense(512, activation="relu", name="dense_a")(inputs)
    return keras.Model(inputs, keras.layers.Dense(64, name="dense_b")(x), name="dense")


def test_lower_precisions_store_fewer_bytes_and_stay_close():
    model = _dense_model()
    blobs = {p: convert(model, p) for p in ("fp32", "fp16", "int8")}
    weights = 4 * model.count_params()
    assert len(blobs["fp16"]) < 0.55 * weights and len(blobs["int8"]) < 0.3 * weights < len(blobs["fp32"])
    x = _inputs((1, 256))
    reference = np.asarray(model.predict_on_batch(x))
    for precision in ("fp16", "int8"):
        y = litert_runner(blobs[precision])(x)
        assert float(np.abs(y - reference).max()) < 0.05 * float(np.abs(reference).max()), precision


def test_unconvertible_layer_names_the_stage_the_layer_and_the_fix():
    class Qr(keras.layers.Layer):
        def call(self, x):
            return keras.ops.linalg.qr(x)[0]

    inputs = keras.Input((4, 4), name="x")
    model = keras.Model(inputs, Qr(name="odd_layer")(keras.layers.Dense(4, name="d1")(inputs)))
    with pytest.raises(ModelError) as info:
        convert(model, "fp32", stage=2)
    message = str(info.value)
    assert "stage 2" in message and "'odd_layer'" in message and "Qr" in message
    assert "runtime.backend: tensorflow" in message and "\n" not in message


def test_unknown_precision_is_refused(parts):
    with pytest.raises(ModelError, match="fp32, fp16, int8"):
        convert(parts[0], "int4")


def test_cache_returns_the_stored_flatbuffer_without_converting(parts, tmp_path, monkeypatch):
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    digest = hashlib.sha256(dump_partition(parts[0])).hexdigest()
    first = cached_convert(parts[0], digest, "fp32")
    monkeypatch.setattr("seifer_iac.model.convert.convert", lambda *a, **k: pytest.fail("converted again"))
    assert cached_convert(parts[0], digest, "fp32") == first
    assert list((tmp_path / "tflite").glob("*.tflite"))


def test_partition_blobs_are_flatbuffers_for_litert_and_keras_blobs_for_tensorflow(tmp_path, monkeypatch):
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path))
    model = small_model()
    ranges = [(0, 2), (3, 8)]
    lite = partition_blobs(model, ranges, "litert", "fp32")
    heavy = partition_blobs(model, ranges, "tensorflow", "fp32")
    assert all(p.blob[4:8] == b"TFL3" for p in lite)
    assert all(p.blob[:2] == b"PK" for p in heavy)
    assert [p.sha256 for p in lite] == [hashlib.sha256(p.blob).hexdigest() for p in lite]
