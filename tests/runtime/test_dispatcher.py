"""The dispatcher process against fake (TensorFlow-free) stages: HTTP API, retries, exactly-once, limits."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.client import InferError, infer, list_models, model_metadata, wait_ready
from runtime.metrics import parse_text
from seifer_iac.bench.localchain import ChainFiles, LocalChain, write_chain

from .conftest import FakeStage, wait_for

PLAN, VERSION = "plan-a", "2.0.0"
INPUT = {"name": "input", "shape": [-1, 4], "datatype": "FP32"}
OUTPUT = {"name": "output", "shape": [-1, 4], "datatype": "FP32"}


def start_dispatcher(directory: Path, **overrides: Any) -> tuple[ChainFiles, LocalChain]:
    files = write_chain(
        directory,
        [b"unused"],
        input_spec=INPUT,
        output_spec=OUTPUT,
        codecs=[{"name": "lz4"}, {"name": "none"}],
        model_name="toy",
        model_version=VERSION,
        plan_hash=PLAN,
        **overrides,
    )
    chain = LocalChain(files)
    chain.start_dispatcher()
    return files, chain


@pytest.fixture(scope="module")
def dispatcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainFiles]:
    files, chain = start_dispatcher(tmp_path_factory.mktemp("dispatcher"), deadlineSeconds=3.0, maxAttempts=3)
    try:
        assert wait_for(lambda: _get(files.url + "/v2/health/live")[0] == 200, 30), chain.log("dispatcher")
        yield files
    finally:
        chain.close()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(
                raw
            ) if resp.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, None


def _post(url: str, data: bytes) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def metrics(files: ChainFiles) -> dict[str, float]:
    with urllib.request.urlopen(files.url + "/metrics", timeout=5) as resp:
        return parse_text(resp.read().decode())


def fake(
    factory: Callable[..., FakeStage], files: ChainFiles, transform: Callable, plan: str = PLAN
) -> FakeStage:
    return factory(files.data_ports[0], files.result_port, plan, VERSION, transform)


def double(_header: Any, array: np.ndarray) -> list[np.ndarray]:
    return [array * 2]


def test_unready_without_stage_then_ready(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    status, body = _get(dispatcher.url + "/v2/health/ready")
    assert status == 503 and "stage 1" in body["reason"]
    fake(fake_stage_factory, dispatcher, double)
    assert wait_ready(dispatcher.url, timeout=10)


def test_metadata_and_index(dispatcher: ChainFiles) -> None:
    meta = model_metadata(dispatcher.url, "toy")
    assert meta["inputs"] == [INPUT] and meta["outputs"] == [OUTPUT] and meta["versions"] == [VERSION]
    assert list_models(dispatcher.url)[0]["name"] == "toy"
    assert _get(dispatcher.url + "/v2/models/other")[0] == 404
    assert _get(dispatcher.url + "/v2/models/toy/versions/9.9")[0] == 404


def test_infer_round_trip_and_id_echo(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    fake(fake_stage_factory, dispatcher, double)
    wait_ready(dispatcher.url, 10)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(infer(dispatcher.url, "toy", x), x * 2)
    np.testing.assert_array_equal(infer(dispatcher.url, "toy", x, binary=False), x * 2)
    status, body, _ = _post(
        dispatcher.url + "/v2/models/toy/versions/2.0.0/infer",
        json.dumps(
            {
                "id": "abc",
                "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
            }
        ).encode(),
    )
    assert status == 200 and body["id"] == "abc" and body["outputs"][0]["data"] == [2, 4, 6, 8]
    assert body["model_name"] == "toy" and body["model_version"] == VERSION


@pytest.mark.parametrize(
    ("path", "data", "status", "reason"),
    [
        ("/v2/models/toy/infer", b"{not json", 400, "not valid JSON"),
        ("/v2/models/toy/infer", b"\xff\xfe", 400, "not valid JSON"),
        ("/v2/models/toy/infer", b"[]", 400, "JSON object"),
        (
            "/v2/models/toy/infer",
            b'{"inputs": [{"name": "input", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}',
            400,
            "expected [-1, 4]",
        ),
        (
            "/v2/models/toy/infer",
            b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "INT32", "data": [1, 2, 3, 4]}]}',
            400,
            "datatype 'INT32'",
        ),
        ("/v2/models/nope/infer", b"{}", 404, "not found"),
    ],
)
def test_malformed_http_requests_get_4xx_with_reason(
    dispatcher: ChainFiles, path: str, data: bytes, status: int, reason: str
) -> None:
    got, body, _ = _post(dispatcher.url + path, data)
    assert got == status and reason in body["error"]


def test_lost_first_attempt_is_resent(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    def drop_first(header: Any, array: np.ndarray) -> list[np.ndarray]:
        return [] if header.attempt == 1 else [array * 2]

    stage = fake(fake_stage_factory, dispatcher, drop_first)
    wait_ready(dispatcher.url, 10)
    before = metrics(dispatcher).get("seifer_dispatcher_resends_total", 0)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(infer(dispatcher.url, "toy", x, input_name="input"), x * 2)
    assert metrics(dispatcher)["seifer_dispatcher_resends_total"] >= before + 1
    assert [a for _, a in stage.seen][:2] == [1, 2]


def test_duplicates_answered_exactly_once(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    fake(fake_stage_factory, dispatcher, lambda h, a: [a * 2, a * 2, a * 2])
    wait_ready(dispatcher.url, 10)
    before = metrics(dispatcher).get("seifer_dispatcher_duplicates_total", 0)
    inputs = [np.full((1, 4), i, np.float32) for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda x: infer(dispatcher.url, "toy", x, input_name="input"), inputs))
    for x, y in zip(inputs, outputs, strict=True):
        np.testing.assert_array_equal(y, x * 2)
    assert wait_for(lambda: metrics(dispatcher)["seifer_dispatcher_duplicates_total"] >= before + 40, 5)


def test_foreign_plan_results_are_rejected(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    fake(fake_stage_factory, dispatcher, double, plan="plan-b")
    wait_ready(dispatcher.url, 10)
    start = time.monotonic()
    with pytest.raises(InferError) as info:
        infer(dispatcher.url, "toy", np.ones((1, 4), np.float32), input_name="input")
    assert info.value.status == 504 and "3 attempt(s)" in info.value.message
    assert time.monotonic() - start < 6
    assert metrics(dispatcher)['seifer_dispatcher_rejected_total{reason="plan_hash"}'] >= 3


def test_no_stage_at_all_fails_after_deadline(tmp_path: Path) -> None:
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=1.0, maxAttempts=2)
    with chain:
        assert wait_for(lambda: _get(files.url + "/v2/health/live")[0] == 200, 30)
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            errors = list(
                pool.map(
                    lambda _: _post(
                        files.url + "/v2/models/toy/infer",
                        json.dumps(
                            {
                                "inputs": [
                                    {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}
                                ]
                            }
                        ).encode(),
                    ),
                    range(4),
                )
            )
        assert all(status == 504 and "chain did not answer" in body["error"] for status, body, _ in errors)
        assert time.monotonic() - start < 5


def test_max_in_flight_gives_503_with_retry_after(tmp_path: Path, fake_stage_factory: Callable) -> None:
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=10.0, maxAttempts=1, maxInFlight=1)
    with chain:
        fake(fake_stage_factory, files, lambda h, a: (time.sleep(1.0), [a])[1])
        assert wait_ready(files.url, 30)
        body = json.dumps(
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]}
        )
        with ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(lambda _: _post(files.url + "/v2/models/toy/infer", body.encode()), range(3))
            )
        statuses = sorted(status for status, _, _ in results)
        assert statuses[0] == 200 and 503 in statuses
        busy = next(r for r in results if r[0] == 503)
        assert busy[2].get("Retry-After") == "1" and "in flight" in busy[1]["error"]


def test_sigterm_answers_waiting_requests_and_exits_cleanly(tmp_path: Path) -> None:
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=60.0, maxAttempts=1)
    with chain:
        assert wait_for(lambda: _get(files.url + "/v2/health/live")[0] == 200, 30)
        body = json.dumps(
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]}
        )
        with ThreadPoolExecutor(2) as pool:
            pending = [
                pool.submit(_post, files.url + "/v2/models/toy/infer", body.encode()) for _ in range(2)
            ]
            time.sleep(0.5)  # both are waiting for a chain that is not there
            start = time.monotonic()
            proc = chain.procs["dispatcher"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            results = [f.result(timeout=10) for f in pending]
        assert time.monotonic() - start < 5
        assert all(status == 504 and "shutting down" in reply["error"] for status, reply, _ in results)


def test_request_size_is_bounded_by_the_input() -> None:
    from runtime.config import TensorSpec
    from runtime.dispatcher import UNBOUNDED_REQUEST_BYTES, max_request_bytes

    image = TensorSpec("input", (1, 224, 224, 3), "FP32")
    assert 224 * 224 * 3 * 4 < max_request_bytes(image) < 8 * 1024 * 1024
    assert max_request_bytes(TensorSpec("input", (-1, 4), "FP32")) == UNBOUNDED_REQUEST_BYTES
