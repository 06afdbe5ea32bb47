"""`seifer probe`: render, collect, hostile input, and a re-measure seen by `seifer plan --diff`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seifer_iac.cli.main import cli
from tests.planner.conftest import NODES, spec_document, toy_profile_json

ROOT = Path(__file__).resolve().parents[2]
ALL = ("gateway", *NODES)


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, ["probe", *args], input=input, catch_exceptions=False)


def link_line(
    a: str, b: str, mbps: float, stamp: str = "2026-11-30T16:00:00.5Z", size: int = 4_000_000
) -> str:
    seconds = [size * 8 / (mbps * 1e6 * f) for f in (0.98, 1.0, 1.02)]
    result = {"seiferProbe": 1, "kind": "link", "from": a, "to": b, "bytes": size, "seconds": seconds,
              "bitsPerSecond": size * 8 / seconds[1], "error": None}  # fmt: skip
    return f"[pod/toy-dev-link-x/probe] {stamp} {json.dumps(result)}"


def rates(slow: tuple[str, str] | None = None) -> dict[tuple[str, str], float]:
    """Distinct rates for every directed pair (the planner then has one best chain); `slow` at 1 %."""
    out = {}
    for i, a in enumerate(ALL):
        for j, b in enumerate(ALL):
            if a != b:
                out[(a, b)] = 10.0 + 3.0 * ((i * 7 + j * 3) % 11)
    if slow:
        out[slow] *= 0.01
        out[slow[::-1]] *= 0.01
    return out


def logs(table: dict[tuple[str, str], float], stamp: str = "2026-11-30T16:00:00.5Z") -> str:
    return "\n".join(link_line(a, b, mbps, stamp) for (a, b), mbps in sorted(table.items())) + "\n"


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A spec whose model is a profile (no TensorFlow), with no bandwidths: cluster.measured gives them."""
    (tmp_path / "toy.profile.json").write_text(toy_profile_json())
    document = spec_document()
    document["cluster"]["bandwidth"] = {}
    document["cluster"]["measured"] = "cluster.measured.yaml"
    path = tmp_path / "dev.pipeline.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize("args", [["--help"], ["measure", "--help"], ["collect", "--help"]])
def test_every_help_has_an_example(args):
    result = run(*args)
    assert result.exit_code == 0 and "Example" in result.output


def test_render_without_speed_needs_no_model_and_is_byte_identical(toy, tmp_path):
    out = tmp_path / "probe"
    first = run(str(toy), "--render", str(out), "--no-speed")
    assert first.exit_code == 0, first.output
    assert "note: cluster.measured:" in first.output  # not measured yet: rendered without it
    assert "30 transfers in 10 rounds" in first.output
    texts = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "probe.sh" in texts and "010-round-10.yaml" in texts and "011-speed.yaml" not in texts
    again = run(str(toy), "--render", str(out), "--no-speed")  # a folder it rendered before: replaced
    assert again.exit_code == 0 and {p.name: p.read_bytes() for p in out.iterdir()} == texts
    assert (out / "probe.sh").stat().st_mode & 0o111


def test_render_a_subset_of_pairs(toy, tmp_path):
    result = run(str(toy), "--render", str(tmp_path / "p"), "--no-speed", "--pairs", "pi-1:pi-2,pi-2:pi-1")
    assert result.exit_code == 0, result.output
    assert "2 transfers in 2 rounds" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "say where to measure: --render DIR"),
        (["--render", "{out}", "--pairs", "pi-1:nowhere"], "no node 'nowhere'"),
        (["--render", "{out}", "--pairs", "pi-1"], "is not FROM:TO"),
        (["--render", "{mine}"], "did not write"),
    ],
)
def test_render_errors_are_one_line_and_exit_2(toy, tmp_path, args, words):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    args = [a.format(out=tmp_path / "out", mine=mine) for a in args]
    result = run(str(toy), *args, "--no-speed")
    assert result.exit_code == 2 and words in result.output
    assert "Traceback" not in result.output and (mine / "notes.txt").read_text() == "keep me"


