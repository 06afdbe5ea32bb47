"""A model-version bump under load, end to end: every request answered, by the version that computed it.

Real processes started by the real CLI (`seifer up --local`, then `seifer up --local` again with the bumped
spec, as a user would), real ZeroMQ with CURVE, LiteRT stages, a real Keras model (weights=None) and a
second one with other weights as version 2. A client streams requests from two threads throughout; the
bump replaces every stage (Recreate) and not the dispatcher, which holds requests until the new chain
answers. No timing is asserted beyond "nothing failed": the longest latency in the bump window is printed
(`-s`) and recorded as a test property. Run on loopback, and as root also on the emulated cluster (a network
namespace per node, rate-limited links, a memory cgroup per pod and CPU quotas per node), where the
replaced processes must rejoin their node's namespace and cgroups.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from seifer_iac.local import cgroups, netns
from tests.e2e.conftest import build_tiny_model, free_port, reference_outputs, tiny_input

ROOT = Path(__file__).resolve().parents[2]
NAME = "tiny-roll"
SPEC = """\
apiVersion: seifer.dev/v1alpha1
kind: Pipeline
metadata: {{name: {name}, namespace: e2e}}
model: {{file: {model}, version: "{version}", inputShape: [512]}}
cluster:
  nodes:
    - {{name: gw, memory: 1Gi, schedulable: false}}
    - {{name: n1, memory: 90Mi}}
    - {{name: n2, memory: 90Mi}}
    - {{name: n3, memory: 90Mi}}
    - {{name: n4, memory: 90Mi}}
  bandwidth: {{default: 1Gbps}}
dispatcher: {{node: gw, port: {port}, deadline: 60s}}
runtime: {{image: seifer-runtime:test, codec: lz4, queueDepth: 2}}
planner: {{objective: communication}}
weights: {{chunkSize: 512Ki}}
"""
GENEROUS_S = 300  # a loaded 2-core CI host converts, starts and loads slowly; nothing here is a benchmark


@dataclass(frozen=True)
class Answer:
    index: int
    sent: float
    done: float
    status: int
    version: str | None
    output: np.ndarray | None


def _post(url: str, index: int) -> tuple[int, dict]:
    body = {
        "id": str(index),
        "inputs": [
            {"name": "features", "shape": [1, 512], "datatype": "FP32", "data": tiny_input(index)[0].tolist()}
        ],
    }
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=GENEROUS_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError as error:
        return 0, {"error": str(error)}


class Client:
    """Two threads sending requests back to back until stopped; every answer kept."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self.lock = url, [], threading.Lock()
        self.stop, self.counter = threading.Event(), iter(range(10**6))
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                index = next(self.counter)
            sent = time.monotonic()
            status, reply = _post(self.url, index)
            output = np.asarray(reply["outputs"][0]["data"], np.float32) if status == 200 else None
            answer = Answer(index, sent, time.monotonic(), status, reply.get("model_version"), output)
            with self.lock:
                self.answers.append(answer)

    def count(self, version: str, after: float = 0.0) -> int:
        with self.lock:
            return sum(a.version == version and a.sent >= after for a in self.answers)

    def wait_for(self, version: str, count: int, after: float = 0.0) -> None:
        deadline = time.monotonic() + GENEROUS_S
        while self.count(version, after) < count and time.monotonic() < deadline:
            time.sleep(0.05)


def _state(run_dir: Path) -> dict:
    return json.loads((run_dir / "state.json").read_text())


