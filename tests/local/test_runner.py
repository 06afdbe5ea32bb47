"""The local runner's guards: a second run over a live one, ports already taken, emulation choice."""

from __future__ import annotations

import os
import socket

import pytest

from seifer_iac.local import runstate
from seifer_iac.local.pods import LocalPod
from seifer_iac.local.procs import proc_start_ticks
from seifer_iac.local.runner import (
    LocalRunError,
    busy_ports,
    check_not_running,
    resolve_emulation,
    write_pod_files,
)


def _pod(ports):
    return LocalPod(
        "p-stage-1", "n1", "stage", ("true",), (), (("etc/a.json", b"{}"),), ("tmp",), "http://x", ports
    )


def test_busy_ports_finds_a_port_another_program_holds():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            free = spare.getsockname()[1]
        assert busy_ports([_pod((taken, free))]) == [("p-stage-1", taken)]


def test_a_live_recorded_run_is_refused(tmp_path):
    parent = os.getppid()  # alive, and not us
    runstate.write_state(tmp_path, {"supervisor": {"pid": parent, "start_ticks": proc_start_ticks(parent)}})
    with pytest.raises(LocalRunError, match="already recorded"):
        check_not_running(tmp_path, "spec.yaml")


def test_a_dead_recorded_run_is_no_obstacle(tmp_path):
    runstate.write_state(tmp_path, {"supervisor": {"pid": 2**22 - 1, "start_ticks": 1}})
    check_not_running(tmp_path, "spec.yaml")
    check_not_running(tmp_path / "empty", "spec.yaml")


def test_pod_files_replace_an_earlier_run(tmp_path):
    root = tmp_path / "pod"
    (root / "stale").mkdir(parents=True)
    write_pod_files(_pod(()), root)
    assert (root / "etc" / "a.json").read_bytes() == b"{}"
    assert (root / "tmp").is_dir() and not (root / "stale").exists()


def test_emulation_can_be_turned_off():
    assert resolve_emulation("no")[0] is False


def test_apply_refuses_what_a_running_emulator_cannot_follow_and_skips_no_change(tmp_path) -> None:
    from seifer_iac.local.runner import RunningPipeline, apply_manifests
    from tests.local.test_apply import OLD, _deployment

    secret = {"kind": "Secret", "metadata": {"name": "p-curve"}}
    running = RunningPipeline("http://x", (), None, None, manifests=(*OLD, secret), run_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(LocalRunError, match=r"other Deployments \(\+p-stage-3\).*seifer down --local"):
        apply_manifests(running, [*OLD, _deployment("p-stage-3", "s3")])
    same, replaced = apply_manifests(running, OLD)  # a new release never brings its own keys
    assert replaced == () and secret in same.manifests
