"""`seifer probe --local`'s command line: what it refuses before it builds anything, in one line, exit 2.

The run itself is tests/e2e/test_probe_local.py (root only).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from seifer_iac.cli.main import cli
from seifer_iac.probe import local
from tests.planner.conftest import spec_document, toy_profile_json


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    """The planner tests' toy spec (a profile as the model: no TensorFlow is needed to refuse early)."""
    (tmp_path / "toy.profile.json").write_text(toy_profile_json())
    path = tmp_path / "dev.pipeline.yaml"
    path.write_text(yaml.safe_dump(spec_document()))
    return path


def _errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def test_without_namespaces_and_cgroups_it_says_so_in_one_line_and_exits_2(
    spec_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "available", lambda: (False, "this process is not root"))
    result = CliRunner().invoke(cli, ["probe", str(spec_path), "--local", "--out", "-"])
    assert result.exit_code == 2
    (line,) = _errors(result)
    assert "this process is not root" in line and "run it as root" in line and "loopback" in line


@pytest.mark.parametrize(
    ("pairs", "named"),
    [
        ("gateway:pi-9", "no node 'pi-9'"),
        ("gateway", "not FROM:TO"),
        ("pi-1:pi-1", "to itself"),
        (",", "no pair given"),
    ],
)
def test_a_bad_pairs_list_is_one_line_naming_the_pair(spec_path: Path, pairs: str, named: str) -> None:
    result = CliRunner().invoke(
        cli, ["probe", str(spec_path), "--local", "--out", "m.yaml", "--pairs", pairs]
    )
    assert result.exit_code == 2
    (line,) = _errors(result)
    assert named in line and line.startswith("error: --pairs:")


def test_a_bad_spec_stops_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pipeline\n")
    result = CliRunner().invoke(cli, ["probe", str(bad), "--local", "--out", "m.yaml"])
    assert result.exit_code == 2 and _errors(result)
    assert "Traceback" not in result.output


def test_local_needs_an_out_file_and_not_render(spec_path: Path, tmp_path: Path) -> None:
    for extra in ([], ["--out", "m.yaml", "--render", str(tmp_path / "r")]):
        result = CliRunner().invoke(cli, ["probe", str(spec_path), "--local", *extra])
        assert result.exit_code == 2
        (line,) = _errors(result)
        assert "--local measures the emulated cluster and writes --out FILE" in line


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["probe", "measure", "--help"])
    assert result.exit_code == 0 and "--local --out stacks/cluster.measured.yaml" in result.output
