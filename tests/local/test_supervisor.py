"""The process supervisor with tiny HTTP servers on loopback: readiness, restarts, clean stops, state file."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seifer_iac.local import runstate
from seifer_iac.local.supervisor import NotReady, ProcessSpec, RestartPolicy, Supervisor
from tests.local.helpers import REPO, alive, child_env, children_of, eventually, free_port, server_argv

pytestmark = pytest.mark.slow

FAST = RestartPolicy(initial_backoff_s=0.1, max_backoff_s=0.4, reset_after_s=30.0)


def _server(name: str, with_child: bool = False) -> ProcessSpec:
    port = free_port()
    return ProcessSpec(
        name, server_argv(port, with_child=with_child), ready_url=f"http://127.0.0.1:{port}/healthz"
    )


def _group_pids(sup: Supervisor) -> list[int]:
    pids = [s.pid for s in sup.status() if s.pid]
    return pids + [child for pid in pids for child in children_of(pid)]


def test_spec_normalises_env_and_prefix_and_rejects_bad_names() -> None:
    spec = ProcessSpec("s", ["python"], env={"B": "2", "A": "1"}, prefix=["ip", "netns", "exec", "x"])  # type: ignore[arg-type]
    assert spec.env == (("A", "1"), ("B", "2"))
    assert spec.command == ("ip", "netns", "exec", "x", "python")
    with pytest.raises(ValueError, match="name"):
        ProcessSpec("a/b", ("python",))
    with pytest.raises(ValueError, match="empty argv"):
        ProcessSpec("a", ())


def test_ready_then_stopped_with_nothing_left(tmp_path: Path) -> None:
    specs = [_server("stage-1", with_child=True), _server("dispatcher")]
    out = io.StringIO()
    with Supervisor(tmp_path, specs, grace_s=2) as sup:
        statuses = sup.wait_ready(20, stream=out)
        assert [s.phase for s in statuses] == ["ready", "ready"]
        eventually(lambda: len(_group_pids(sup)) == 3, what="the stage's child")
        pids = _group_pids(sup)
        state = json.loads((tmp_path / "state.json").read_text())
        assert sorted(state["processes"]) == ["dispatcher", "stage-1"]
    shown = out.getvalue()
    assert "stage-1" in shown and "ready" in shown and "restarts 0" in shown
    assert not any(alive(pid) for pid in pids)
    assert not (tmp_path / "state.json").exists()
    assert "serving" in (tmp_path / "logs" / "stage-1.log").read_text()


def test_a_killed_process_is_restarted_with_backoff_and_counted(tmp_path: Path) -> None:
    with Supervisor(tmp_path, [_server("stage-1")], policy=FAST, grace_s=2) as sup:
        sup.wait_ready(20, stream=io.StringIO())
        (before,) = sup.status()
        sup.kill("stage-1", signal.SIGKILL)
        eventually(lambda: sup.status()[0].restarts == 1 and sup.status()[0].running, what="a restart")
        (after,) = sup.wait_ready(20, stream=io.StringIO())
        assert after.pid != before.pid and after.ready and after.last_exit == -signal.SIGKILL
        state = runstate.read_state(tmp_path)
        assert state is not None and state["processes"]["stage-1"]["pid"] == after.pid
        assert state["processes"]["stage-1"]["restarts"] == 1
    log = (tmp_path / "logs" / "stage-1.log").read_text()
    assert "start #1" in log and "exited with -9" in log


def test_a_crash_loop_backs_off_and_reports_the_log_tail(tmp_path: Path) -> None:
    crash = ProcessSpec(
        "bad", (sys.executable, "-c", "print('no weights here'); raise SystemExit(3)"), ready_url=None
    )
    with Supervisor(tmp_path, [crash], policy=FAST, grace_s=1) as sup:
        with pytest.raises(NotReady) as err:
            sup.wait_ready(1.5, stream=io.StringIO())
        restarts = sup.status()[0].restarts
    assert 2 <= restarts <= 8  # backoff 0.1, 0.2, 0.4, 0.4...: not a tight loop
    assert "bad" in str(err.value) and "no weights here" in str(err.value)


def test_without_restart_a_dead_process_stays_dead(tmp_path: Path) -> None:
    spec = ProcessSpec("once", (sys.executable, "-c", "raise SystemExit(0)"))
    with Supervisor(tmp_path, [spec], policy=RestartPolicy(restart=False)) as sup:
        eventually(lambda: sup.status()[0].last_exit == 0, what="the exit")
        assert sup.status()[0].restarts == 0 and not sup.status()[0].running
        with pytest.raises(ProcessLookupError):
            sup.kill("once", signal.SIGTERM)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\ntime.sleep(600)"
    )
    with Supervisor(
        tmp_path, [ProcessSpec("stubborn", (sys.executable, "-c", stubborn))], grace_s=0.5
    ) as sup:
        eventually(lambda: "up" in (tmp_path / "logs" / "stubborn.log").read_text(), what="startup")
        (status,) = sup.status()
    assert status.pid is not None and not alive(status.pid)


def test_progress_on_a_terminal_redraws_in_place(tmp_path: Path) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with Supervisor(tmp_path, [_server("one"), _server("two")]) as sup:
        sup.wait_ready(20, stream=out)
    assert "\x1b[2F" in out.getvalue() or out.getvalue().count("\x1b[2K") == 2


def _start_child(run_dir: Path, pipeline: str, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.local.child", str(run_dir), pipeline, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return proc


def _recorded_pids(run_dir: Path) -> list[int]:
    state = runstate.read_state(run_dir)
    assert state is not None
    pids = [int(p["pid"]) for p in state["processes"].values()]
    return pids + [child for pid in pids for child in children_of(pid)]


def test_stop_from_another_process_via_the_state_file(tmp_path: Path) -> None:
    proc = _start_child(tmp_path, "sup-stop", "plain")
    pids = _recorded_pids(tmp_path)
    assert len(pids) == 4  # two servers, each with a child
    signalled = runstate.stop_recorded(tmp_path)
    assert signalled[0] == f"supervisor:{proc.pid}"
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert not any(alive(pid) for pid in pids)
    assert runstate.read_state(tmp_path) is None


def test_stop_after_the_supervisor_itself_was_killed(tmp_path: Path) -> None:
    proc = _start_child(tmp_path, "sup-crash", "plain")
    pids = _recorded_pids(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    assert all(alive(pid) for pid in pids)  # orphans: what `seifer down --local` must clean up
    signalled = runstate.stop_recorded(tmp_path, grace_s=2)
    assert sorted(signalled) == ["one:SIGTERM", "two:SIGTERM"]
    eventually(lambda: not any(alive(pid) for pid in pids), what="the orphans to end")
    assert runstate.stop_recorded(tmp_path) == []  # nothing recorded any more


def test_replace_recreates_only_the_named_process_as_a_new_pod(tmp_path: Path) -> None:
    specs = [_server("stage-1"), _server("dispatcher")]
    prepared = []
    with Supervisor(tmp_path, specs, grace_s=2, policy=FAST) as sup:
        sup.wait_ready(20, stream=io.StringIO())
        before = {s.name: s.pid for s in sup.status()}
        sup.kill("stage-1")
        eventually(lambda: next(s for s in sup.status() if s.name == "stage-1").restarts == 1, what="restart")
        sup.wait_ready(20, stream=io.StringIO())
        replacement = _server("stage-1")
        sup.replace([replacement], prepare=prepared.append)
        after = {s.name: s for s in sup.status()}
        assert prepared == ["stage-1"]
        assert after["dispatcher"].pid == before["dispatcher"]  # untouched
        assert after["stage-1"].pid != before["stage-1"] and after["stage-1"].restarts == 0
        assert not after["stage-1"].ready  # a new pod: ready only once its probe answers
        sup.wait_ready(20, stream=io.StringIO())
        state = json.loads((tmp_path / "state.json").read_text())
        assert state["processes"]["stage-1"]["argv"] == list(replacement.command)
    assert "replaced: its pod template changed" in (tmp_path / "logs" / "stage-1.log").read_text()
