"""Shared fixtures: a tiny Keras model split in three (as Keras blobs and as LiteRT flatbuffers), and a fake
(TensorFlow-free) stage thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
import zmq

from runtime.codecs import CodecSpec
from runtime.frames import Rejected, decode, encode, reply_header
from seifer_iac.bench.localchain import LocalChain, write_chain

INPUT_SHAPE = (1, 8, 8, 3)


@dataclass(frozen=True)
class TinySplit:
    """Three stage models as LiteRT flatbuffers (`blobs`, what stages run by default) and Keras partition
    blobs (`keras_blobs`, for the tensorflow backend), the tensors between them, and the unsplit model's
    forward function."""

    blobs: tuple[bytes, ...]
    keras_blobs: tuple[bytes, ...]
    reference: Callable[[np.ndarray], np.ndarray]
    input_spec: dict[str, Any]
    output_spec: dict[str, Any]
    tensors: tuple[dict[str, Any], ...]


@pytest.fixture(scope="session")
def tiny_split() -> TinySplit:
    import keras
    import tensorflow as tf

    from runtime.partition import dump_partition
    from seifer_iac.model.convert import convert

    keras.utils.set_random_seed(7)
    s1 = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu")]
    )
    s2 = keras.Sequential(
        [keras.Input((8, 8, 4)), keras.layers.Conv2D(8, 3, padding="same", activation="relu")]
    )
    s3 = keras.Sequential([keras.Input((8, 8, 8)), keras.layers.Flatten(), keras.layers.Dense(10)])
    inp = keras.Input((8, 8, 3))
    full = keras.Model(inp, s3(s2(s1(inp))))
    compiled = tf.function(lambda x: full(x, training=False))
    return TinySplit(
        blobs=tuple(convert(m, "fp32") for m in (s1, s2, s3)),
        keras_blobs=tuple(dump_partition(m) for m in (s1, s2, s3)),
        reference=lambda x: compiled(np.asarray(x, np.float32)).numpy(),
        input_spec={"name": "input", "shape": [-1, 8, 8, 3], "datatype": "FP32"},
        output_spec={"name": "logits", "shape": [-1, 10], "datatype": "FP32"},
        tensors=tuple(
            {"name": name, "shape": shape, "datatype": "FP32"}
            for name, shape in (
                ("input", [1, 8, 8, 3]),
                ("conv1", [1, 8, 8, 4]),
                ("conv2", [1, 8, 8, 8]),
                ("logits", [1, 10]),
            )
        ),
    )


class FakeStage:
    """A stage without TensorFlow: ``transform(header, array)`` -> list of arrays to send (0, 1 or more).

    Lets dispatcher tests drop, duplicate or delay results deterministically and in milliseconds.
    """

    def __init__(
        self,
        data_port: int,
        next_port: int,
        plan_hash: str,
        version: str,
        transform: Callable[[Any, np.ndarray], list[np.ndarray]],
        stage: int = 1,
    ) -> None:
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.bind(f"tcp://127.0.0.1:{data_port}")
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.connect(f"tcp://127.0.0.1:{next_port}")
        self.plan_hash, self.version, self.stage, self.transform = plan_hash, version, stage, transform
        self.seen: list[tuple[int, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self.pull.poll(50):
                continue
            decoded = decode(self.pull.recv_multipart())
            if isinstance(decoded, Rejected):
                continue
            self.seen.append((decoded.header.request_id, decoded.header.attempt))
            for out in self.transform(decoded.header, decoded.array):
                header = replace(
                    reply_header(decoded.header, self.stage + 1, CodecSpec()),
                    plan_hash=self.plan_hash,
                    model_version=self.version,
                )
                self.push.send_multipart(encode(header, out))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.pull.close(0)
        self.push.close(0)
        self.ctx.term()


PLAN, VERSION = "plan-e2e", "1.0.0"


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory, tiny_split: TinySplit) -> Iterator[LocalChain]:
    """ONE real 3-stage chain for the whole session (starting TensorFlow processes is the slow part).

    LiteRT stages and lossless codecs on every hop (dispatcher none, stage 1 lz4, stage 2 none, stage 3 lz4),
    so answers equal the unsplit model's within float error (1e-5). test_e2e uses it as is; test_fault (which
    runs after it) switches the last hop to ZFP and kills stages. Deadlines ride out a stage restart.
    """
    files = write_chain(
        tmp_path_factory.mktemp("chain"),
        tiny_split.blobs,
        input_spec=tiny_split.input_spec,
        output_spec=tiny_split.output_spec,
        tensors=tiny_split.tensors,
        backend={"name": "litert", "precision": "fp32", "threads": 1},
        codecs=[{"name": "none"}, {"name": "lz4"}, {"name": "none"}, {"name": "lz4"}],
        model_name="tiny",
        model_version=VERSION,
        plan_hash=PLAN,
        chunk_size=4096,
        deadlineSeconds=60.0,
        maxAttempts=30,
        heartbeatMs=500,
    )
    with LocalChain(files) as local:
        local.start()
        yield local


@pytest.fixture
def fake_stage_factory() -> Iterator[Callable[..., FakeStage]]:
    stages: list[FakeStage] = []

    def make(*args: Any, **kwargs: Any) -> FakeStage:
        stage = FakeStage(*args, **kwargs)
        stages.append(stage)
        return stage

    yield make
    for stage in stages:
        stage.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
