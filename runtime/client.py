"""A small Open Inference Protocol v2 client over urllib: no TensorFlow, no extra dependency.

``infer(url, model, array)`` returns the first output as a numpy array; every HTTP error becomes
``InferError(status, message)`` carrying the server's reason (e.g. the 504 after a chain failure).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from runtime.oip import DATATYPES as OIP_TO_NUMPY
from runtime.oip import HEADER_LENGTH, NUMPY_TO_OIP

__all__ = [
    "HEADER_LENGTH",
    "NUMPY_TO_OIP",
    "OIP_TO_NUMPY",
    "InferError",
    "infer",
    "model_metadata",
    "wait_ready",
]


class InferError(RuntimeError):
    """The server answered with an error status (``status``) and a reason (``message``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


def _open(request: urllib.request.Request | str, timeout: float) -> Any:
    """urlopen without proxies: dispatchers live on the edge LAN or loopback, where an HTTP(S)_PROXY
    set for the internet would only get in the way (and never reach 127.0.0.1)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=timeout)


def _error_of(exc: urllib.error.HTTPError) -> InferError:
    """The server's reason from an error response (its JSON `error`, else the raw text)."""
    raw = exc.read()
    try:
        message = json.loads(raw).get("error", raw.decode(errors="replace"))
    except (ValueError, AttributeError):
        message = raw.decode(errors="replace")
    return InferError(exc.code, message)


def _request(url: str, body: Any = None, timeout: float = 60.0, method: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with _open(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise _error_of(exc) from None


def wait_ready(url: str, timeout: float = 60.0, raise_on_timeout: bool = True) -> bool:
    """Poll ``GET /v2/health/ready`` until it answers 200; False (or TimeoutError) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with _open(f"{url.rstrip('/')}/v2/health/ready", timeout=1.0) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() >= deadline:
            if raise_on_timeout:
                raise TimeoutError(f"{url} not ready after {timeout:g} s")
            return False
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def model_metadata(url: str, model: str, timeout: float = 10.0) -> dict[str, Any]:
    """``GET /v2/models/{model}``: name, versions, inputs and outputs (name, datatype, shape)."""
    return _request(f"{url.rstrip('/')}/v2/models/{model}", timeout=timeout)


def list_models(url: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """``POST /v2/repository/index`` (Triton's model repository extension)."""
    return _request(f"{url.rstrip('/')}/v2/repository/index", body={}, timeout=timeout)


def infer(
    url: str,
    model: str,
    array: np.ndarray,
    *,
    input_name: str | None = None,
    request_id: str | None = None,
    timeout: float = 60.0,
    binary: bool = True,
) -> np.ndarray:
    """Send ``array`` as the model's single input and return its first output.

    ``binary`` uses the binary tensor data extension both ways (raw bytes after a JSON header: a memory
    copy instead of ~30-60 ms of JSON per image); ``binary=False`` sends plain JSON tensors.
    Without ``input_name`` the model's metadata is fetched first to learn it (one extra round trip).
    """
    array = np.asarray(array)
    if array.dtype.name not in NUMPY_TO_OIP:
        raise ValueError(f"dtype {array.dtype.name} has no Open Inference Protocol datatype")
    if input_name is None:
        input_name = model_metadata(url, model, timeout)["inputs"][0]["name"]
    tensor: dict[str, Any] = {
        "name": input_name,
        "shape": list(array.shape),
        "datatype": NUMPY_TO_OIP[array.dtype.name],
    }
    body: dict[str, Any] = {"inputs": [tensor]}
    if request_id is not None:
        body["id"] = request_id
    endpoint = f"{url.rstrip('/')}/v2/models/{model}/infer"
    if not binary:
        tensor["data"] = array.reshape(-1).tolist()
        response = _request(endpoint, body=body, timeout=timeout)
        output = response["outputs"][0]
        dtype = OIP_TO_NUMPY.get(output["datatype"], "float32")
        return np.asarray(output["data"], dtype=dtype).reshape(output["shape"])
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    tensor["parameters"] = {"binary_data_size": len(raw)}
    body["parameters"] = {"binary_data_output": True}
    header, tail = _binary_request(endpoint, json.dumps(body).encode(), raw, timeout)
    output = header["outputs"][0]
    dtype = np.dtype(OIP_TO_NUMPY.get(output["datatype"], "float32")).newbyteorder("<")
    if "data" in output:
        return np.asarray(output["data"], dtype=dtype).reshape(output["shape"])
    return np.frombuffer(tail, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(output["shape"])


def _binary_request(url: str, header: bytes, raw: bytes, timeout: float) -> tuple[dict[str, Any], bytes]:
    req = urllib.request.Request(
        url,
        data=header + raw,
        method="POST",
        headers={"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))},
    )
    try:
        with _open(req, timeout=timeout) as resp:
            content = resp.read()
            length = resp.headers.get(HEADER_LENGTH)
    except urllib.error.HTTPError as exc:
        raise _error_of(exc) from None
    if length is None:
        return json.loads(content), b""
    cut = int(length)
    return json.loads(content[:cut]), content[cut:]
