"""`seifer up --local` end to end: a real model, real processes, real HTTP requests, clean shutdown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from seifer_iac.bench.load import drive
from seifer_iac.local import cgroups, netns
from seifer_iac.local.runner import LocalOptions, run_local
from seifer_iac.release import build_release
from tests.e2e.conftest import reference_outputs, tiny_input

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _pids(running) -> list[int]:
    return [s.pid for s in running.supervisor.status() if s.pid]


def _answers_and_reference(tmp_path, running, spec, count, concurrency, kill=None):
    outputs: dict[int, np.ndarray] = {}
    killed = []

    def keep(index, output):
        outputs[index] = output
        if kill and len(outputs) == count // 3 and not killed:
            killed.append(kill())

    result = drive(
        running.dispatcher_url, spec.name, tiny_input, count, concurrency, timeout_s=60, on_answer=keep
    )
    inputs = np.concatenate([tiny_input(i) for i in range(count)])
    expected = reference_outputs(tmp_path / "tiny.keras", inputs)
    return result, outputs, expected, killed


def test_up_local_answers_equal_the_unsplit_model_and_leaves_nothing(tmp_path, tiny_spec):
    release = build_release(tiny_spec())
    assert len(release.plan.stages) >= 3, "the spec is meant to force a chain"
    with run_local(release, LocalOptions(run_dir=tmp_path / "run")) as running:
        pids = _pids(running)
        assert len(pids) == len(release.plan.stages) + 1
        result, outputs, expected, _ = _answers_and_reference(tmp_path, running, release.spec, 30, 4)
    assert result.errors == ()
    assert sorted(outputs) == list(range(30))
    for index, output in outputs.items():
        np.testing.assert_allclose(output[0], expected[index], rtol=0, atol=1e-5)
    assert not [pid for pid in pids if _alive(pid)], "processes left after shutdown"


def test_a_killed_stage_is_restarted_and_every_request_is_answered_once(tmp_path, tiny_spec):
    release = build_release(tiny_spec(deadline="10s"))  # the default deadline
    with run_local(release, LocalOptions(run_dir=tmp_path / "run")) as running:
        victim = running.stage_process(2)
        before = {s.name: s.restarts for s in running.supervisor.status()}

        def kill():
            running.supervisor.kill(victim)
            return victim

        result, outputs, expected, killed = _answers_and_reference(
            tmp_path, running, release.spec, 200, 6, kill
        )
        after = {s.name: s.restarts for s in running.supervisor.status()}
    assert killed == [victim]
    assert after[victim] == before[victim] + 1
    assert result.errors == ()
    assert result.answered == 200 and sorted(outputs) == list(range(200))
    for index, output in outputs.items():
        np.testing.assert_allclose(output[0], expected[index], rtol=0, atol=1e-5)


def test_emulated_network_runs_and_removes_its_namespaces(tmp_path, tiny_spec):
    ok, reason = netns.available()
    if not ok:
        pytest.skip(f"cannot make network namespaces here: {reason}")
    release = build_release(tiny_spec(bandwidth="50Mbps"))
    prefix = netns.name_prefix(release.spec.name)
    with run_local(release, LocalOptions(run_dir=tmp_path / "run", emulate_network=True)) as running:
        assert running.dispatcher_url.startswith("http://10.213.")
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert prefix in listed
        result, outputs, expected, _ = _answers_and_reference(tmp_path, running, release.spec, 12, 4)
    assert result.errors == ()
    for index, output in outputs.items():
        np.testing.assert_allclose(output[0], expected[index], rtol=0, atol=1e-5)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert prefix not in listed


def test_up_local_demo_through_the_cli(tmp_path, tiny_spec):
    spec_path = tiny_spec(codec="lz4")
    env = {**os.environ, "SEIFER_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seifer_iac.cli",
            "up",
            "--local",
            str(spec_path),
            "--emulate-network=no",
            "--demo",
            "--requests",
            "12",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "12/12 answered, 0 errors" in done.stdout
    if cgroups.available()[0]:  # as root the defaults enforce node limits and say what bounds the rate
        assert "node limits enforced" in done.stderr and "host speed:" in done.stderr
        assert "node time    per inference (CPU used / CPU quota):" in done.stdout
    difference = re.search(r"max abs difference (\S+)", done.stdout)
    assert difference and float(difference.group(1)) <= 1e-5, done.stdout
    memory = re.findall(r"memory       (\S+): peak (\d+) MiB of a (\d+) MiB limit", done.stdout)
    assert len(memory) == 4, done.stdout  # three stages and the dispatcher
    assert all(int(peak) <= int(limit) for _, peak, limit in memory), done.stdout
    assert "Traceback" not in done.stderr
    down = subprocess.run(
        [sys.executable, "-m", "seifer_iac.cli", "down", "--local", str(spec_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_killed_litert_stage_is_ready_again_within_seconds(tmp_path, tiny_spec):
    """SIGKILL to ready (restarted, weights verified, interpreter built and warmed): about a second on an
    idle 2-core machine (`seifer bench backends` measures start-to-ready); the bound here is loose on
    purpose, so a loaded CI machine does not flake, yet a TensorFlow stage (5-10 s) would fail it."""
    release = build_release(tiny_spec())
    assert release.spec.runtime.backend == "litert"
    with run_local(release, LocalOptions(run_dir=tmp_path / "run")) as running:
        victim = running.stage_process(2)
        url = next(p.ready_url for p in running.pods if p.name == victim)
        assert _ready(url)
        start = time.monotonic()
        running.supervisor.kill(victim)
        while _ready(url) and time.monotonic() - start < 5:
            time.sleep(0.01)  # until the old process is gone
        while not _ready(url) and time.monotonic() - start < 30:
            time.sleep(0.02)
        recovery = time.monotonic() - start
    assert recovery < 4.0, f"stage ready again after {recovery:.2f} s"
