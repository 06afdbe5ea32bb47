"""Inputs that would hang or crash the process (a named pipe, a device, an alias bomb, nesting a million
deep, a huge file, thousands of nodes), run in a real `seifer` subprocess with a timeout: a regression
fails the test instead of hanging or killing the test runner."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.bad_inputs import LOCK, PROFILE, SPEC, alias_bomb, base_spec, dump_yaml
from tests.planner.conftest import toy_profile_json

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60


def seifer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from seifer_iac.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def assert_clean_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "Traceback" not in output
    for word in words:
        assert word in output, output[-2000:]
    assert len(result.stderr.splitlines()) <= 60


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / SPEC).write_text(dump_yaml(base_spec()))
    (tmp_path / PROFILE).write_text(toy_profile_json())
    return tmp_path


@pytest.mark.parametrize("command", ["validate", "plan", "down"])
def test_a_named_pipe_as_the_spec_is_refused_without_reading(folder: Path, command: str) -> None:
    fifo = folder / "spec.yaml"
    os.mkfifo(fifo)
    args = [command, str(fifo)] + (["--local"] if command == "down" else [])
    assert_clean_refusal(seifer(*args), "named pipe", str(fifo))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_as_the_spec_is_refused(device: str) -> None:
    assert_clean_refusal(seifer("validate", device), "character device", device)


def test_named_pipes_as_profile_lock_model_and_npy(folder: Path) -> None:
    os.mkfifo(folder / "pipe.json")
    data = base_spec()
    data["model"]["profile"] = "pipe.json"
    (folder / "fifo-profile.yaml").write_text(dump_yaml(data))
    assert_clean_refusal(seifer("validate", str(folder / "fifo-profile.yaml")), "model.profile", "named pipe")
    assert_clean_refusal(seifer("profile", str(folder / "pipe.json")), "named pipe", "pipe.json")
    os.mkfifo(folder / LOCK)
    assert_clean_refusal(seifer("plan", str(folder / SPEC)), "plan lock", "named pipe", LOCK)
    os.mkfifo(folder / "pipe.keras")
    assert_clean_refusal(seifer("profile", str(folder / "pipe.keras")), "named pipe", "pipe.keras")
    os.mkfifo(folder / "x.npy")
    result = seifer("infer", "http://127.0.0.1:9", str(folder / "x.npy"))
    assert_clean_refusal(result, "INPUT", "named pipe")


def test_a_device_as_the_lock(folder: Path) -> None:
    (folder / LOCK).symlink_to("/dev/zero")
    assert_clean_refusal(seifer("plan", str(folder / SPEC), "--check"), "plan lock", "character device")


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bomb-9-levels", alias_bomb(9, 9), "aliases repeat"),
        ("bomb-100-levels", alias_bomb(100, 2), "aliases repeat"),
        ("deep-flow", "a: " + "[" * 1_000_000 + "]" * 1_000_000, "nested more than"),
        (
            "deep-block",
            "".join(f"{' ' * i}- \n" for i in range(3000)) + " " * 3000 + "- x\n",
            "nested more than",
        ),
        ("deep-json", '{"a": ' * 1_000_000 + "1" + "}" * 1_000_000, "nested more than"),
    ],
)
def test_expansion_and_nesting_bombs_are_refused_quickly(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    suffix = ".json" if name.endswith("json") else ".yaml"
    path = tmp_path / f"{name}{suffix}"
    path.write_text(text)
    assert_clean_refusal(seifer("validate", str(path)), words, str(path))


def test_a_deep_json_profile_and_lock(folder: Path) -> None:
    (folder / PROFILE).write_text("[" * 1_000_000 + "]" * 1_000_000)
    assert_clean_refusal(seifer("plan", str(folder / SPEC)), "nested more than", PROFILE)
    (folder / PROFILE).write_text(toy_profile_json())
    (folder / LOCK).write_text('{"a": ' * 200_000 + "1" + "}" * 200_000)
    assert_clean_refusal(seifer("plan", str(folder / SPEC)), "nested more than", LOCK)


def test_an_oversized_spec_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(17 * 2**20)  # sparse: 17 MiB of zero bytes
    assert_clean_refusal(seifer("validate", str(path)), "at most 16,777,216 bytes", str(path))


def test_numbers_beyond_64_bits_in_a_profile_never_reach_the_planner(folder: Path) -> None:
    data = json.loads(toy_profile_json())
    data["blocks"][0]["param_bytes"] = 10**400
    (folder / PROFILE).write_text(json.dumps(data))
    assert_clean_refusal(seifer("plan", str(folder / SPEC)), "blocks[0].param_bytes", "64 bits", PROFILE)


def test_thousands_of_nodes_validate_in_linear_time(folder: Path) -> None:
    """3,000 nodes, each linked only to its neighbour: the reachability check is a BFS over the links
    (it was quadratic: every node against every other). Validation takes seconds, not minutes."""
    data = base_spec()
    n = 3000
    data["cluster"]["nodes"] = [{"name": "gateway", "memory": "2Gi", "schedulable": False}] + [
        {"name": f"n-{i}", "memory": "1Gi"} for i in range(n)
    ]
    chain = ["gateway"] + [f"n-{i}" for i in range(n)]
    data["cluster"]["bandwidth"] = {
        "links": [{"from": a, "to": b, "bandwidth": "10Mbps"} for a, b in itertools.pairwise(chain)]
    }
    path = folder / "many.yaml"
    path.write_text(yaml.safe_dump(data))
    result = seifer("validate", str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3001 nodes" in result.stdout
    del data["cluster"]["bandwidth"]["links"][n // 2]  # the far half is cut off: reported, bounded
    path.write_text(yaml.safe_dump(data))
    assert_clean_refusal(seifer("validate", str(path)), "cannot be reached", "more problems")
