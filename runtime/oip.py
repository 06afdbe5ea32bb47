"""Open Inference Protocol v2 (KServe / Triton) tensors <-> numpy, with no I/O.

Two encodings of a tensor are accepted: JSON (`"data": [...]`) and Triton's binary tensor data extension
(the JSON part's length in the `Inference-Header-Content-Length` header, raw little-endian bytes after it,
`"parameters": {"binary_data_size": n}` on the tensor). JSON costs ~30-60 ms per 224x224x3 image on each
side; the binary form is a memory copy, so existing Triton clients and ours use it for real traffic.

Every way a request can be wrong becomes ``OipError(status, message)`` so the dispatcher answers 4xx
with a reason instead of a stack trace.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from runtime.config import NUMPY_DTYPES, TensorSpec

DATATYPES = NUMPY_DTYPES
NUMPY_TO_OIP = {v: k for k, v in DATATYPES.items()}


class OipError(Exception):
    """A request the dispatcher refuses: HTTP ``status`` and a message naming what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def shape_matches(shape: tuple[int, ...], spec: tuple[int, ...], max_batch: int = 1) -> bool:
    """-1 (on the first, batch axis) in the spec accepts a batch of 1 to ``max_batch``."""
    return len(shape) == len(spec) and all(
        (s == e and s >= 0) or (e == -1 and 0 < s <= max_batch) for s, e in zip(shape, spec, strict=True)
    )


def tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": spec.datatype, "shape": list(spec.shape)}


HEADER_LENGTH = "Inference-Header-Content-Length"


def split_body(raw: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON part, binary part) of a request body; all JSON when the header is absent."""
    if header_length is None:
        return raw, b""
    try:
        length = int(header_length)
    except ValueError:
        raise OipError(400, f"{HEADER_LENGTH} must be an integer, got {header_length!r}") from None
    if not 0 < length <= len(raw):
        raise OipError(400, f"{HEADER_LENGTH} is {length} but the body holds {len(raw)} bytes")
    return raw[:length], raw[length:]


def wants_binary_output(body: dict[str, Any]) -> bool:
    """Triton's switch: `parameters.binary_data_output`, or `binary_data` on the requested output."""
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and parameters.get("binary_data_output") is True:
        return True
    outputs = body.get("outputs")
    if isinstance(outputs, list):
        for output in outputs:
            params = output.get("parameters") if isinstance(output, dict) else None
            if isinstance(params, dict) and params.get("binary_data") is True:
                return True
    return False


