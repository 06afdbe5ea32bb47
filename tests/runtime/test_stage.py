"""Stage worker: the pure per-frame logic, the compiled runner, and the process's failure behaviour."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from runtime.codecs import CodecSpec
from runtime.frames import Decoded, Expect, Header, Rejected, decode, encode
from runtime.stage import Identity, handle
from seifer_iac.bench.localchain import LocalChain, write_chain

from .conftest import wait_for

IDENT = Identity(Expect("plan-a", "1.0.0", 2, "float32", (1, 6), CodecSpec("none")), CodecSpec("lz4"))


def frames_for(**kw: object) -> list:
    base = {"request_id": 9, "attempt": 3, "plan_hash": "plan-a", "model_version": "1.0.0", "stage": 2}
    return encode(Header(**{**base, **kw}), np.arange(6, dtype=np.float32).reshape(1, 6))  # type: ignore[arg-type]


def test_handle_runs_and_forwards_to_the_next_stage() -> None:
    out = handle(frames_for(deadline=time.time() + 60), IDENT, lambda a: a + 1, time.time())
    decoded = decode(out)  # type: ignore[arg-type]
    assert isinstance(decoded, Decoded)
    h = decoded.header
    assert (h.request_id, h.attempt, h.stage, h.plan_hash, h.codec.name) == (9, 3, 3, "plan-a", "lz4")
    np.testing.assert_array_equal(decoded.array, np.arange(1, 7, dtype=np.float32).reshape(1, 6))


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"plan_hash": "plan-b"}, "plan_hash"),
        ({"model_version": "0.9.0"}, "model_version"),
        ({"stage": 1}, "wrong_stage"),
        ({"deadline": 1.0}, "expired"),
        ({"codec": CodecSpec("lz4")}, "codec"),
    ],
)
def test_handle_rejects_skew_misrouting_and_expired(kw: dict, reason: str) -> None:
    out = handle(frames_for(**kw), IDENT, lambda a: a, time.time())
    assert isinstance(out, Rejected) and out.reason == reason


def test_handle_refuses_a_tensor_other_than_the_configured_input_without_running_it() -> None:
    ran: list[np.ndarray] = []
    big = encode(Header(1, 1, "plan-a", "1.0.0", 2), np.zeros((64, 6), np.float32))  # a batch of 64
    other = encode(Header(1, 1, "plan-a", "1.0.0", 2), np.zeros((1, 7), np.float32))
    for frames in (big, other):
        out = handle(frames, IDENT, lambda a: ran.append(a) or a, time.time())
        assert isinstance(out, Rejected) and out.reason == "tensor"
    assert ran == []


def test_handle_turns_run_errors_into_rejects() -> None:
    def boom(_: np.ndarray) -> np.ndarray:
        raise ValueError("incompatible shape")

    out = handle(frames_for(), IDENT, boom, time.time())
    assert isinstance(out, Rejected) and out.reason == "run_error" and "incompatible shape" in out.detail
    assert handle([b"junk"], IDENT, boom, time.time()) == Rejected("frame_count", "expected 2 frames, got 1")


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def test_corrupt_weights_leave_the_stage_alive_unready_with_one_log_line(tmp_path: Path) -> None:
    files = write_chain(
        tmp_path,
        [b"partition bytes" * 100],
        input_spec={"name": "i", "shape": [1], "datatype": "FP32"},
        output_spec={"name": "o", "shape": [1], "datatype": "FP32"},
        codecs=[{"name": "none"}, {"name": "none"}],
        chunk_size=500,
    )
    chunk = tmp_path / "weights-1" / "stage1-0001"
    chunk.write_bytes(b"X" * 500)
    with LocalChain(files) as chain:
        chain.start_stage(1)
        url = files.stage_url(1)
        assert wait_for(
            lambda: _get(url + "/v2/health/ready")[1].get("reason", "").startswith("weight chunk"), 30
        )
        status, body = _get(url + "/v2/health/ready")
        assert status == 503 and "stage1-0001: sha256" in body["reason"]
        assert _get(url + "/v2/health/live") == (200, {"live": True})
        time.sleep(0.5)
        assert chain.procs["stage-1"].poll() is None  # alive: no crash loop
        errors = [line for line in chain.log("stage-1").splitlines() if " ERROR " in line]
        assert len(errors) == 1 and "stage1-0001" in errors[0]
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            assert "seifer_stage_ready 0" in resp.read().decode()
        proc = chain.procs["stage-1"]
        proc.send_signal(signal.SIGTERM)  # clean shutdown
        assert proc.wait(timeout=10) == 0


def test_bad_config_exits_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "stage.json"
    config.write_text(json.dumps({"role": "stage", "stage": 1}))
    proc = subprocess.run(
        [sys.executable, "-m", "runtime.stage", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "bad config: config field (top level):" in proc.stderr


def test_taken_http_port_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    files = write_chain(
        tmp_path,
        [b"x" * 10],
        input_spec={"name": "i", "shape": [1], "datatype": "FP32"},
        output_spec={"name": "o", "shape": [1], "datatype": "FP32"},
        codecs=[{"name": "none"}, {"name": "none"}],
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", files.stage_http_ports[0]))
        sock.listen()
        proc = subprocess.run(
            [sys.executable, "-m", "runtime.stage", "--config", str(files.stage_configs[0])],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1 and "cannot listen on 127.0.0.1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stage_1_stamps_version_free_input_with_its_own_plan_and_version() -> None:
    from runtime.frames import UNBOUND

    first = Identity(
        Expect("plan-a", "1.0.0", 1, "float32", (1, 6), CodecSpec("none"), accept_unbound=True),
        CodecSpec("none"),
    )
    out = handle(
        frames_for(stage=1, plan_hash=UNBOUND, model_version=UNBOUND), first, lambda a: a, time.time()
    )
    decoded = decode(out)  # type: ignore[arg-type]
    assert isinstance(decoded, Decoded)
    assert (decoded.header.plan_hash, decoded.header.model_version, decoded.header.stage) == (
        "plan-a",
        "1.0.0",
        2,
    )
    # later hops still refuse anything but their own chain's activations
    refused = handle(frames_for(plan_hash=UNBOUND, model_version=UNBOUND), IDENT, lambda a: a, time.time())
    assert isinstance(refused, Rejected) and refused.reason == "plan_hash"
