"""`seifer down --local` building blocks: stop a run owned by another process and leave nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seifer_iac.local import netns, runstate, teardown
from seifer_iac.local.netns import EmulatorConfig
from tests.local.helpers import REPO, alive, child_env, children_of

pytestmark = [pytest.mark.slow, pytest.mark.netns]


@pytest.fixture(scope="module")
def root_netns() -> None:
    ok, reason = netns.available()
    if not ok:
        pytest.skip(reason)


def _start(run_dir: Path, pipeline: str) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.local.child", str(run_dir), pipeline, "netns"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    state = runstate.read_state(run_dir)
    assert state is not None and state["netns"] and state["pipeline"] == pipeline
    pids = [int(p["pid"]) for p in state["processes"].values()]
    return proc, pids + [child for pid in pids for child in children_of(pid)]


def _ours(pipeline: str) -> list[str]:
    config = EmulatorConfig(pipeline, ("a",), ())
    return [ns for ns in netns.list_netns() if ns.startswith(config.prefix)] + [
        link for link in netns.list_links() if link == config.host_link
    ]


def test_default_run_dir_is_per_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEIFER_STATE_DIR", str(tmp_path))
    assert teardown.default_run_dir("p1") == tmp_path / "local" / "p1"


def test_down_stops_a_running_emulated_pipeline(root_netns: None, tmp_path: Path) -> None:
    pipeline = f"tdown-{id(tmp_path) % 10_000}"
    proc, pids = _start(tmp_path, pipeline)
    assert len(pids) == 4 and len(_ours(pipeline)) == 4
    report = teardown.down(tmp_path)
    assert report.recorded and report.signalled[0] == f"supervisor:{proc.pid}"
    assert proc.wait(timeout=15) == 143
    assert not any(alive(pid) for pid in pids)
    assert _ours(pipeline) == []


def test_down_after_a_crash_removes_orphans_and_namespaces(root_netns: None, tmp_path: Path) -> None:
    pipeline = f"tcrash-{id(tmp_path) % 10_000}"
    proc, pids = _start(tmp_path, pipeline)
    proc.kill()
    proc.wait(timeout=10)
    assert all(alive(pid) for pid in pids) and len(_ours(pipeline)) == 4
    report = teardown.down(tmp_path, grace_s=2)
    assert report.recorded and sorted(report.namespaces_removed)
    assert not any(alive(pid) for pid in pids)
    assert _ours(pipeline) == []
    again = teardown.down(tmp_path, pipeline=pipeline)
    assert not again.recorded and again.signalled == () and again.namespaces_removed == ()
