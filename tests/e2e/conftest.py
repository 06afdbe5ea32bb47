"""A small real Keras model and a spec that forces it onto a chain of three or more nodes.

Three Dense layers of 2-4 MiB each on nodes of 90 MiB: a LiteRT stage holds about 77 MiB of runtime and
every fp32 weight twice (planner/memory.py), so no node holds two of them and the planner must chain them
(dense_a | dense_b | dense_c + logits); the test exercises a real multi-stage pipeline in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SPEC = """\
apiVersion: seifer.dev/v1alpha1
kind: Pipeline
metadata: {{name: tiny-e2e, namespace: e2e}}
model: {{file: tiny.keras, version: "1", inputShape: [512]}}
cluster:
  nodes:
    - {{name: gw, memory: 1Gi, schedulable: false}}
    - {{name: n1, memory: 90Mi}}
    - {{name: n2, memory: 90Mi}}
    - {{name: n3, memory: 90Mi}}
    - {{name: n4, memory: 90Mi}}
  bandwidth: {{default: {bandwidth}}}
dispatcher: {{node: gw, port: {port}, deadline: {deadline}}}
runtime: {{image: seifer-runtime:test, codec: {codec}, queueDepth: 2}}
planner: {{objective: communication}}
weights: {{chunkSize: 512Ki}}
"""


def build_tiny_model():
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((512,), name="features")
    x = keras.layers.Dense(1024, activation="relu", name="dense_a")(inputs)
    x = keras.layers.Dense(1024, activation="relu", name="dense_b")(x)
    x = keras.layers.Dense(768, activation="relu", name="dense_c")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-model")
    path = directory / "tiny.keras"
    build_tiny_model().save(path)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tiny_spec(tmp_path, tiny_model_path, monkeypatch):
    """write(bandwidth=..., codec=...) -> path of a spec next to a copy of the tiny model."""
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tiny.keras").write_bytes(tiny_model_path.read_bytes())

    def write(
        bandwidth: str = "1Gbps", codec: str = "none", port: int | None = None, deadline: str = "30s"
    ) -> Path:
        path = tmp_path / "tiny.pipeline.yaml"
        path.write_text(
            SPEC.format(bandwidth=bandwidth, codec=codec, port=port or free_port(), deadline=deadline)
        )
        return path

    return write


def reference_outputs(model_path: Path, inputs: np.ndarray) -> np.ndarray:
    import keras

    model = keras.saving.load_model(model_path)
    return np.asarray(model.predict_on_batch(inputs))


def tiny_input(index: int) -> np.ndarray:
    return np.random.default_rng(index).standard_normal((1, 512)).astype(np.float32)
