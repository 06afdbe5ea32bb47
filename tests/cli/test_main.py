"""The `seifer` entry point: help that teaches, lazy subcommands, validate's exit codes."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seifer_iac.cli.bench import BENCHES
from seifer_iac.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]


def run_seifer(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-c", "from seifer_iac.cli.main import cli; cli()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_top_help_lists_every_command_with_examples():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    assert "Examples:" in result.output


def test_help_does_not_import_tensorflow_or_pulumi():
    code = (
        "import sys; from click.testing import CliRunner; from seifer_iac.cli.main import cli;"
        "CliRunner().invoke(cli, ['validate', '--help']);"
        "print(any(m.split('.')[0] in ('tensorflow', 'pulumi', 'zmq') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False"


def test_validate_accepts_the_dev_stack():
    result = run_seifer("validate", "stacks/dev.pipeline.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert "valid: pipeline mobilenet-dev" in result.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file"),
        ("kind: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_validate_rejects_bad_files_with_exit_2_and_no_traceback(tmp_path, content, words):
    path = tmp_path / "spec.yaml"
    if content is not None:
        path.write_text(content)
    result = run_seifer("validate", str(path))
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_names_the_field(tmp_path):
    text = (ROOT / "stacks" / "dev.pipeline.yaml").read_text().replace("memory: 512Mi", "memory: 512Mb")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = run_seifer("validate", str(path))
    assert result.returncode == 2
    assert 'cluster.nodes[4].memory: "512Mb" is not a size; use Ki, Mi, Gi' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_help_has_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_every_benchmark_help_has_an_example(name):
    result = CliRunner().invoke(cli, ["bench", name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
