"""Faults on a real 3-stage chain: kill -9 a stage mid-stream and bring it back; lose it for good.

Runs on the session chain (conftest) after test_e2e, with the last hop switched to ZFP in tolerance mode
(1e-3): answers must lie within 1e-3 of the unsplit model's.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from runtime.client import InferError, infer
from runtime.metrics import parse_text
from seifer_iac.bench.localchain import LocalChain, rewrite_dispatcher

from .conftest import TinySplit, wait_for

pytestmark = pytest.mark.slow
TOLERANCE = 1e-3
REQUESTS = 240


@pytest.fixture(scope="module")
def zfp_chain(chain: LocalChain) -> LocalChain:
    """The session chain with its last hop switched to ZFP tolerance mode (stage 3 and the dispatcher,
    which accepts only the codec its config names, restarted)."""
    chain.kill("stage-3", signal.SIGTERM)
    chain.kill("dispatcher", signal.SIGTERM)
    chain.set_stage_codec(3, {"name": "zfp", "mode": "tolerance", "tolerance": TOLERANCE})
    chain.start_stage(3)
    chain.start_dispatcher()
    chain.wait_all_ready(120.0)
    return chain


def test_zfp_last_hop_stays_within_the_tolerance(zfp_chain: LocalChain, tiny_split: TinySplit) -> None:
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(10):
        x = rng.standard_normal((1, 8, 8, 3)).astype(np.float32) * 3
        y = infer(zfp_chain.files.url, "tiny", x, input_name="input")
        worst = max(worst, float(np.max(np.abs(y - tiny_split.reference(x)))))
    assert 0 < worst <= TOLERANCE  # lossy, but within the bound


def dispatcher_metrics(local: LocalChain) -> dict[str, float]:
    with urllib.request.urlopen(local.files.url + "/metrics", timeout=5) as resp:
        return parse_text(resp.read().decode())


def test_kill_9_a_stage_mid_stream_every_request_answered_once_and_right(
    zfp_chain: LocalChain, tiny_split: TinySplit
) -> None:
    chain = zfp_chain
    xs = [np.random.default_rng(i).standard_normal((1, 8, 8, 3)).astype(np.float32) for i in range(REQUESTS)]
    before = dispatcher_metrics(chain)
    done = threading.Semaphore(0)
    answers: list[list[np.ndarray]] = [[] for _ in range(REQUESTS)]

    def call(i: int) -> None:  # a client that honours 503 + Retry-After, as the protocol asks
        while True:
            try:
                answers[i].append(infer(chain.files.url, "tiny", xs[i], input_name="input", timeout=120))
                break
            except InferError as exc:  # the chain is down while stage 2 restarts: 503 at once
                if exc.status != 503:
                    raise
                time.sleep(0.5)
        done.release()

    def saboteur() -> None:
        for _ in range(40):
            done.acquire()
        chain.kill("stage-2", signal.SIGKILL)
        time.sleep(0.3)
        chain.start_stage(2)

    killer = threading.Thread(target=saboteur)
    killer.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(REQUESTS)))
    killer.join(30)

    assert all(len(a) == 1 for a in answers)
    for x, (y,) in zip(xs, answers, strict=True):
        assert float(np.max(np.abs(y - tiny_split.reference(x)))) <= TOLERANCE
    after = dispatcher_metrics(chain)
    ok = 'seifer_dispatcher_requests_total{code="200"}'
    assert after[ok] - before.get(ok, 0) == REQUESTS
    assert after["seifer_dispatcher_resends_total"] > before.get("seifer_dispatcher_resends_total", 0)
    assert after["seifer_dispatcher_in_flight"] == 0
    chain.wait_stage_ready(2)


def test_a_stage_that_never_comes_back_gives_504_then_503_at_once(zfp_chain: LocalChain) -> None:
    """Requests caught in the chain when stage 2 dies end with 504 at the deadline (or 503 if readiness
    already saw it); then the dispatcher's probe finds the chain broken: unready, and 503 at once."""
    chain = zfp_chain
    chain.kill("dispatcher", signal.SIGTERM)
    rewrite_dispatcher(chain.files, deadlineSeconds=2.0, maxAttempts=2)
    chain.start_dispatcher()
    chain.wait_dispatcher_ready(30)  # the whole chain answers its probe
    chain.kill("stage-2", signal.SIGKILL)
    x = np.zeros((1, 8, 8, 3), np.float32)
    start = time.monotonic()

    def call(_: int) -> InferError | None:
        try:
            infer(chain.files.url, "tiny", x, input_name="input", timeout=30)
        except InferError as exc:
            return exc
        return None

    with ThreadPoolExecutor(6) as pool:
        errors = list(pool.map(call, range(6)))
    assert time.monotonic() - start < 6
    assert all(e is not None and e.status in (503, 504) for e in errors), errors
    timed_out = sum(e.status == 504 and "chain did not answer" in e.message for e in errors if e)
    assert dispatcher_metrics(chain).get("seifer_dispatcher_failed_total", 0) == timed_out

    def unready() -> bool:
        try:
            with urllib.request.urlopen(chain.files.url + "/v2/health/ready", timeout=5):
                return False
        except urllib.error.HTTPError as exc:
            return exc.code == 503 and "probe" in json.loads(exc.read())["reason"]

    assert wait_for(unready, 10)
    start = time.monotonic()
    with pytest.raises(InferError) as info:
        infer(chain.files.url, "tiny", x, input_name="input", timeout=30)
    assert info.value.status == 503 and time.monotonic() - start < 1
