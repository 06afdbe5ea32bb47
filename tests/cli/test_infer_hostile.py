"""`seifer infer` against servers that answer badly (a real HTTP server on loopback, one per test): a
metadata without `inputs`, non-JSON, a broken repository index or answer. Each is one line naming the URL
and the field, exit 2; a refusal or an unreachable server is exit 1 and says which."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seifer_iac.cli.main import cli

GOOD_META = {"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3]}], "outputs": []}
GOOD_ANSWER = {"outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]}]}


class Server:
    """Answers GET /v2/models/m with `meta`, POST /v2/repository/index with `index`, POST .../infer with
    `answer` (each a JSON value, or bytes sent as they are), with `status`."""

    def __init__(self) -> None:
        self.meta: object = GOOD_META
        self.index: object = [{"name": "m"}]
        self.answer: object = GOOD_ANSWER
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def reply(self, body: object) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self.reply(outer.meta)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(outer.index if self.path.endswith("/index") else outer.answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    try:
        yield running
    finally:
        running.close()


def infer(*args: str):
    result = CliRunner().invoke(cli, ["infer", *args])
    assert "Traceback" not in result.output
    assert not result.exception or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_a_good_server_answers(server: Server) -> None:
    result = infer(server.url, "random")
    assert result.exit_code == 0, result.output
    assert "1. class     1" in result.output


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"name": "m"}, "inputs"),
        ({"name": "m", "inputs": []}, "inputs"),
        ({"name": "m", "inputs": {"x": 1}}, "inputs"),
        ({"name": "m", "inputs": [5]}, "inputs"),
        ({"name": "m", "inputs": [{"name": "x", "datatype": "FP32"}]}, "inputs[0].shape"),
        ({"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": "1x3"}]}, "inputs[0].shape"),
        (
            {"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 10**9, 10**9]}]},
            "inputs[0].shape",
        ),
        ({"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, -7]}]}, "inputs[0].shape"),
        ({"name": "m", "inputs": [{"datatype": "FP32", "shape": [1, 3]}]}, "inputs[0].name"),
        ({"name": "m", "inputs": [{"name": "x", "shape": [1, 3]}]}, "inputs[0].datatype"),
        ([1, 2], "inputs"),
        (None, "inputs"),
    ],
)
def test_metadata_without_usable_inputs(server: Server, meta: object, field: str) -> None:
    server.meta = meta
    result = infer(server.url, "random", "--model", "m")
    assert result.exit_code == 2, result.output
    assert field in result.output and server.url in result.output and "metadata" in result.output


@pytest.mark.parametrize("body", [b"<html>hello</html>", b"", b"[" * 100_000 + b"]" * 100_000, b'{"a": NaN'])
def test_metadata_that_is_not_json(server: Server, body: bytes) -> None:
    server.meta = body
    result = infer(server.url, "random", "--model", "m")
    assert result.exit_code == 2, result.output
    assert "not the Open Inference Protocol" in result.output and server.url in result.output


@pytest.mark.parametrize("index", [{"models": []}, [1], [{"id": "m"}], "m", b"garbage"])
def test_a_broken_repository_index(server: Server, index: object) -> None:
    server.index = index
    result = infer(server.url, "random")
    assert result.exit_code == 2, result.output
    assert server.url in result.output and ("index" in result.output or "Open Inference" in result.output)


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"outputs": []},
        {"outputs": [{"shape": [1, 2]}]},
        {"outputs": [{"datatype": "FP32", "shape": [5], "data": [1]}]},
        b"nope",
    ],
)
def test_a_broken_answer(server: Server, answer: object) -> None:
    server.answer = answer
    result = infer(server.url, "random", "--model", "m")
    assert result.exit_code == 2, result.output
    assert "not the Open Inference Protocol" in result.output


def test_an_empty_answer(server: Server) -> None:
    server.answer = {"outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 0], "data": []}]}
    result = infer(server.url, "random", "--model", "m")
    assert result.exit_code == 2 and "empty output" in result.output


def test_a_refusal_is_exit_1_and_says_so(server: Server) -> None:
    server.status = 500
    server.meta = {"error": "broken"}
    result = infer(server.url, "random", "--model", "m")
    assert result.exit_code == 1 and "server refused" in result.output and "broken" in result.output


def test_cannot_reach_only_when_nothing_answers() -> None:
    with socket.socket() as probe:  # a port nobody listens on (bound, then released)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = infer(f"http://127.0.0.1:{port}", "random", "--model", "m", "--timeout", "2")
    assert result.exit_code == 1 and "cannot reach" in result.output


def _lying_header(path: Path) -> None:
    """A .npy header promising a terabyte, followed by 16 bytes: numpy would allocate the terabyte."""
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (2**38,)}
        )
        handle.write(b"\0" * 16)


def _npz(path: Path) -> None:
    with path.open("wb") as handle:
        np.savez(handle, a=np.zeros(2), b=np.ones(2))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("not numpy"), "not a .npy array"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "not a .npy array"),
        (lambda p: np.save(p, np.zeros(3, np.complex64)), "no Open Inference Protocol datatype"),
        (
            lambda p: p.write_bytes(np.lib.format.magic(1, 0) + b"\x10\x00{'descr': '<f4', 'fortran_order'"),
            "not a .npy",
        ),
        (_lying_header, "promises"),
        (_npz, "several arrays"),
    ],
)
def test_bad_npy_inputs_are_named_before_any_request(tmp_path: Path, make, words: str) -> None:
    path = tmp_path / "x.npy"
    make(path)
    result = infer("http://127.0.0.1:9", str(path))  # port 9: would fail if it were ever contacted
    assert result.exit_code == 2, result.output
    assert words in result.output and "x.npy" in result.output and "INPUT" in result.output
