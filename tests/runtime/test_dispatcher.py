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
from runtime.zmqopts import generate_keys, write_keys
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
    files, chain = start_dispatcher(
        tmp_path_factory.mktemp("dispatcher"), max_batch=2, deadlineSeconds=3.0, maxAttempts=3
    )
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


def _reason(files: ChainFiles) -> str:
    return (_get(files.url + "/v2/health/ready")[1] or {}).get("reason", "")


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
    assert [a for _, a in stage.seen if a][:2] == [1, 2]  # attempt 0: readiness probes


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
    """A chain whose results are all refused never answers a probe: unready, and 503 at once."""
    fake(fake_stage_factory, dispatcher, double, plan="plan-b")
    assert wait_for(lambda: "probe" in _get(dispatcher.url + "/v2/health/ready")[1].get("reason", ""), 10)
    start = time.monotonic()
    with pytest.raises(InferError) as info:
        infer(dispatcher.url, "toy", np.ones((1, 4), np.float32), input_name="input")
    assert info.value.status == 503 and "not ready" in info.value.message
    assert time.monotonic() - start < 1
    assert metrics(dispatcher)['seifer_dispatcher_rejected_total{reason="plan_hash"}'] >= 1


def test_no_stage_at_all_gives_503_with_retry_after_at_once(tmp_path: Path) -> None:
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=10.0, maxAttempts=2)
    with chain:
        assert wait_for(lambda: _get(files.url + "/v2/health/live")[0] == 200, 30)
        start = time.monotonic()
        body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]}
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(
                    lambda _: _post(files.url + "/v2/models/toy/infer", json.dumps(body).encode()), range(4)
                )
            )
        assert time.monotonic() - start < 2
        for status, reply, headers in answers:
            assert status == 503 and "stage 1" in reply["error"] and headers.get("Retry-After") == "1"
        assert metrics(files)['seifer_dispatcher_requests_total{code="503"}'] == 4


def test_readiness_means_the_whole_chain_answers(tmp_path: Path, fake_stage_factory: Callable) -> None:
    """Stage 1 connected but stage 2 missing: not ready (a probe cannot come back), 503 at once; ready as
    soon as stage 2 is there."""
    files = write_chain(
        tmp_path,
        [b"unused", b"unused"],
        input_spec=INPUT,
        output_spec=OUTPUT,
        codecs=[{"name": "lz4"}, {"name": "none"}, {"name": "none"}],
        model_name="toy",
        model_version=VERSION,
        plan_hash=PLAN,
        deadlineSeconds=2.0,
        maxAttempts=2,
    )
    with LocalChain(files) as chain:
        chain.start_dispatcher()
        fake_stage_factory(files.data_ports[0], files.data_ports[1], PLAN, VERSION, double, stage=1)
        assert wait_for(lambda: "probe" in _reason(files), 15)
        assert _get(files.url + "/v2/models/toy/versions/2.0.0/ready")[0] == 503
        with pytest.raises(InferError) as info:
            infer(files.url, "toy", np.ones((1, 4), np.float32), input_name="input")
        assert info.value.status == 503
        fake_stage_factory(files.data_ports[1], files.result_port, PLAN, VERSION, double, stage=2)
        assert wait_ready(files.url, 10)
        assert _get(files.url + "/v2/models/toy/versions/2.0.0/ready")[0] == 200
        x = np.ones((1, 4), np.float32)
        np.testing.assert_array_equal(infer(files.url, "toy", x, input_name="input"), x * 4)


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


def _sigterm_while_waiting(files: ChainFiles, chain: LocalChain, count: int) -> tuple[list, float, int]:
    """``count`` requests in flight, then SIGTERM: (their results, seconds to exit, exit status)."""
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]})
    with ThreadPoolExecutor(count) as pool:
        pending = [
            pool.submit(_post, files.url + "/v2/models/toy/infer", body.encode()) for _ in range(count)
        ]
        time.sleep(0.5)  # all are waiting for the chain
        start = time.monotonic()
        proc = chain.procs["dispatcher"]
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=30)
        results = [f.result(timeout=10) for f in pending]
    return results, time.monotonic() - start, status


