"""The benchmark's request stream speaks the binary tensor extension the dispatcher parses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from runtime.config import TensorSpec
from runtime.oip import infer_response, infer_response_binary, parse_infer_request, split_body
from seifer_iac.local.stream import (
    Outcome,
    answer_digest,
    encode_body,
    full_pipeline_throughput,
    steady_throughput,
)


def test_encoded_bodies_parse_as_the_dispatcher_parses_them():
    x = np.random.default_rng(1).random((1, 4, 4, 3), dtype=np.float32)
    body, header_length = encode_body("input", x)
    head, tail = split_body(body, str(header_length))
    _, parsed = parse_infer_request(json.loads(head), TensorSpec("input", (1, 4, 4, 3), "FP32"), tail)
    np.testing.assert_array_equal(parsed, x)


def test_equal_answers_have_equal_digests_in_either_encoding():
    y = np.arange(10, dtype=np.float32).reshape(1, 10)
    as_json = json.dumps(infer_response("m", "1", "r", "out", y)).encode()
    head, raw = infer_response_binary("m", "1", "r", "out", y)
    assert answer_digest(as_json) == answer_digest(head + raw, str(len(head)))
    assert answer_digest(as_json) != answer_digest(
        json.dumps(infer_response("m", "1", "r", "out", y + 1)).encode()
    )


def test_the_full_pipeline_rate_leaves_out_the_drain_at_the_end():
    # steady at 1 answer/s, then the last answer comes early: the pipeline emptied (shared air freed)
    times = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.2]
    assert steady_throughput(times, concurrency=2) == pytest.approx(5 / 4.2)
    assert full_pipeline_throughput(times, concurrency=2) == 1.0
    assert full_pipeline_throughput(times[:5], concurrency=2) == steady_throughput(times[:5], 2)  # too few


def test_steady_throughput_counts_from_a_full_pipeline():
    assert steady_throughput([0.0, 1.0, 2.0, 3.0, 4.0], concurrency=2) == 1.0
    assert Outcome(0, 0, 0.0, 1.0, 200, "d").ok