def _pids(run_dir: Path) -> dict[str, int]:
    return {name: entry["pid"] for name, entry in _state(run_dir)["processes"].items()}


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v2/health/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _cli(*args: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seifer_iac.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def _dispatcher_url(log: Path, up: subprocess.Popen) -> str | None:
    """The URL `seifer up --local` prints (the gateway's namespace address when the network is emulated)."""
    deadline = time.monotonic() + GENEROUS_S
    while up.poll() is None and time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("dispatcher: http://"):
                return line.split()[1].split("/v2/")[0]
        time.sleep(0.2)
    return None


def _emulated_cluster_or_skip() -> None:
    for available in (netns.available, cgroups.available):
        ok, reason = available()
        if not ok:
            pytest.skip(f"cannot emulate the cluster here: {reason}")


@pytest.mark.parametrize("emulated", [False, True], ids=["loopback", "emulated-cluster"])
def test_a_version_bump_under_load_answers_every_request(
    tmp_path, tiny_model_path, record_property, emulated
):
    if emulated:
        _emulated_cluster_or_skip()
    v1, v2 = tmp_path / "tiny-v1.keras", tmp_path / "tiny-v2.keras"
    v1.write_bytes(tiny_model_path.read_bytes())
    model = build_tiny_model()  # the same architecture, other weights: answers tell the versions apart
    rng = np.random.default_rng(11)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(v2)
    port = free_port()
    spec = tmp_path / "roll.pipeline.yaml"
    spec.write_text(SPEC.format(name=NAME, model=v1.name, version="1", port=port))
    run_dir = tmp_path / "run"
    env = {**os.environ, "SEIFER_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    mode = "yes" if emulated else "no"
    flags = (f"--emulate-network={mode}", f"--limits={mode}", "--run-dir", str(run_dir))
    with open(tmp_path / "up.log", "wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "seifer_iac.cli", "up", "--local", str(spec), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    url = _dispatcher_url(tmp_path / "up.log", up) or f"http://127.0.0.1:{port}"
    client = Client(f"{url}/v2/models/{NAME}/infer")
    try:
        deadline = time.monotonic() + GENEROUS_S
        while not _ready(url) and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _ready(url), (tmp_path / "up.log").read_text()[-3000:]
        before = _pids(run_dir)
        for thread in client.threads:
            thread.start()
        client.wait_for("1", 20)

        spec.write_text(SPEC.format(name=NAME, model=v2.name, version="2", port=port))
        bump_start = time.monotonic()
        bumped = _cli("up", "--local", str(spec), *flags, env=env, timeout=GENEROUS_S * 2)
        bump_end = time.monotonic()
        assert bumped.returncode == 0, bumped.stderr[-3000:]
        client.wait_for("2", 20, after=bump_end)
        client.stop.set()
        for thread in client.threads:
            thread.join(GENEROUS_S)
        after = _pids(run_dir)
    finally:
        client.stop.set()
        down = _cli("down", "--local", str(spec), "--run-dir", str(run_dir), env=env, timeout=120)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    assert down.returncode == 0, down.stderr

    # the bump replaced every stage (Recreate) and not the dispatcher
    stages = sorted(name for name in before if "-stage-" in name)
    assert len(stages) >= 3, "the spec is meant to force a chain"
    assert "replaced (Recreate): " + ", ".join(stages) in bumped.stderr, bumped.stderr[-2000:]
    dispatcher = f"{NAME}-dispatcher"
    assert after[dispatcher] == before[dispatcher], "the dispatcher was restarted"
    assert all(after[s] != before[s] for s in stages)
    assert not [pid for pid in {*before.values(), *after.values()} if _alive(pid)], "processes left behind"

    # every request answered (200), each by the version it says, v1 before the bump and v2 after it
    answers = sorted(client.answers, key=lambda a: a.index)
    failed = [(a.index, a.status) for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:10]}"
    assert {a.version for a in answers} == {"1", "2"}
    assert all(a.version == "1" for a in answers if a.done < bump_start)
    assert all(a.version == "2" for a in answers if a.sent > bump_end)
    inputs = np.concatenate([tiny_input(a.index) for a in answers])
    expected = {"1": reference_outputs(v1, inputs), "2": reference_outputs(v2, inputs)}
    for row, answer in enumerate(answers):
        np.testing.assert_allclose(answer.output, expected[answer.version][row], rtol=0, atol=1e-4)
        other = expected["2" if answer.version == "1" else "1"][row]
        assert np.abs(answer.output - other).max() > 1e-2  # the versions really differ

    window = [a for a in answers if a.done >= bump_start and a.sent <= bump_end]
    longest = max(a.done - a.sent for a in window)
    usual = float(np.median([a.done - a.sent for a in answers if a.done < bump_start]))
    record_property("rollout_requests", len(answers))
    record_property("rollout_longest_latency_s", round(longest, 3))
    print(
        f"\nrollout ({'emulated cluster' if emulated else 'loopback'}): {len(answers)} requests, 0 failed; "
        f"{len(window)} in the bump window "
        f"({bump_end - bump_start:.1f} s, the second `seifer up` included), longest latency {longest:.2f} s "
        f"(median before the bump {usual * 1000:.1f} ms)"
    )