def test_sigterm_drains_held_requests_then_exits_cleanly(
    tmp_path: Path, fake_stage_factory: Callable
) -> None:
    """A dispatcher replaced (its pod rolled) still answers what it accepted while the chain can."""
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=20.0, maxAttempts=1)
    with chain:

        def slow(header: Any, array: np.ndarray) -> list[np.ndarray]:
            if header.attempt:
                time.sleep(1.0)  # answers come one second apart, after the SIGTERM
            return [array * 2]

        fake(fake_stage_factory, files, slow)
        assert wait_ready(files.url, 30)
        results, took, status = _sigterm_while_waiting(files, chain, 2)
    assert status == 0
    assert [r[0] for r in results] == [200, 200], results
    assert all(r[1]["outputs"][0]["data"] == [0.0] * 4 for r in results)
    assert took < 15


def test_sigterm_drains_at_most_until_the_deadline(tmp_path: Path, fake_stage_factory: Callable) -> None:
    files, chain = start_dispatcher(tmp_path, deadlineSeconds=2.0, maxAttempts=1)
    with chain:
        # a stage that answers the readiness probe (attempt 0) and swallows every request
        fake(fake_stage_factory, files, lambda h, a: [a] if h.attempt == 0 else [])
        assert wait_ready(files.url, 30)
        results, took, status = _sigterm_while_waiting(files, chain, 2)
    assert status == 0
    assert all(code == 504 and "deadline" in reply["error"] for code, reply, _ in results), results
    assert took < 10


def test_request_size_is_bounded_by_the_input() -> None:
    from runtime.config import TensorSpec
    from runtime.dispatcher import UNBOUNDED_REQUEST_BYTES, max_request_bytes

    image = TensorSpec("input", (1, 224, 224, 3), "FP32")
    assert 224 * 224 * 3 * 4 < max_request_bytes(image) < 8 * 1024 * 1024
    assert max_request_bytes(TensorSpec("input", (-1, 4), "FP32")) < 64 * 1024 + 4 * 32 + 1
    assert max_request_bytes(TensorSpec("input", (-1, 4), "FP32"), 8) == 64 * 1024 + 8 * 4 * 32
    assert max_request_bytes(TensorSpec("input", (1, -1), "FP32")) == UNBOUNDED_REQUEST_BYTES


def _tensor_body(**tensor: Any) -> bytes:
    base = {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0, 1, 2, 3]}
    return json.dumps({"inputs": [{**base, **tensor}]}).encode()


def _raw_data(first_value: bytes) -> bytes:
    head = b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": ['
    return head + first_value + b", 2, 3, 4]}]}"


HOSTILE_BODIES = [
    _raw_data(b"1" + b"0" * 400),
    _raw_data(b"1e999"),
    _raw_data(b"NaN"),
    _raw_data(b"Infinity"),
    b"[" * 30_000 + b"]" * 30_000,
    b'{"inputs": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    _tensor_body(data=["0", "1", "2", "3"]),
    _tensor_body(data=[None, 1, 2, 3]),
    _tensor_body(data={"a": 1}),
    _tensor_body(data=[[0, 1], [2]]),
    _tensor_body(shape=[1, 4.0]),
    _tensor_body(shape=[3, 4], data=list(range(12))),  # a batch beyond maxBatch
    _tensor_body(shape=[2**80, 4]),
    _tensor_body(shape=None),
    _tensor_body(name=["input"]),
    _tensor_body(datatype={"x": 1}),
    _tensor_body(data=None),
    json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
            ]
        }
    ).encode(),
    json.dumps({"inputs": {"name": "input"}}).encode(),
    json.dumps({"inputs": [], "parameters": "x", "outputs": 3}).encode(),
    json.dumps({"id": ["x"], "inputs": []}).encode(),
    b'"just a string"',
    b"",
]


