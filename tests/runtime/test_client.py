from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from runtime.client import InferError, infer, wait_ready
from seifer_iac.bench.localchain import free_ports


class Handler(BaseHTTPRequestHandler):
    """A JSON-only v2 server (like KServe without the binary extension): clients use binary=False."""

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path == "/v2/health/ready":
            self._reply(200, {"ready": True})
        elif self.path == "/v2/models/m":
            self._reply(200, {"inputs": [{"name": "in0", "datatype": "FP32", "shape": [-1, 3]}]})
        else:
            self._reply(404, {"error": "no such thing"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        tensor = body["inputs"][0]
        if tensor["name"] != "in0":
            self._reply(400, {"error": f"unknown input {tensor['name']!r}"})
            return
        if self.path.endswith("/slow/infer"):
            self._reply(504, {"error": "chain did not answer: no result after 3 attempt(s)"})
            return
        data = [v * 10 for v in tensor["data"]]
        self._reply(
            200,
            {
                "model_name": "m",
                "model_version": "1",
                "id": body.get("id", "x"),
                "outputs": [{"name": "out", "datatype": "FP64", "shape": tensor["shape"], "data": data}],
            },
        )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_infer_learns_the_input_name_and_decodes_the_output(server: str) -> None:
    y = infer(server, "m", np.array([[1, 2, 3]], np.float32), binary=False)
    assert y.dtype == np.float64 and y.shape == (1, 3)
    np.testing.assert_array_equal(y, [[10, 20, 30]])


def test_errors_carry_status_and_reason(server: str) -> None:
    with pytest.raises(InferError) as info:
        infer(server, "m", np.zeros((1, 3), np.float32), input_name="wrong", binary=False)
    assert info.value.status == 400 and "unknown input 'wrong'" in info.value.message
    with pytest.raises(InferError) as info:
        infer(server, "slow", np.zeros((1, 3), np.float32), input_name="in0", binary=False)
    assert info.value.status == 504 and "3 attempt(s)" in str(info.value)


def test_unframable_dtype_is_refused_locally(server: str) -> None:
    with pytest.raises(ValueError, match="no Open Inference Protocol datatype"):
        infer(server, "m", np.zeros(2, np.complex64), input_name="in0")


def test_wait_ready(server: str) -> None:
    assert wait_ready(server, timeout=2)
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    assert wait_ready(closed, timeout=0.3, raise_on_timeout=False) is False
    with pytest.raises(TimeoutError, match="not ready"):
        wait_ready(closed, timeout=0.3)
