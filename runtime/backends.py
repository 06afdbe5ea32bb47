"""What computes a partition: LiteRT (the default, for edge boards) or TensorFlow (the fallback).

Why two: a TensorFlow process holds about 700 MiB before it has loaded one weight, more than a Raspberry-Pi
class board can give a stage; LiteRT's interpreter runs the same partition, converted to a .tflite
flatbuffer at render time, in a tenth of that and faster (XNNPACK). TensorFlow stays for the models LiteRT
cannot convert. The LiteRT path imports neither TensorFlow nor Keras (a test checks the loaded modules):
the runtime image without TensorFlow must run it.

Both runners take a batch of inputs and return a batch of outputs. The LiteRT interpreter is built for
batch 1 (its arena is sized once, which is what the memory model measures); a larger batch runs sample
by sample, so memory never grows with the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from runtime.config import BackendConfig

Runner = Callable[[np.ndarray], np.ndarray]
WARM_UP_CALLS = 2


class BackendError(RuntimeError):
    """The partition cannot be loaded by the configured backend (the message says why)."""


def load_runner(backend: BackendConfig, blob: bytes) -> Runner:
    """A warmed-up runner for a verified partition blob (a .tflite flatbuffer or a Keras partition)."""
    if backend.name == "litert":
        return litert_runner(blob, backend.threads)
    if backend.name == "tensorflow":
        return tensorflow_runner(blob)
    raise BackendError(f"unknown backend {backend.name!r}")


def litert_runner(blob: bytes, threads: int = 1) -> Runner:
    """LiteRT's interpreter with XNNPACK on `threads` threads, allocated for batch 1 and warmed up."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=blob, num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise BackendError(f"LiteRT cannot load the partition: {exc}") from exc
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise BackendError(
            f"a partition must have one input and one output, got {len(inputs)}/{len(outputs)}"
        )
    source, sink = inputs[0], outputs[0]
    sample_shape = tuple(int(n) for n in source["shape"][1:])
    dtype = np.dtype(source["dtype"])

    def one(sample: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source["index"], sample)
        interpreter.invoke()
        return interpreter.get_tensor(sink["index"])  # a copy: the arena is reused by the next call

    def run(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=dtype)
        if batch.shape[1:] != sample_shape:
            raise ValueError(f"input of shape {batch.shape} for a partition of input (n, {sample_shape})")
        if batch.shape[0] == 1:
            return one(np.ascontiguousarray(batch))
        return np.concatenate([one(np.ascontiguousarray(batch[i : i + 1])) for i in range(batch.shape[0])])

    _warm_up(run, (1, *sample_shape), dtype)
    return run


def tensorflow_runner(blob: bytes) -> Runner:
    """The Keras partition under ``tf.function`` (any batch size; eager calls are ~7x slower), warmed up."""
    import tensorflow as tf

    from runtime.partition import load_partition

    try:
        model = load_partition(blob)
    except ValueError as exc:
        raise BackendError(f"TensorFlow cannot load the partition: {exc}") from exc
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise BackendError(
            f"a partition must have one input and one output, got {len(model.inputs)}/{len(model.outputs)}"
        )
    spec = model.inputs[0]
    dtype = np.dtype(tf.as_dtype(spec.dtype).as_numpy_dtype)
    signature = [tf.TensorSpec(shape=(None, *tuple(spec.shape)[1:]), dtype=spec.dtype)]
    compiled = tf.function(lambda x: model(x, training=False), input_signature=signature)

    def run(batch: np.ndarray) -> np.ndarray:
        return compiled(np.asarray(batch, dtype=dtype)).numpy()

    _warm_up(run, (1, *(1 if n is None else int(n) for n in tuple(spec.shape)[1:])), dtype)
    return run


def _warm_up(run: Runner, shape: tuple[int, ...], dtype: Any) -> None:
    warm = np.zeros(shape, dtype=dtype)
    for _ in range(WARM_UP_CALLS):
        run(warm)
