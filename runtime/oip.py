"""Open Inference Protocol v2 (KServe / Triton) JSON tensors <-> numpy, with no I/O.

Every way a request can be wrong becomes ``OipError(status, message)`` so the dispatcher answers 4xx
with a reason instead of a stack trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runtime.config import TensorSpec

DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
NUMPY_TO_OIP = {v: k for k, v in DATATYPES.items()}


class OipError(Exception):
    """A request the dispatcher refuses: HTTP ``status`` and a message naming what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def shape_matches(shape: tuple[int, ...], spec: tuple[int, ...]) -> bool:
    """-1 in the spec accepts any positive size on that axis."""
    return len(shape) == len(spec) and all(
        s == e or (e == -1 and s > 0) for s, e in zip(shape, spec, strict=True)
    )


def tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": spec.datatype, "shape": list(spec.shape)}


def parse_infer_request(body: Any, spec: TensorSpec) -> tuple[str | None, np.ndarray]:
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
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in tensor]
    if missing:
        raise OipError(400, f"input tensor lacks {', '.join(missing)}")
    if tensor["name"] != spec.name:
        raise OipError(400, f"unknown input {tensor['name']!r}; this model's input is {spec.name!r}")
    if tensor["datatype"] != spec.datatype:
        raise OipError(
            400, f"input {spec.name!r} has datatype {tensor['datatype']!r}; expected {spec.datatype!r}"
        )
    shape = tensor["shape"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        raise OipError(400, "input 'shape' must be a list of integers")
    if not shape_matches(tuple(shape), spec.shape):
        raise OipError(400, f"input {spec.name!r} has shape {shape}; expected {list(spec.shape)} (-1 = any)")
    try:
        array = np.asarray(tensor["data"], dtype=DATATYPES[spec.datatype])
    except (TypeError, ValueError) as exc:
        raise OipError(400, f"input 'data' is not a (nested) list of {spec.datatype} numbers: {exc}") from exc
    expected = int(np.prod(shape, dtype=np.int64))
    if array.size != expected:
        raise OipError(400, f"input 'data' holds {array.size} values; shape {shape} needs {expected}")
    return request_id, array.reshape(shape)


def infer_response(
    model_name: str, model_version: str, request_id: str, output_name: str, array: np.ndarray
) -> dict[str, Any]:
    """The v2 infer response with one output tensor (row-major flat data)."""
    datatype = NUMPY_TO_OIP.get(array.dtype.name, "FP32")
    return {
        "model_name": model_name,
        "model_version": model_version,
        "id": request_id,
        "outputs": [
            {
                "name": output_name,
                "datatype": datatype,
                "shape": list(array.shape),
                "data": array.reshape(-1).tolist(),
            }
        ],
    }
