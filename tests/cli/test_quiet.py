"""TensorFlow's start-up lines (written to descriptor 2 before absl is set up) stay off the terminal;
anything else written there still shows."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from seifer_iac.cli.quiet import is_chatter, native_stderr_filtered
from tests.cli.bad_inputs import PROFILE, SPEC, base_spec, dump_yaml
from tests.planner.conftest import toy_profile_json

ROOT = Path(__file__).resolve().parents[2]
CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796043831.769927   17045 port.cc:153] oneDNN custom operations are on. You may see ...",
    "W0000 00:00:1796043831.769927   17045 cpu_feature_guard.cc:210] This TensorFlow binary is optimized",
]


def test_chatter_is_recognised_and_errors_are_not() -> None:
    assert all(is_chatter(line) for line in CHATTER)
    assert not is_chatter("E0000 00:00:1.0 1 x.cc:1] a real error")
    assert not is_chatter("error: spec.yaml: model.file: ...")


def test_the_filter_drops_chatter_and_replays_the_rest(capfd: pytest.CaptureFixture[str]) -> None:
    lines = [
        "kept before",
        CHATTER[0],
        CHATTER[2],
        "To enable the following instructions: AVX2 FMA, rebuild TensorFlow ...",  # the record's 2nd line
        "E0000 00:00:1.0 1 x.cc:1] a real error",
        "its detail",
        CHATTER[1],
    ]
    with native_stderr_filtered():
        os.write(2, ("\n".join(lines) + "\n").encode())
    assert capfd.readouterr().err == "kept before\nE0000 00:00:1.0 1 x.cc:1] a real error\nits detail\n"


@pytest.mark.slow
def test_an_error_after_tensorflow_loads_is_the_only_output(tmp_path: Path) -> None:
    """A `.keras` file that is a zip but no model: keras (and so TensorFlow) loads, then refuses it."""
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    data = base_spec()
    data["model"] = {"file": "m.keras", "version": "1"}
    (tmp_path / SPEC).write_text(dump_yaml(data))
    (tmp_path / PROFILE).write_text(toy_profile_json())
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", "from seifer_iac.cli.main import main; main()", "plan", str(tmp_path / SPEC)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**env, "SEIFER_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "cannot load model file" in lines[-1]  # keras ran
    assert [line for line in lines[:-1] if not line.startswith("loading ")] == [], lines
