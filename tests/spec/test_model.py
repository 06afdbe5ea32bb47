"""The spec's values: the cluster's bandwidth table and the codec's wire size, which the planner trusts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime.codecs import CodecSpec, compress
from seifer_iac.spec.model import Cluster, Codec, Link, Node, zfp_fixed_rate_bytes


@pytest.mark.parametrize(
    ("shape", "rate"),
    [
        ((1, 224, 224, 3), 16.0),
        ((1, 224, 224, 3), 12.0),
        ((1, 7, 7, 1280), 8.0),
        ((1, 1000), 8.0),
        ((1, 28, 28, 32), 16.0),
        ((1, 2, 3, 5, 6), 16.0),
        ((1, 2, 3, 5, 6), 8.0),
        ((1, 100), 16.0),
        ((1, 3, 4, 2, 5, 6), 4.0),
        ((1, 56, 56, 24), 12.5),
    ],
)
def test_fixed_rate_zfp_size_is_exactly_what_the_runtime_sends(shape, rate):
    array = np.random.default_rng(0).random(shape, dtype=np.float32)
    _, payload = compress(CodecSpec("zfp", mode="rate", rate=rate), array)
    assert zfp_fixed_rate_bytes(shape, rate) == len(payload)
    codec = Codec(name="zfp", mode="rate", rate=rate, ratio=32 / rate)
    assert codec.wire_bytes(array.nbytes, shape) == len(payload)


def test_padding_makes_an_rgb_image_a_third_bigger_than_the_naive_ratio():
    codec = Codec(name="zfp", mode="rate", rate=16.0, ratio=2.0)
    raw = 224 * 224 * 3 * 4
    assert codec.wire_bytes(raw) == raw // 2  # shape unknown: the ratio
    assert codec.wire_bytes(raw, (1, 224, 224, 3)) == pytest.approx(raw / 2 * 4 / 3, abs=24)


def test_other_codecs_use_their_ratio():
    assert Codec(name="lz4", ratio=1.5).wire_bytes(3000, (1, 750)) == 2000
    assert Codec().wire_bytes(1234, (1, 1)) == 1234


def test_bandwidth_table():
    cluster = Cluster(
        nodes=(Node("a", 1, 1.0), Node("b", 1, 1.0), Node("c", 1, 1.0)),
        links=(Link("a", "b", 5.0),),
        default_bits_per_s=None,
    )
    assert cluster.bandwidth("a", "b") == 5.0
    assert cluster.bandwidth("a", "c") == 0.0
    assert cluster.bandwidth("c", "c") == math.inf
    assert cluster.without({"b"}).node_names == ("a", "c")
    assert cluster.without({"b"}).links == ()
