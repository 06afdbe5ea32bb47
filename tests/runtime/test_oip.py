from __future__ import annotations

import json

import numpy as np
import pytest

from runtime.config import TensorSpec
from runtime.oip import (
    OipError,
    infer_response,
    infer_response_binary,
    parse_infer_request,
    parse_json,
    shape_matches,
    split_body,
    wants_binary_output,
)

SPEC = TensorSpec("input", (-1, 2, 3), "FP32")


def body(**kw: object) -> dict:
    tensor = {"name": "input", "shape": [1, 2, 3], "datatype": "FP32", "data": list(range(6))}
    tensor.update(kw)
    return {"inputs": [tensor]}


def test_parse_flat_and_nested_data() -> None:
    _, a = parse_infer_request(body(), SPEC)
    _, b = parse_infer_request(body(data=[[[0, 1, 2], [3, 4, 5]]]), SPEC)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (1, 2, 3)
    rid, c = parse_infer_request({**body(shape=[2, 2, 3], data=list(range(12))), "id": "r1"}, SPEC, b"", 2)
    assert rid == "r1" and c.shape == (2, 2, 3)


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "'inputs' must be a list"),
        ({"inputs": [1]}, "'inputs' must be a list"),
        ({"inputs": [{"name": "input"}]}, "lacks shape, datatype, data"),
        (body(name="x"), "unknown input 'x'"),
        (body(datatype="INT8"), "datatype 'INT8'"),
        (body(shape=[1, 3, 2]), "has shape [1, 3, 2]"),
        (body(shape="1,2,3"), "list of integers"),
        (body(data=list(range(5))), "holds 5 values"),
        (body(data=["a"] * 6), "must be a (nested) list of FP32"),
        (body(data=["1.5"] * 6), "must be a (nested) list of FP32"),
        (body(data=[None] * 6), "must be a (nested) list of FP32"),
        (body(data=[True] * 6), "must be a (nested) list of FP32"),
        (body(data=[{}] * 6), "must be a (nested) list of FP32"),
        (body(data=[[0, 1, 2], [3, 4]]), "must be a (nested) list of FP32"),  # ragged
        (body(data=[10**400] * 6), "must be a (nested) list of FP32"),  # beyond any machine number
        (body(data=[1e300] * 6), "outside FP32's range"),
        (body(shape=[2, 2, 3], data=list(range(12))), "a batch of 1 to 1"),
        (body(shape=[10**30, 2, 3]), "a batch of 1 to 1"),
        (body(shape=[-1, 2, 3]), "a batch of 1 to 1"),
        (body(shape=[True, 2, 3]), "list of integers"),
        ({**body(), "id": 5}, "'id' must be a string"),
    ],
)
def test_bad_requests_are_400_with_reason(request_body: object, message: str) -> None:
    with pytest.raises(OipError) as info:
        parse_infer_request(request_body, SPEC)
    assert info.value.status == 400 and message in info.value.message


def test_integer_inputs_are_range_checked() -> None:
    spec = TensorSpec("input", (1, 2), "INT8")
    assert parse_infer_request(
        {"inputs": [{"name": "input", "shape": [1, 2], "datatype": "INT8", "data": [-128, 127]}]}, spec
    )[1].tolist() == [[-128, 127]]
    for data in ([0, 128], [1.5, 2], [2**70, 0]):
        with pytest.raises(OipError, match="INT8"):
            parse_infer_request(
                {"inputs": [{"name": "input", "shape": [1, 2], "datatype": "INT8", "data": data}]}, spec
            )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"x": NaN}', "NaN is not a JSON number"),
        (b'{"x": -Infinity}', "-Infinity is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"1" + b"0" * 5000, "not valid JSON"),  # more digits than Python converts
        (b"\xff", "not valid JSON"),
    ],
)
def test_json_is_parsed_strictly(raw: bytes, message: str) -> None:
    with pytest.raises(OipError) as info:
        parse_json(raw)
    assert info.value.status == 400 and message in info.value.message


def test_shape_wildcards() -> None:
    assert shape_matches((5, 2), (-1, 2), max_batch=8) and not shape_matches((5, 2), (-1, 2))
    assert not shape_matches((0, 2), (-1, 2)) and not shape_matches((5,), (-1, 2), 8)


def test_non_finite_outputs_travel_as_null_in_json() -> None:
    out = infer_response("m", "1", "i", "y", np.array([1.0, np.nan, np.inf, -np.inf], np.float32))
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["outputs"][0]["data"] == [1.0, None, None, None]


def test_response_layout() -> None:
    out = infer_response("m", "1", "id-1", "logits", np.arange(4, dtype=np.float32).reshape(1, 4))
    assert out == {
        "model_name": "m",
        "model_version": "1",
        "id": "id-1",
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 4], "data": [0, 1, 2, 3]}],
    }


def binary_body(array: np.ndarray, **parameters: object) -> tuple[dict, bytes]:
    raw = array.astype("<f4").tobytes()
    tensor = {
        "name": "input",
        "shape": list(array.shape),
        "datatype": "FP32",
        "parameters": {"binary_data_size": len(raw), **parameters},
    }
    return {"inputs": [tensor], "parameters": {"binary_data_output": True}}, raw


def test_binary_tensor_extension_round_trip() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    request, raw = binary_body(x)
    head, tail = split_body(json.dumps(request).encode() + raw, str(len(json.dumps(request))))
    _, parsed = parse_infer_request(json.loads(head), SPEC, tail)
    np.testing.assert_array_equal(parsed, x)
    assert wants_binary_output(request)
    header, out = infer_response_binary("m", "1", "r", "logits", x * 2)
    meta = json.loads(header)["outputs"][0]
    assert meta["parameters"]["binary_data_size"] == len(out) == x.nbytes
    np.testing.assert_array_equal(np.frombuffer(out, "<f4").reshape(meta["shape"]), x * 2)


def test_json_requests_do_not_ask_for_binary_output() -> None:
    assert not wants_binary_output(body())
    assert wants_binary_output({**body(), "outputs": [{"name": "o", "parameters": {"binary_data": True}}]})


@pytest.mark.parametrize(
    ("header_length", "message"), [("x", "must be an integer"), ("999999", "body holds")]
)
def test_bad_binary_framing_is_400(header_length: str, message: str) -> None:
    request, raw = binary_body(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    with pytest.raises(OipError) as info:
        split_body(json.dumps(request).encode() + raw, header_length)
    assert info.value.status == 400 and message in info.value.message


def test_binary_size_mismatches_are_400() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    request, raw = binary_body(x)
    with pytest.raises(OipError, match="bytes follow"):
        parse_infer_request(request, SPEC, raw[:-4])
    request["inputs"][0]["parameters"]["binary_data_size"] = 20
    with pytest.raises(OipError, match="needs 24 bytes"):
        parse_infer_request(request, SPEC, raw[:20])
    with pytest.raises(OipError, match="no input declares"):
        parse_infer_request(body(), SPEC, b"\x00" * 4)