def _binary_tensor(tensor: dict[str, Any], binary: bytes, spec: TensorSpec, shape: list[int]) -> np.ndarray:
    size = tensor.get("parameters", {}).get("binary_data_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise OipError(400, "input 'parameters.binary_data_size' must be a non-negative integer")
    if size != len(binary):
        raise OipError(400, f"binary_data_size is {size} but {len(binary)} bytes follow the JSON header")
    dtype = np.dtype(DATATYPES[spec.datatype]).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        raise OipError(400, f"input {spec.name!r} of shape {shape} needs {expected} bytes, got {size}")
    return np.frombuffer(binary, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def parse_json(raw: bytes) -> Any:
    """The JSON part of a request, strictly: NaN and Infinity are not JSON (send non-finite inputs as
    binary data), and nesting deep enough to exhaust the parser's stack is a bad request, not a crash."""

    def no_constants(token: str) -> Any:
        raise OipError(400, f"request body is not valid JSON: {token} is not a JSON number")

    try:
        return json.loads(raw, parse_constant=no_constants)
    except RecursionError:
        raise OipError(400, "request body is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise OipError(400, f"request body is not valid JSON: {exc}") from None


def _json_tensor(data: Any, spec: TensorSpec, shape: list[int]) -> np.ndarray:
    """The ``data`` list as an array of the input's dtype: numbers only (booleans for BOOL), each within
    the dtype's range, never a silent cast of strings, nulls or out-of-range values."""
    dtype = np.dtype(DATATYPES[spec.datatype])
    try:
        raw = np.asarray(data)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raw = None
    wanted = "b" if dtype.kind == "b" else "biuf" if dtype.kind == "f" else "biu"
    if raw is None or raw.dtype.kind not in wanted or (dtype.kind != "b" and raw.dtype.kind == "b"):
        raise OipError(400, f"input 'data' must be a (nested) list of {spec.datatype} values")
    expected = int(np.prod(shape, dtype=np.int64))
    if raw.size != expected:
        raise OipError(400, f"input 'data' holds {raw.size} values; shape {shape} needs {expected}")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if raw.size and (raw.min() < info.min or raw.max() > info.max):
            raise OipError(400, f"input 'data' holds values outside {spec.datatype}'s range")
    with np.errstate(over="ignore", invalid="ignore"):
        array = raw.astype(dtype)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise OipError(400, f"input 'data' holds values outside {spec.datatype}'s range")
    return array.reshape(shape)


def parse_infer_request(
    body: Any, spec: TensorSpec, binary: bytes = b"", max_batch: int = 1
) -> tuple[str | None, np.ndarray]:
    """The request's ``id`` and its single input tensor as an array of the configured dtype and shape."""
    if not isinstance(body, dict):
        raise OipError(400, "request body must be a JSON object with an 'inputs' list")
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise OipError(400, "'id' must be a string")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise OipError(400, f"'inputs' must be a list holding exactly one tensor object named {spec.name!r}")
    tensor = inputs[0]
    is_binary = (
        "data" not in tensor
        and isinstance(tensor.get("parameters"), dict)
        and ("binary_data_size" in tensor["parameters"])
    )
    missing = [k for k in ("name", "shape", "datatype", *(() if is_binary else ("data",))) if k not in tensor]
    if missing:
        raise OipError(400, f"input tensor lacks {', '.join(missing)}")
    if tensor["name"] != spec.name:
        raise OipError(
            400, f"unknown input {str(tensor['name'])[:64]!r}; this model's input is {spec.name!r}"
        )
    if tensor["datatype"] != spec.datatype:
        raise OipError(
            400,
            f"input {spec.name!r} has datatype {str(tensor['datatype'])[:16]!r}; expected {spec.datatype!r}",
        )
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        raise OipError(400, "input 'shape' must be a list of integers")
    if not shape_matches(tuple(shape), spec.shape, max_batch):
        raise OipError(
            400,
            f"input {spec.name!r} has shape {shape[:8]}; expected {list(spec.shape)} "
            f"(-1 = a batch of 1 to {max_batch})",
        )
    if is_binary:
        return request_id, _binary_tensor(tensor, binary, spec, shape)
    if binary:
        raise OipError(400, "binary data follows the JSON header but no input declares binary_data_size")
    return request_id, _json_tensor(tensor["data"], spec, shape)


def _response(
    model_name: str, model_version: str, request_id: str, output_name: str, array: np.ndarray, data: dict
) -> dict[str, Any]:
    tensor = {"name": output_name, "datatype": NUMPY_TO_OIP.get(array.dtype.name, "FP32")}
    tensor.update(shape=list(array.shape), **data)
    return {"model_name": model_name, "model_version": model_version, "id": request_id, "outputs": [tensor]}


def infer_response(
    model_name: str, model_version: str, request_id: str, output_name: str, array: np.ndarray
) -> dict[str, Any]:
    """The v2 infer response with one output tensor (row-major flat data).

    JSON has no NaN or Infinity: a non-finite output value travels as ``null`` (numpy reads it back as
    NaN; the binary form keeps every value exactly), so the answer is always valid JSON.
    """
    values = array.reshape(-1).tolist()
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        values = [v if math.isfinite(v) else None for v in values]
    data = {"data": values}
    return _response(model_name, model_version, request_id, output_name, array, data)


def infer_response_binary(
    model_name: str, model_version: str, request_id: str, output_name: str, array: np.ndarray
) -> tuple[bytes, bytes]:
    """(JSON header, raw output bytes) of a binary-extension response."""
    raw = np.ascontiguousarray(array, dtype=np.dtype(array.dtype).newbyteorder("<")).tobytes()
    data = {"parameters": {"binary_data_size": len(raw)}}
    header = _response(model_name, model_version, request_id, output_name, array, data)
    return json.dumps(header).encode(), raw