def test_hostile_bodies_are_400_counted_and_never_500(dispatcher: ChainFiles) -> None:
    before = metrics(dispatcher).get('seifer_dispatcher_requests_total{code="400"}', 0)
    for data in HOSTILE_BODIES:
        status, body, _ = _post(dispatcher.url + "/v2/models/toy/infer", data)
        assert status == 400 and body["error"], (data[:80], status, body)
    status, body, _ = _post(dispatcher.url + "/v2/models/toy/infer", b'{"inputs": []}' + b" " * (1 << 20))
    assert status == 413 and body["error"]  # beyond what a valid request can be: refused unread
    after = metrics(dispatcher)
    assert after['seifer_dispatcher_requests_total{code="400"}'] == before + len(HOSTILE_BODIES)
    assert after['seifer_dispatcher_requests_total{code="413"}'] >= 1
    assert after['seifer_dispatcher_http_responses_total{code="404"}'] >= 0
    log = (Path(dispatcher.dispatcher_config).parent / "dispatcher.log").read_text()
    assert "Traceback" not in log


def test_every_status_is_counted(dispatcher: ChainFiles) -> None:
    before = metrics(dispatcher)
    assert _get(dispatcher.url + "/no/such/route")[0] == 404
    req = urllib.request.Request(dispatcher.url + "/v2/models/toy/infer", method="GET")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 405 and "error" in json.loads(info.value.read())
    after = metrics(dispatcher)
    for code in ("404", "405"):
        key = f'seifer_dispatcher_http_responses_total{{code="{code}"}}'
        assert after[key] >= before.get(key, 0) + 1


