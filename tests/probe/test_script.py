"""probe.sh and the rendered files: phases in order, valid shell, the same bytes for the same spec."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from seifer_iac.probe.jobs import render_probe
from seifer_iac.probe.schedule import schedule
from seifer_iac.probe.script import SCRIPT_NAME, files, script, to_yaml
from seifer_iac.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "stacks" / "dev.pipeline.yaml"


@pytest.fixture(scope="module")
def probe():
    spec = load_spec(DEV)
    return render_probe(spec, None, (), schedule(list(spec.cluster.node_names)), speed=False)


def test_files_run_in_name_order_and_hold_their_phase(probe):
    written = files(probe, "stacks/dev.pipeline.yaml")
    names = [name for name, _ in written]
    assert names[0] == "000-setup.yaml" and names[-1] == SCRIPT_NAME
    yaml_names = names[:-1]
    assert yaml_names == sorted(yaml_names) and len(yaml_names) == 1 + len(probe.rounds)
    for (name, text), jobs in zip(written[1:-1], probe.rounds, strict=True):
        assert name.endswith(".yaml") and list(yaml.safe_load_all(text)) == list(jobs)
    assert "&id" not in "".join(text for _, text in written)  # no YAML aliases


def test_the_script_applies_each_round_then_waits_for_it(probe):
    text = script(probe, "stacks/dev.pipeline.yaml")
    lines = text.splitlines()
    applies = [line for line in lines if line.startswith("apply ")]
    assert applies == ["apply 000-setup.yaml", *(f"apply {n:03d}-round-{n}.yaml" for n in range(1, 11))]
    for n in range(1, 11):
        at = lines.index(f"apply {n:03d}-round-{n}.yaml")
        assert f"job -l seifer.dev/probe-round={n} " in lines[at + 1]
    assert text.index("condition=Ready pod -l seifer.dev/probe=receiver") < text.index("apply 001-round-1")
    assert "ns=seifer-dev" in lines
    assert "seifer probe collect --from $logs stacks/dev.pipeline.yaml" in text


@pytest.mark.skipif(not shutil.which("sh"), reason="no sh")
def test_the_script_is_valid_shell(probe, tmp_path):
    path = tmp_path / SCRIPT_NAME
    path.write_text(script(probe, "a spec with spaces.yaml"))
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True, timeout=10).returncode == 0
    assert "'a spec with spaces.yaml'" in path.read_text()


def test_same_probe_same_bytes(probe):
    assert files(probe, "s.yaml") == files(probe, "s.yaml")
    assert to_yaml([]) == ""