def test_collect_from_stdin_is_deterministic_and_the_spec_reads_it(toy):
    out = toy.parent / "cluster.measured.yaml"
    result = run("collect", str(toy), "--out", str(out), input=logs(rates()))
    assert result.exit_code == 0, result.output
    assert "30 of 30 links measured" in result.output and "0 of 6 node speeds" in result.output
    first = out.read_text()
    assert "measuredAt: '2026-11-30T16:00:00Z'" in first  # the newest log timestamp, not the clock
    assert run("collect", str(toy), "--out", str(out), input=logs(rates())).exit_code == 0
    assert out.read_text() == first
    validated = subprocess.run(
        [sys.executable, "-m", "seifer_iac.cli", "validate", str(toy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert validated.returncode == 0, validated.stderr


def test_collect_from_a_folder_names_rejected_lines(toy, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "toy-dev-link-1-2.log").write_text(logs(rates()))
    (folder / "toy-dev-link-9-9.log").write_text('{"seiferProbe": 1, "kind": "link", "from": "pi-9"}\n')
    result = run("collect", "--from", str(folder), str(toy), "--out", str(toy.parent / "m.yaml"))
    assert result.exit_code == 0, result.output
    assert f'{folder / "toy-dev-link-9-9.log"}:1: rejected: from "pi-9" is not a node' in result.output
    assert "1 lines rejected" in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["--out", "{dir}"], "", "not a regular file"),
        (["--out", "{out}"], "nothing here\n", "no probe result in it"),
        (["--out", "{out}", "--from", "{out}"], None, "not a folder"),
        (["--out", "{out}", "--measured-at", "tuesday"], "", "--measured-at"),
        (["--out", "{dir}/nowhere/m.yaml"], logs(rates()), "there is no folder"),
        (["--out", "{out}", "--measured-at", "9999-12-31T23:59:59-12:00"], "", "--measured-at"),
    ],
)
def test_collect_errors_are_one_line_and_exit_2(toy, tmp_path, args, stdin, words):
    (tmp_path / "out.yaml").write_text("x")
    args = [a.format(dir=tmp_path, out=tmp_path / "out.yaml") for a in args]
    result = run("collect", str(toy), *args, input=stdin)
    assert result.exit_code == 2 and words in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


@pytest.mark.parametrize("source", ["/dev/zero", "yes"])
def test_endless_stdin_ends_in_an_error_not_a_hang(toy, tmp_path, source):
    command = [
        sys.executable,
        "-m",
        "seifer_iac.cli",
        "probe",
        "collect",
        str(toy),
        "--out",
        str(tmp_path / "m"),
    ]
    if source == "yes":
        feeder = subprocess.Popen(["yes", '{"seiferProbe": 1}'], stdout=subprocess.PIPE)
        try:
            done = subprocess.run(command, stdin=feeder.stdout, capture_output=True, text=True, timeout=120)
        finally:
            feeder.kill()
            feeder.wait()
    else:
        with open(source, "rb") as stdin:
            done = subprocess.run(command, stdin=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "more than 64 MiB of logs" in done.stderr and "Traceback" not in done.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_on_stdin(toy, data):
    result = CliRunner().invoke(
        cli, ["probe", "collect", str(toy), "--out", str(toy.parent / "h.yaml")], input=data
    )
    assert result.exit_code == 2, result.output  # nothing in random bytes is a valid probe result
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert len(result.output.splitlines()) <= 22  # at most 20 rejections shown, a summary, the error


def _plan(spec: Path, *args: str):
    return CliRunner().invoke(cli, ["plan", str(spec), *args], catch_exceptions=False)


def test_a_re_measure_is_a_spec_diff_that_plan_diff_shows(toy):
    out = toy.parent / "cluster.measured.yaml"
    assert run("collect", str(toy), "--out", str(out), input=logs(rates())).exit_code == 0
    locked = _plan(toy, "--write-lock")
    assert locked.exit_code == 0, locked.output
    assert _plan(toy, "--check").exit_code == 0
    lock = json.loads(toy.with_name("dev.pipeline.lock.json").read_text())
    first, second = lock["stages"][0]["node"], lock["stages"][1]["node"]
    # a re-measure finds the link between the first two stages' nodes a hundred times slower
    later = logs(rates(slow=(first, second)), stamp="2026-12-01T09:00:00Z")
    assert run("collect", str(toy), "--out", str(out), input=later).exit_code == 0
    diff = _plan(toy, "--diff")
    assert diff.exit_code == 0, diff.output
    moved = [line for line in diff.output.splitlines() if "node " in line and " -> " in line]
    assert moved, diff.output
    assert _plan(toy, "--check").exit_code == 1  # CI sees the stale lock


@pytest.mark.parametrize("local", [False, True])
def test_a_probe_estimated_at_days_is_refused_unless_allowed(toy, tmp_path, local):
    where = ["--local", "--out", str(tmp_path / "m.yaml")] if local else ["--render", str(tmp_path / "p")]
    if local:  # the emulator builds the spec's links: it needs them all
        document = yaml.safe_load(toy.read_text())
        document["cluster"]["bandwidth"] = {"default": "20Mbps"}
        del document["cluster"]["measured"]
        toy.write_text(yaml.safe_dump(document, sort_keys=False))
    args = [str(toy), *where, "--no-speed", "--bytes", str(2**30), "--repeats", "100"]
    refused = run(*args)
    errors = [line for line in refused.output.splitlines() if line.startswith("error:")]
    assert refused.exit_code == 2 and len(errors) == 1, refused.output
    assert "days" in errors[0] and "more than 12 h" in errors[0] and "--allow-long" in errors[0]
    assert not (tmp_path / "p").exists() and not (tmp_path / "m.yaml").exists()
    if not local:  # --local would then need root and hours; the render shows the flag lets it through
        allowed = run(*args, "--allow-long")
        assert allowed.exit_code == 0 and "days" in allowed.output, allowed.output