def test_versioned_routes_tritonclient_uses(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    fake(fake_stage_factory, dispatcher, double)
    assert wait_ready(dispatcher.url, 10)
    ready = _get(dispatcher.url + "/v2/models/toy/versions/2.0.0/ready")
    assert ready == (200, {"name": "toy", "ready": True})
    assert _get(dispatcher.url + "/v2/models/toy/versions/9/ready")[0] == 404
    status, config = _get(dispatcher.url + "/v2/models/toy/versions/2.0.0/config")
    assert status == 200 and config["input"] == [{"name": "input", "data_type": "TYPE_FP32", "dims": [-1, 4]}]
    assert _get(dispatcher.url + "/v2/models/toy/config")[1] == config


def test_non_finite_results_are_valid_json(dispatcher: ChainFiles, fake_stage_factory: Callable) -> None:
    y = np.array([[np.nan, np.inf, -np.inf, 1.5]], np.float32)
    fake(fake_stage_factory, dispatcher, lambda h, a: [y])
    assert wait_ready(dispatcher.url, 10)
    req = urllib.request.Request(dispatcher.url + "/v2/models/toy/infer", data=_tensor_body(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in a JSON answer")

    assert json.loads(text, parse_constant=refuse)["outputs"][0]["data"] == [None, None, None, 1.5]
    x = np.zeros((1, 4), np.float32)
    np.testing.assert_array_equal(infer(dispatcher.url, "toy", x, input_name="input"), y)  # binary: exact


def test_encrypted_chain_admits_only_its_own(tmp_path: Path, fake_stage_factory: Callable) -> None:
    """CURVE on both hops: a stage with the pipeline's keys serves; one with other keys cannot even
    connect (the dispatcher stays unready and says why)."""
    keys = generate_keys()
    files, chain = start_dispatcher(
        tmp_path, curve_keys=write_keys(tmp_path / "keys", keys), deadlineSeconds=3.0, maxAttempts=3
    )
    with chain:
        stranger = fake_stage_factory(
            files.data_ports[0], files.result_port, PLAN, VERSION, double, keys=generate_keys()
        )
        assert wait_for(lambda: "no ZeroMQ handshake completes" in _reason(files), 15), _reason(files)
        stranger.close()
        fake_stage_factory(files.data_ports[0], files.result_port, PLAN, VERSION, double, keys=keys)
        assert wait_ready(files.url, 15)
        x = np.ones((1, 4), np.float32)
        np.testing.assert_array_equal(infer(files.url, "toy", x, input_name="input"), x * 2)


def _version_free(directory: Path, **overrides: Any) -> tuple[ChainFiles, LocalChain]:
    """A dispatcher as the manifests render it: no modelVersion or planHash in its config."""
    files = write_chain(
        directory,
        [b"unused"],
        input_spec=INPUT,
        output_spec=OUTPUT,
        codecs=[{"name": "lz4"}, {"name": "none"}],
        model_name="toy",
        **overrides,
    )
    config = json.loads(files.dispatcher_config.read_text())
    del config["modelVersion"], config["planHash"]
    files.dispatcher_config.write_text(json.dumps(config))
    chain = LocalChain(files)
    chain.start_dispatcher()
    return files, chain


def _leave(stage: FakeStage) -> None:
    """What a stage stopped on purpose does: a leaving notice on (here straight to the dispatcher)."""
    from runtime.frames import Notice, encode_notice

    stage.push.send_multipart(encode_notice(Notice("leaving", 1, stage.plan_hash, stage.version)))
    time.sleep(0.2)
    stage.close()


def test_a_version_bump_holds_requests_and_answers_them_from_the_new_chain(
    tmp_path: Path, fake_stage_factory: Callable
) -> None:
    files, chain = _version_free(tmp_path, deadlineSeconds=20.0, maxAttempts=3)
    url = files.url + "/v2/models/toy/infer"
    with chain:
        old = fake_stage_factory(files.data_ports[0], files.result_port, "plan-a", "1.0.0", double)
        assert wait_ready(files.url, 30)
        status, reply, _ = _post(url, _tensor_body())
        assert status == 200 and reply["model_version"] == "1.0.0"
        assert reply["outputs"][0]["data"] == [0, 2, 4, 6]
        assert model_metadata(files.url, "toy")["versions"] == ["1.0.0"]
        _leave(old)
        with ThreadPoolExecutor(4) as pool:
            held = [pool.submit(_post, url, _tensor_body()) for _ in range(4)]
            time.sleep(2.0)  # stage 1 is gone; without the notice this would be 503 at once
            assert _get(files.url + "/v2/health/ready")[0] == 200
            assert metrics(files)["seifer_dispatcher_rolling"] == 1
            assert not any(f.done() for f in held)
            fake_stage_factory(
                files.data_ports[0], files.result_port, "plan-b", "2.0.0", lambda h, a: [a * 3]
            )
            results = [f.result(timeout=30) for f in held]
    assert [r[0] for r in results] == [200] * 4, results
    assert all(r[1]["model_version"] == "2.0.0" for r in results)
    assert all(r[1]["outputs"][0]["data"] == [0, 3, 6, 9] for r in results)


def test_a_notice_holds_only_until_the_deadline(tmp_path: Path, fake_stage_factory: Callable) -> None:
    """No new chain within the deadline after the notice: the dispatcher is unready and refuses (503)."""
    files, chain = _version_free(tmp_path, deadlineSeconds=2.0, maxAttempts=1)
    with chain:
        old = fake_stage_factory(files.data_ports[0], files.result_port, "plan-a", "1.0.0", double)
        assert wait_ready(files.url, 30)
        _leave(old)
        assert _get(files.url + "/v2/health/ready")[0] == 200
        assert wait_for(lambda: _get(files.url + "/v2/health/ready")[0] == 503, 15)
        status, reply, headers = _post(files.url + "/v2/models/toy/infer", _tensor_body())
    assert status == 503 and headers.get("Retry-After") == "1", reply
