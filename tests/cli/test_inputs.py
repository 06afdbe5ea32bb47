"""What `plan`, `render` and `up` check before planning: the spec, the plan lock beside it, the profile
against the spec; and `--write-lock` into a folder that cannot be written."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from seifer_iac.cli.main import cli
from tests.cli.bad_inputs import LOCK, PROFILE, SPEC, base_spec, dump_yaml
from tests.planner.conftest import toy_profile_json


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / SPEC).write_text(dump_yaml(base_spec()))
    (tmp_path / PROFILE).write_text(toy_profile_json())
    return tmp_path


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """A folder no one may write into: `chattr +i` as root (root ignores modes), else mode 555."""
    if os.geteuid() == 0:
        if (
            not shutil.which("chattr")
            or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
        ):
            pytest.skip("cannot make a read-only folder here (chattr +i refused)")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)


def test_write_lock_into_a_read_only_folder_is_one_line(folder: Path) -> None:
    with read_only(folder):
        result = CliRunner().invoke(cli, ["plan", str(folder / SPEC), "--write-lock"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not (folder / LOCK).exists()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(folder / LOCK) in errors[0] and "--write-lock" in errors[0]


def test_a_good_lock_passes_the_preflight_and_check(folder: Path) -> None:
    assert CliRunner().invoke(cli, ["plan", str(folder / SPEC), "--write-lock"]).exit_code == 0
    result = CliRunner().invoke(cli, ["plan", str(folder / SPEC), "--check"])
    assert result.exit_code == 0, result.output


def test_a_broken_lock_stops_render_before_any_model_work(folder: Path) -> None:
    (folder / LOCK).write_text("[]")
    result = CliRunner().invoke(cli, ["render", str(folder / SPEC), "-o", str(folder / "out")])
    assert result.exit_code == 2 and "plan lock" in result.output and LOCK in result.output
    assert not (folder / "out").exists()
