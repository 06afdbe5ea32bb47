"""Keras partitions -> LiteRT flatbuffers (.tflite), at render time, cached by content.

Why at render time: the edge runtime must not carry TensorFlow, so the conversion happens where TensorFlow
already is (the planner's machine or CI), and the stage receives a flatbuffer it can run with LiteRT
alone. The converter's output for the same sub-model is the same bytes in every process (checked for
fp32, fp16 and int8), so the flatbuffers are content-addressed and chunked into ConfigMaps like any blob.

Precisions: fp32 as trained; fp16 stores weights as float16 (half the bytes; XNNPACK computes in fp32);
int8 is dynamic-range quantisation (weights int8, a quarter of the bytes; activations quantised on the
fly), the cheapest that needs no calibration data.

Converting costs seconds per partition, so results are cached under ``$SEIFER_CACHE_DIR/tflite`` (or
``~/.cache/seifer/tflite``) by the sha256 of the deterministic Keras partition blob, the precision and the
TensorFlow version: the same partition is never converted twice on one machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seifer_iac.model.errors import ModelError

PRECISIONS = ("fp32", "fp16", "int8")
TFLITE_MAGIC = b"TFL3"


def cache_dir() -> Path:
    root = os.environ.get("SEIFER_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "seifer"
    return base / "tflite"


def _converter(model: Any, precision: str) -> Any:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # Only LiteRT's builtin ops: a flatbuffer needing TensorFlow's select ops would drag TensorFlow back in.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _first_layer_named(message: str, model: Any) -> str | None:
    """The first of the model's layers that the converter's message names: its ops carry scope paths like
    ``model/<layer>_1/Op``, so a layer appears between slashes, maybe with keras' ``_N`` call suffix."""
    for layer in getattr(model, "layers", []):
        if re.search(rf"/{re.escape(layer.name)}(_\d+)?/", message):
            return layer.name
    return None


def _unsupported_op(message: str) -> str | None:
    found = re.search(r"'tf\.(\w+)' op", message) or re.search(r"Custom ops: ([\w, ]+)", message)
    return found.group(1) if found else None


@contextlib.contextmanager
def _quiet_descriptors() -> Iterator[None]:
    """Keep the converter's C++ log lines (written straight to file descriptors 1 and 2) off the terminal:
    the user gets one line naming the stage and layer instead of a page of MLIR diagnostics."""
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def convert(model: Any, precision: str, stage: int | None = None) -> bytes:
    """The .tflite flatbuffer of a Keras sub-model; ModelError naming the stage and layer if LiteRT can't."""
    if precision not in PRECISIONS:
        raise ModelError(f"runtime.precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    where = f"stage {stage}" if stage is not None else f"partition {model.name}"
    try:
        with _quiet_descriptors():
            flatbuffer = _converter(model, precision).convert()
    except Exception as exc:  # the converter raises ConverterError, ValueError, or worse on a strange graph
        message = str(exc)
        layer, op = _first_layer_named(message, model), _unsupported_op(message)
        raise ModelError(
            f"{where}: LiteRT cannot convert "
            + (f"layer {layer!r}" if layer else "this partition")
            + (f" (op {op} is not a LiteRT builtin)" if op else f" ({message.splitlines()[0][:160]})")
            + "; set runtime.backend: tensorflow in the spec to run this model with TensorFlow"
        ) from exc
    if flatbuffer[4:8] != TFLITE_MAGIC:
        raise ModelError(f"{where}: the converter returned something that is not a .tflite flatbuffer")
    return bytes(flatbuffer)


def cache_key(keras_blob_sha256: str, precision: str) -> str:
    from importlib import metadata

    try:
        version = metadata.version("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        version = metadata.version("tensorflow")
    return f"{keras_blob_sha256}-{precision}-tf{version}"


def cached_convert(model: Any, keras_blob_sha256: str, precision: str, stage: int | None = None) -> bytes:
    """`convert`, reusing an earlier result for the same partition bytes, precision and converter."""
    path = cache_dir() / f"{cache_key(keras_blob_sha256, precision)}.tflite"
    try:
        data = path.read_bytes()
        if data[4:8] == TFLITE_MAGIC:
            return data
    except OSError:
        pass
    data = convert(model, precision, stage)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # a read-only cache only costs time
    return data
