"""Faults on a real 3-stage chain: kill -9 a stage mid-stream and bring it back; lose it for good.

Runs on the session chain (conftest) after test_e2e, with the last hop switched to ZFP in tolerance mode
(1e-3): answers must lie within 1e-3 of the unsplit model's.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from runtime.client import InferError, infer
from runtime.metrics import parse_text
from seifer_iac.bench.localchain import LocalChain, rewrite_dispatcher

from .conftest import TinySplit

pytestmark = pytest.mark.slow
TOLERANCE = 1e-3
REQUESTS = 240


@pytest.fixture(scope="module")
def zfp_chain(chain: LocalChain) -> LocalChain:
    """The session chain with its last hop switched to ZFP tolerance mode (stage 3 restarted)."""
    chain.kill("stage-3", signal.SIGTERM)
    chain.set_stage_codec(3, {"name": "zfp", "mode": "tolerance", "tolerance": TOLERANCE})
    chain.start_stage(3)
    chain.wait_stage_ready(3)
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

    def call(i: int) -> None:
        answers[i].append(infer(chain.files.url, "tiny", xs[i], input_name="input", timeout=120))
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


def test_a_stage_that_never_comes_back_gives_504_after_the_deadline(zfp_chain: LocalChain) -> None:
    chain = zfp_chain
    chain.kill("stage-2", signal.SIGKILL)
    chain.kill("dispatcher", signal.SIGTERM)
    rewrite_dispatcher(chain.files, deadlineSeconds=2.0, maxAttempts=2)
    chain.start_dispatcher()
    chain.wait_dispatcher_ready(30)  # stage 1 is still up, so the dispatcher is ready
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
    elapsed = time.monotonic() - start
    assert all(e is not None and e.status == 504 and "chain did not answer" in e.message for e in errors)
    assert elapsed < 6, elapsed
    assert dispatcher_metrics(chain)["seifer_dispatcher_failed_total"] == 6
